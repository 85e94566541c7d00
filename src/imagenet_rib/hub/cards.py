"""Model cards of fine-tuned runs, with the scores as metadata and as ``.eval_results`` files.

Three machine-readable forms of the same numbers, all derived from the run's `ResultRecord` rows:

- ``model-index`` in the card's YAML header, through `huggingface_hub.ModelCardData` /
  `EvalResult`: one result per evaluation dataset (task image-classification, dataset = the
  dataset's Hub id under a configurable namespace, metric top-1 accuracy in percent) plus the
  RIB scores of the run against the benchmark dataset (RI, pretraining-set degradation,
  in-task gain, in accuracy points);
- ``.eval_results/<task_id>.yaml`` files in the model repo: the Hub's leaderboard format
  (`huggingface_hub.EvalResultEntry`, serialised by `eval_result_entries_to_yaml`); each
  entry points at the benchmark dataset repo and one of its task ids;
- ``eval.yaml`` at the root of the benchmark dataset repo (`benchmark_eval_yaml`): name,
  description, ``evaluation_framework`` and the ``tasks`` (``id``, ``config``, ``split``) that
  the ``.eval_results`` entries refer to, so the Hub aggregates them into a leaderboard.

Task ids (per fine-tuning set D_i of the suite): ``ri-<D_i>``, ``degradation-<D_i>``,
``in-task-gain-<D_i>``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ..report._scores import ScoresView, compute, view
from ..report.tables import BASELINE_METHOD, SuiteInfo

if TYPE_CHECKING:
    import pandas as pd
    from huggingface_hub import EvalResultEntry

NAMESPACE_ENV = "IMAGENET_RIB_HUB_NAMESPACE"
DEFAULT_NAMESPACE = "imagenet-rib"
RUN_CONFIG = "rib_config.json"
EVAL_RESULTS_DIR = ".eval_results"
EVALUATION_FRAMEWORK = "imagenet-rib"
TEMPLATE_ENV = "IMAGENET_RIB_HUB_CARDS"
RIB_CITATION = (
    "@article{hwang2024imagenetrib,\n"
    "  title={ImageNet-RIB Benchmark: Large Pre-Training Datasets Don't Guarantee Robustness "
    "after Fine-Tuning},\n"
    "  author={Hwang, Jaedong and Cheung, Brian and Hong, Zhang-Wei and Boopathy, Akhilan and "
    "Agrawal, Pulkit and Fiete, Ila},\n"
    "  journal={arXiv preprint arXiv:2410.21582},\n  year={2024}\n}"
)
#: Keys of a run config whose values are never written to a card (defence in depth).
_SECRET_WORDS = ("token", "secret", "password", "api_key")
#: (metric_type, ScoresView attribute, task-id prefix, display name)
SCORE_METRICS = (
    ("robustness_improvement", "ri", "ri", "RI (points)"),
    (
        "pretraining_degradation",
        "reference_degradation",
        "degradation",
        "pretraining-set degradation (points)",
    ),
    ("in_task_gain", "in_task_gain", "in-task-gain", "in-task gain (points)"),
)


def hub_namespace(namespace: str | None = None) -> str:
    """Namespace of the benchmark's Hub datasets: argument, ``$IMAGENET_RIB_HUB_NAMESPACE``, default."""
    return namespace or os.environ.get(NAMESPACE_ENV) or DEFAULT_NAMESPACE


def benchmark_repo_id(suite_name: str, namespace: str | None = None) -> str:
    return f"{hub_namespace(namespace)}/{suite_name}"


def redact(value: Any) -> Any:
    """A copy of a JSON-like value without keys that look like credentials."""
    if isinstance(value, Mapping):
        return {
            k: redact(v)
            for k, v in value.items()
            if not any(w in str(k).lower() for w in _SECRET_WORDS)
        }
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    return value


