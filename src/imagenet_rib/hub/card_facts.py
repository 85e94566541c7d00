"""What a model card of a fine-tuned run may say, and where each fact comes from.

- The run: ONLY the records of the run the folder holds. Its id is read from the folder's
  ``rib_run.json`` (written by `rib run`) or given explicitly; it must exist in the store and
  agree with the folder's ``rib_config.json`` (model, revision, method, dataset, seed). There
  is no fallback to matching (model, method, dataset, seed): that could publish another
  run's numbers.
- The scores: `scoring.score_records` on the run's records and its model revision's
  pretrained baseline, with paired bootstrap intervals over test images when the store has
  per-image correctness.
- The base model (`base_model_info`): its Hub id and licence where known (the timm presets:
  ``timm/<tag>``, apache-2.0; the Mini-RIB models: this project's licence), else licence
  "other" with a note.
- Datasets: a Hub dataset id only when it is the source the results were computed from (the
  suite's ``sources``, the run's ``source``); any other dataset is named by its registry name.
- Machine-readable forms: ``model-index`` (`huggingface_hub.EvalResult`), and, against a
  benchmark dataset repo given explicitly, ``.eval_results/<task_id>.yaml`` entries whose
  task ids (``ri-<D_i>``, ``degradation-<D_i>``, ``in-task-gain-<D_i>``) the benchmark's
  ``eval.yaml`` (`benchmark_eval_yaml`) declares.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath
from typing import TYPE_CHECKING, Any

from .. import PROJECT_URL
from ..errors import ConfigError
from ..records import RUN_ID_FILE, ResultRecord
from ..scores import PRETRAINED

if TYPE_CHECKING:
    from huggingface_hub import EvalResultEntry

    from ..scoring import ScoreResult
    from ..suites import SuiteConfig

RUN_CONFIG = "rib_config.json"
EVAL_RESULTS_DIR = ".eval_results"
EVALUATION_FRAMEWORK = "imagenet-rib"
PROJECT_LICENSE = "apache-2.0"  # pyproject's Apache-2.0, as a Hub licence id
RIB_CITATION = (
    "@article{hwang2024imagenetrib,\n"
    "  title={ImageNet-RIB Benchmark: Large Pre-Training Datasets Don't Guarantee Robustness "
    "after Fine-Tuning},\n"
    "  author={Hwang, Jaedong and Cheung, Brian and Hong, Zhang-Wei and Boopathy, Akhilan and "
    "Agrawal, Pulkit and Fiete, Ila},\n"
    "  journal={arXiv preprint arXiv:2410.21582},\n  year={2024}\n}"
)
#: Keys of a run config whose values are never published (defence in depth).
_SECRET_WORDS = ("token", "secret", "password", "api_key")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_ABS_PATH = re.compile(r"(?<![\w:/.~-])(?:~|[A-Za-z]:[\\/]|/)[^\s'\"<>|]*")
#: (metric_type, RIBScores per-set attribute, task-id prefix, display name)
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


def redact_paths(value: Any) -> Any:
    """A copy of a JSON-like value with absolute local paths replaced by ``<local>/<name>``."""
    if isinstance(value, str):
        # PureWindowsPath splits on / and \, so a Windows path (C:\data\x) is named x on any OS
        return _ABS_PATH.sub(lambda m: "<local>/" + PureWindowsPath(m.group(0)).name, value)
    if isinstance(value, Mapping):
        return {k: redact_paths(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_paths(v) for v in value]
    return value


def redact(value: Any) -> Any:
    """A publishable copy of a JSON-like value: no credential-like keys, no local paths."""
    if isinstance(value, Mapping):
        return {
            k: redact(v)
            for k, v in value.items()
            if not any(w in str(k).lower() for w in _SECRET_WORDS)
        }
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    return redact_paths(value)


def read_run_config(run_dir: str | Path) -> dict[str, Any]:
    """The resolved config a fine-tuning run saved in ``<run_dir>/rib_config.json``."""
    path = Path(run_dir) / RUN_CONFIG
    if not path.is_file():
        raise ConfigError(
            f"{path} does not exist: {run_dir} is not a finished run folder (`rib finetune` or "
            "`rib run` writes rib_config.json next to the weights)"
        )
    from ..run_folder import read_config

    return read_config(run_dir)


def read_run_id(run_dir: str | Path) -> str | None:
    """The run id recorded in ``<run_dir>/rib_run.json``, or None if the folder has none."""
    path = Path(run_dir) / RUN_ID_FILE
    if not path.is_file():
        return None
    try:
        return str(json.loads(path.read_text())["run_id"])
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise ConfigError(f"{path} is unreadable ({err}); pass the run id with --run-id") from err


@dataclass
class RunRecords:
    """The records of one run (one variant) and its model revision's pretrained baseline."""

    run: list[ResultRecord]
    baseline: list[ResultRecord]
    run_id: str
    variant: str

    @property
    def first(self) -> ResultRecord:
        return self.run[0]