def read_run_config(run_dir: str | Path) -> dict[str, Any]:
    """The resolved config a fine-tuning run saved in ``<run_dir>/rib_config.json``."""
    path = Path(run_dir) / RUN_CONFIG
    if not path.is_file():
        raise ConfigError(
            f"{path} does not exist: {run_dir} is not a finished run folder (`rib finetune` or "
            "`rib run` writes rib_config.json next to the weights)"
        )
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path} is not valid JSON ({err}); re-run the fine-tuning") from err


def _get(cfg: Mapping[str, Any], *paths: str) -> Any:
    for p in paths:
        value: Any = cfg
        for part in p.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        if value is not None:
            return value
    return None


@dataclass
class RunRows:
    """The records of one evaluated run (one variant) and its model's pretrained baseline."""

    run: pd.DataFrame
    baseline: pd.DataFrame
    run_id: str
    variant: str

    @property
    def first(self) -> Any:
        return self.run.iloc[0]


def select_run(
    df: pd.DataFrame,
    run_config: Mapping[str, Any] | None = None,
    *,
    run_id: str | None = None,
    variant: str | None = None,
    run_dir: str | Path | None = None,
) -> RunRows:
    """Find a run's rows in a results table: by `run_id` (argument, ``run_config["run_id"]``, or
    the run folder's name, which `rib run` sets to the run id), else by (model, method,
    fine-tuning dataset, seed) from the run config."""
    cfg = run_config or {}
    run_id = run_id or _get(cfg, "run_id")
    if not run_id and run_dir is not None and Path(run_dir).name in set(df["run_id"]):
        run_id = Path(run_dir).name
    if run_id:
        rows = df[df["run_id"] == run_id]
        if rows.empty:
            raise ConfigError(
                f"the results store has no records of run {run_id!r}; evaluate it "
                "first (`rib run`) or pass the store that holds it"
            )
    else:
        model, method = _get(cfg, "model.name", "model_name", "model"), _get(cfg, "method")
        dataset = _get(cfg, "dataset", "finetune_dataset")
        if not (model and method and dataset):
            raise ConfigError(
                "the run config names no model/method/dataset; pass the run id "
                "(--run-id) to pick the run's records"
            )
        rows = df[
            (df["model"] == model) & (df["method"] == method) & (df["finetune_dataset"] == dataset)
        ]
        seed = _get(cfg, "train.seed", "seed")
        if seed is not None:
            rows = rows[rows["seed"] == int(seed)]
        ids = sorted(set(rows["run_id"]))
        if not ids:
            raise ConfigError(
                f"no records of model={model!r} method={method!r} dataset="
                f"{dataset!r} in the store; evaluate the run first (`rib run`)"
            )
        if len(ids) > 1:
            raise ConfigError(
                f"several runs match model={model!r} method={method!r} dataset="
                f"{dataset!r}: {ids}; pass the one you mean with --run-id"
            )
        run_id = ids[0]
    variants = sorted(set(rows["variant"]))
    if variant is None:
        if len(variants) > 1:
            raise ConfigError(f"run {run_id} has variants {variants}; pick one with --variant")
        variant = variants[0]
    elif variant not in variants:
        raise ConfigError(f"run {run_id} has no variant {variant!r}; it has {variants}")
    rows = rows[rows["variant"] == variant]
    model = rows["model"].iloc[0]
    baseline = df[(df["model"] == model) & (df["method"] == BASELINE_METHOD)]
    if baseline.empty:
        raise ConfigError(
            f"no pretrained baseline of {model!r} in the store (method "
            f"{BASELINE_METHOD!r}); `rib run` evaluates it once per model"
        )
    return RunRows(rows, baseline, str(run_id), str(variant))


def run_scores(rows: RunRows, suite: SuiteInfo) -> ScoresView:
    """`scores.compute_rib` restricted to this run's fine-tuning set."""
    part = rows.first["eval_part"]
    pre = rows.baseline[rows.baseline["eval_part"] == part]
    acc_pre = {str(k): float(v) for k, v in pre.groupby("eval_dataset")["accuracy"].mean().items()}
    post = rows.run[rows.run["eval_part"] == part]
    acc_post = {
        str(k): float(v) for k, v in post.groupby("eval_dataset")["accuracy"].mean().items()
    }
    ft = str(rows.first["finetune_dataset"])
    one = SuiteInfo(suite.datasets, suite.reference)
    return view(compute(acc_pre, {ft: acc_post}, one))


def _spec_fields(name: str) -> dict[str, Any]:
    try:
        from ..data.specs import get_dataset_spec

        return get_dataset_spec(name).card_fields()
    except Exception:  # noqa: BLE001 - a user dataset outside the registry
        return {}


def _score_values(scores: ScoresView, ft: str) -> list[tuple[str, str, str, str, float]]:
    """(metric_type, task prefix, display name, task id, value) of the run's finite scores."""
    out = []
    for metric, attr, prefix, name in SCORE_METRICS:
        value = getattr(scores, attr).get(ft)
        if value is not None and value == value:  # not NaN
            out.append((metric, prefix, name, f"{prefix}-{ft}", round(float(value), 4)))
    return out


def eval_result_entries(
    rows: RunRows,
    suite: SuiteInfo,
    scores: ScoresView,
    benchmark: str,
    dataset_revision: str | None = None,
) -> list[EvalResultEntry]:
    """``.eval_results`` entries (one per RIB score of the run) for the benchmark dataset."""
    from huggingface_hub import EvalResultEntry

    r = rows.first
    notes = (
        f"model={r['model']}; method={r['method']}"
        + (f" [{rows.variant}]" if rows.variant else "")
        + f"; finetune_dataset={r['finetune_dataset']}; split={r['split_rule']}"
        f"(seed={r['split_seed']}, test_fraction={r['test_fraction']}); seed={r['seed']}"
    )
    return [
        EvalResultEntry(
            dataset_id=benchmark,
            task_id=task_id,
            value=value,
            dataset_revision=dataset_revision,
            date=str(r["time"]) or None,
            notes=notes,
        )
        for _, _, _, task_id, value in _score_values(scores, str(r["finetune_dataset"]))
    ]


def eval_results_files(entries: Sequence[EvalResultEntry]) -> dict[str, str]:
    """``{".eval_results/<task_id>.yaml": yaml text}``, one file per (benchmark, task)."""
    import yaml
    from huggingface_hub import eval_result_entries_to_yaml

    return {
        f"{EVAL_RESULTS_DIR}/{e.task_id}.yaml": yaml.safe_dump(
            eval_result_entries_to_yaml([e]), sort_keys=False
        )
        for e in entries
    }


def benchmark_eval_yaml(
    suite: SuiteInfo, *, name: str, description: str | None = None, split: str = "test"
) -> str:
    """``eval.yaml`` of the benchmark dataset repo: the tasks ``.eval_results`` entries cite."""
    import yaml

    tasks = []
    for d in suite.datasets:
        for _, _, prefix, _ in SCORE_METRICS:
            if prefix == "degradation" and not suite.reference:
                continue
            tasks.append({"id": f"{prefix}-{d}", "config": d, "split": split})
    doc = {
        "name": name,
        "description": description
        or (
            "ImageNet-RIB robustness inheritance: fine-tune a pretrained classifier on one dataset "
            f"of the suite ({', '.join(suite.datasets)}) and evaluate it on all the others"
            + (f" and on the pretraining reference {suite.reference}" if suite.reference else "")
            + ". ri-<D>: mean accuracy change on the other datasets after fine-tuning on D "
            "(points); degradation-<D>: accuracy change on the pretraining reference; "
            "in-task-gain-<D>: accuracy change on D's held-out part."
        ),
        "evaluation_framework": EVALUATION_FRAMEWORK,
        "tasks": tasks,
    }
    return yaml.safe_dump(doc, sort_keys=False)