def _config_method(rec: ResultRecord) -> str:
    try:
        return str(json.loads(rec.method_config or "{}").get("method") or rec.method)
    except (json.JSONDecodeError, AttributeError):
        return rec.method


def _check_folder(rec: ResultRecord, cfg: Mapping[str, Any], run_dir: Path) -> None:
    """The folder's rib_config.json must describe the run whose records the card uses."""
    model = cfg.get("model") if isinstance(cfg.get("model"), Mapping) else {}
    expected = {
        "model": model.get("name"),
        "model revision": model.get("revision"),
        "method": cfg.get("method"),
        "fine-tuning dataset": cfg.get("dataset"),
        "seed": (cfg.get("train") or {}).get("seed"),
    }
    found = {
        "model": rec.model,
        "model revision": rec.model_revision,
        "method": _config_method(rec),
        "fine-tuning dataset": rec.finetune_dataset,
        "seed": rec.seed,
    }
    wrong = [f"{k} {found[k]!r} (folder: {v!r})" for k, v in expected.items() if v != found[k]]
    if wrong:
        raise ConfigError(
            f"run {rec.run_id} in the store does not match the run folder {run_dir}: "
            f"{'; '.join(wrong)}; pass the store and run id of this folder's run"
        )


def select_run(
    records: Sequence[ResultRecord],
    run_dir: str | Path,
    *,
    run_id: str | None = None,
    variant: str | None = None,
) -> RunRecords:
    """The records of the run held by `run_dir` (see the module docstring) and its baseline."""
    run_dir = Path(run_dir)
    cfg = read_run_config(run_dir)
    recorded = read_run_id(run_dir)
    if run_id and recorded and run_id != recorded:
        raise ConfigError(
            f"--run-id {run_id} differs from the run id {recorded} recorded in "
            f"{run_dir / RUN_ID_FILE}; the card would publish another run's numbers"
        )
    run_id = run_id or recorded
    if not run_id:
        raise ConfigError(
            f"{run_dir} records no run id ({RUN_ID_FILE} is missing: the run was not made by "
            "`rib run`); pass the id of its records with --run-id"
        )
    rows = [r for r in records if r.run_id == run_id]
    if not rows:
        raise ConfigError(
            f"the results store has no records of run {run_id!r}; evaluate it first "
            "(`rib run`) or pass the store that holds it"
        )
    variants = sorted({r.variant for r in rows})
    if variant is None:
        if len(variants) > 1:
            raise ConfigError(f"run {run_id} has variants {variants}; pick one with --variant")
        variant = variants[0]
    elif variant not in variants:
        raise ConfigError(f"run {run_id} has no variant {variant!r}; it has {variants}")
    rows = [r for r in rows if r.variant == variant]
    _check_folder(rows[0], cfg, run_dir)
    first = rows[0]
    baseline = [
        r
        for r in records
        if r.method == PRETRAINED
        and (r.model, r.model_revision, r.suite) == (first.model, first.model_revision, first.suite)
    ]
    if not baseline:
        raise ConfigError(
            f"no pretrained baseline of {first.model!r} (revision {first.model_revision!r}) in "
            f"the store; `rib run` evaluates it once per model"
        )
    return RunRecords(rows, baseline, run_id, variant)


@dataclass(frozen=True)
class BaseModel:
    """The pretrained model a run started from, as a card states it."""

    name: str
    hub_id: str | None
    license: str
    note: str


def _is_hub_id(value: str | None) -> bool:
    return bool(value) and bool(_HUB_ID.match(value)) and not Path(value).exists()


def base_model_info(name: str) -> BaseModel:
    """Hub id and licence of a pretrained model name (see the module docstring)."""
    from ..models.mini import SOURCES
    from ..models.presets import TORCHVISION_PRESETS, VIT_PRESETS

    if name in SOURCES:
        return BaseModel(
            name,
            None,
            PROJECT_LICENSE,
            f"a Mini-RIB model trained by imagenet-rib ({PROJECT_URL}), under the project's licence",
        )
    if name in VIT_PRESETS:
        hub = f"timm/{VIT_PRESETS[name]}"
        return BaseModel(name, hub, "apache-2.0", f"the licence of {hub} (its Hub model card)")
    if name in TORCHVISION_PRESETS:
        weights = TORCHVISION_PRESETS[name][1]
        return BaseModel(
            name,
            None,
            "other",
            f"torchvision weights {weights}: see torchvision's licence and the ImageNet terms",
        )
    if _is_hub_id(name):
        return BaseModel(
            name,
            name,
            "other",
            f"the licence of {name} is not known to imagenet-rib: check its model card and "
            "pass --license",
        )
    return BaseModel(
        redact_paths(name), None, "other", "a local checkpoint: state its licence with --license"
    )


def dataset_hub_ids(suite: SuiteConfig, run_config: Mapping[str, Any]) -> dict[str, str]:
    """``{dataset: Hub id}`` for the datasets whose results were computed from a Hub dataset."""
    sources = dict(suite.sources)
    if run_config.get("source"):
        sources[str(run_config.get("dataset"))] = str(run_config["source"])
    return {d: src for d, src in sources.items() if d in suite.eval_datasets and _is_hub_id(src)}


def run_scores(
    rows: RunRecords,
    suite: SuiteConfig,
    correct: Any = None,
    *,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> ScoreResult:
    """`scoring.score_records` of the run's fine-tuning set against its baseline."""
    from ..scoring import score_records

    table = score_records(
        [*rows.run, *rows.baseline],
        suite,
        correct=correct,
        finetune_sets=[rows.first.finetune_dataset],
        part=rows.first.eval_part,
        n_boot=n_boot,
        confidence=confidence,
        seed=seed,
    )
    (result,) = table.results
    return result


def score_values(result: ScoreResult) -> list[tuple[str, str, str, float, Any]]:
    """(metric_type, task id, display name, value, interval or None) of the run's finite scores."""
    ft = result.scores.finetune_sets[0]
    out = []
    for metric, attr, prefix, name in SCORE_METRICS:
        value = getattr(result.scores, attr).get(ft)
        if value is not None and value == value:  # not NaN
            iv = result.interval(attr, ft, kind="images")
            out.append((metric, f"{prefix}-{ft}", name, round(float(value), 4), iv))
    return out


def eval_result_entries(
    rows: RunRecords,
    result: ScoreResult,
    benchmark: str,
    dataset_revision: str | None = None,
) -> list[EvalResultEntry]:
    """``.eval_results`` entries (one per RIB score of the run) for the benchmark dataset."""
    from huggingface_hub import EvalResultEntry

    from ..formatting import fmt_interval

    r = rows.first
    notes = (
        f"model={redact_paths(r.model)}; method={r.method}"
        + (f" [{rows.variant}]" if rows.variant else "")
        + f"; finetune_dataset={r.finetune_dataset}; split={r.split_rule}"
        f"(seed={r.split_seed}, test_fraction={r.test_fraction}); seed={r.seed}; run={rows.run_id}"
    )
    entries = []
    for _, task_id, _, value, iv in score_values(result):
        ci = (
            ""
            if iv is None
            else f"; 95% CI (bootstrap over images) {fmt_interval(iv.low, iv.high)}"
        )
        entries.append(
            EvalResultEntry(
                dataset_id=benchmark,
                task_id=task_id,
                value=value,
                dataset_revision=dataset_revision,
                date=r.time or None,
                notes=notes + ci,
                source_url=PROJECT_URL,
                source_name="imagenet-rib",
            )
        )
    return entries


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
    suite: SuiteConfig, *, name: str, description: str | None = None, split: str = "test"
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
            "(points); "
            + (
                "degradation-<D>: accuracy change on the pretraining reference; "
                if suite.reference
                else ""
            )
            + f"in-task-gain-<D>: accuracy change on D's held-out part. Computed with {PROJECT_URL}."
        ),
        "evaluation_framework": EVALUATION_FRAMEWORK,
        "tasks": tasks,
    }
    return yaml.safe_dump(doc, sort_keys=False)
