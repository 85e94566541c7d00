"""`build_model_card`: the README of a fine-tuned run, rendered from ``hub_cards/model_card.md``."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..paths import card_template
from ..report._scores import ScoresView
from ..report.tables import SuiteInfo, fmt, markdown_table, resolve_suite
from .cards import (
    RIB_CITATION,
    SCORE_METRICS,
    RunRows,
    _get,
    _score_values,
    _spec_fields,
    benchmark_repo_id,
    eval_result_entries,
    eval_results_files,
    hub_namespace,
    redact,
    run_scores,
    select_run,
)

if TYPE_CHECKING:
    import pandas as pd
    from huggingface_hub import EvalResult, ModelCard

TEMPLATE_NAME = "model_card.md"


def template_path() -> Path:
    """``hub_cards/model_card.md`` (see `paths.card_template`)."""
    return card_template(TEMPLATE_NAME)


@dataclass
class RunCard:
    """A model card with the files that go next to it in the model repo."""

    card: ModelCard
    eval_results: dict[str, str]  # {".eval_results/<task>.yaml": text}
    rows: RunRows
    suite: SuiteInfo
    scores: ScoresView
    benchmark: str
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "card": str(self.card),
            "eval_results": self.eval_results,
            "run_id": self.rows.run_id,
            "variant": self.rows.variant,
            "benchmark": self.benchmark,
            "suite": self.suite.to_dict(),
            "scores": self.scores.to_dict(),
        }


def _model_index(
    rows: RunRows,
    suite: SuiteInfo,
    scores: ScoresView,
    namespace: str,
    benchmark: str,
    revisions: Mapping[str, str],
) -> list[EvalResult]:
    from huggingface_hub import EvalResult

    results = []
    order = [*suite.datasets, *([suite.reference] if suite.reference else [])]
    run = rows.run.set_index("eval_dataset")
    for d in [d for d in order if d in run.index] + [d for d in run.index if d not in order]:
        r = run.loc[d]
        results.append(
            EvalResult(
                task_type="image-classification",
                task_name="Image Classification",
                dataset_type=f"{namespace}/{d}",
                dataset_name=_spec_fields(d).get("title") or d,
                dataset_split=str(r["eval_part"]),
                dataset_revision=revisions.get(d),
                metric_type="accuracy",
                metric_name="Top-1 accuracy (%)",
                metric_value=round(float(r["accuracy"]), 4),
                metric_config=str(r["protocol"]),
            )
        )
    ft = str(rows.first["finetune_dataset"])
    for metric, _, name, _, value in _score_values(scores, ft):
        results.append(
            EvalResult(
                task_type="image-classification",
                task_name="Image Classification",
                dataset_type=benchmark,
                dataset_name=f"ImageNet-RIB ({rows.first['suite']})",
                dataset_config=ft,
                dataset_split=str(rows.first["eval_part"]),
                dataset_revision=revisions.get(benchmark),
                metric_type=metric,
                metric_name=name,
                metric_value=value,
            )
        )
    return results


def _results_table(rows: RunRows, suite: SuiteInfo) -> str:
    order = [*suite.datasets, *([suite.reference] if suite.reference else [])]
    part = rows.first["eval_part"]
    post = rows.run.set_index("eval_dataset")["accuracy"]
    base = rows.baseline[rows.baseline["eval_part"] == part]
    pre = base.groupby("eval_dataset")["accuracy"].mean()
    ft = rows.first["finetune_dataset"]
    table = []
    for d in [d for d in order if d in post.index or d in pre.index]:
        a, b = pre.get(d), post.get(d)
        role = (
            " (fine-tuning set)"
            if d == ft
            else " (pretraining reference)"
            if d == suite.reference
            else ""
        )
        table.append(
            [
                f"{d}{role}",
                fmt(a),
                fmt(b),
                fmt(None if a is None or b is None else b - a, signed=True),
            ]
        )
    return markdown_table(["dataset", "A_pre", "A_post", "dA"], table)


def _scores_table(scores: ScoresView, ft: str) -> str:
    values = {name: v for _, _, name, _, v in _score_values(scores, ft)}
    return markdown_table(
        ["score", "value"],
        [[name, fmt(values.get(name), signed=True)] for *_, name in SCORE_METRICS],
    )


def build_model_card(
    records: pd.DataFrame,
    run_config: Mapping[str, Any] | None = None,
    *,
    run_id: str | None = None,
    variant: str | None = None,
    run_dir: str | Path | None = None,
    repo_id: str | None = None,
    namespace: str | None = None,
    benchmark: str | None = None,
    suite: Sequence[str] | None = None,
    reference: str | None = None,
    base_model: str | None = None,
    dataset_revisions: Mapping[str, str] | None = None,
    license: str | None = None,  # noqa: A002 - the card metadata key
    limitations: Sequence[str] = (),
    template: str | Path | None = None,
) -> RunCard:
    """The model card (+ ``.eval_results`` files) of one fine-tuned run.

    Args:
        records: results table (``ResultStore.to_dataframe()``) holding the run's rows and its
            model's pretrained baseline rows.
        run_config: the run's ``rib_config.json`` (`read_run_config`); selects the run's rows
            when `run_id` is not given.
        repo_id: the model repo (names the model in ``model-index``).
        namespace: Hub namespace of the benchmark's datasets (`hub_namespace`).
        benchmark: benchmark dataset repo (default ``<namespace>/<suite name>``).
        base_model: Hub id of the pretrained model, when the run config's model name is not one.
        dataset_revisions: ``{dataset or benchmark repo: revision}``; the run config's
            ``dataset_revisions`` / ``dataset_revision`` are used too.
    """
    from huggingface_hub import ModelCard, ModelCardData

    cfg = redact(dict(run_config or {}))
    rows = select_run(records, cfg, run_id=run_id, variant=variant, run_dir=run_dir)
    r = rows.first
    info = resolve_suite(records, suite, reference)
    ns = hub_namespace(namespace)
    bench = benchmark or benchmark_repo_id(str(r["suite"]), ns)
    ft = str(r["finetune_dataset"])
    revisions = dict(_get(cfg, "dataset_revisions") or {})
    if _get(cfg, "dataset_revision"):
        revisions.setdefault(ft, str(_get(cfg, "dataset_revision")))
    revisions.update(dataset_revisions or {})
    scores = run_scores(rows, info)
    model = str(r["model"])
    base = base_model or _get(cfg, "base_model", "model_id", "hub_id")
    if base is None and "/" in model and not Path(model).exists():
        base = model
    model_name = (repo_id or f"{model}-{r['method']}-{ft}").split("/")[-1]
    data = ModelCardData(
        model_name=model_name,
        license=license or _get(cfg, "license"),
        library_name="transformers",
        pipeline_tag="image-classification",
        base_model=base,
        tags=["image-classification", "imagenet-rib", "robustness", f"rib-method-{r['method']}"],
        datasets=[
            f"{ns}/{d}" for d in [*info.datasets, *([info.reference] if info.reference else [])]
        ],
        eval_results=_model_index(rows, info, scores, ns, bench, revisions),
    )
    datasets = []
    protocols = rows.run.set_index("eval_dataset")["protocol"]
    for d in [*info.datasets, *([info.reference] if info.reference else [])]:
        spec = _spec_fields(d)
        role = (
            "fine-tuning set" if d == ft else "pretraining reference" if d == info.reference else ""
        )
        datasets.append(
            {
                "name": d,
                "role": role,
                "hub_id": f"{ns}/{d}",
                "revision": f"`{revisions[d]}`" if d in revisions else "not recorded",
                "protocol": protocols.get(d, "not evaluated"),
                "licence": spec.get("licence") or "see the dataset card",
            }
        )
    objectnet = sorted({p.split("/", 1)[1] for p in protocols if str(p).startswith("objectnet/")})
    kwargs = dict(
        title=f"{model} fine-tuned on {ft} with {r['method']}"
        + (f" ({rows.variant})" if rows.variant else ""),
        summary=(
            f"`{model}` fine-tuned on `{ft}` with the `{r['method']}` method, evaluated on the "
            f"`{r['suite']}` suite. Robustness improvement RI = "
            f"{fmt(scores.ri.get(ft), signed=True)} points"
            + (
                f"; pretraining-set degradation {fmt(scores.reference_degradation.get(ft), signed=True)} points"
                if info.reference
                else ""
            )
            + "."
        ),
        library_version=r["library_version"] or __version__,
        base_model=base or model,
        model_revision=r["model_revision"] or "not recorded",
        method=r["method"],
        variant=rows.variant,
        finetune_dataset=ft,
        seed=r["seed"],
        run_id=rows.run_id,
        method_config=json.dumps(redact(_method_config(cfg, r)), indent=2, sort_keys=True),
        train_config=json.dumps(
            redact(_get(cfg, "train", "train_config") or {}), indent=2, sort_keys=True
        ),
        datasets=datasets,
        label_space=r["label_space"],
        objectnet_rule=", ".join(objectnet) or "not applicable (no ObjectNet-style dataset)",
        split_rule=r["split_rule"],
        split_seed=r["split_seed"],
        test_fraction=r["test_fraction"],
        results_table=_results_table(rows, info),
        scores_table=_scores_table(scores, ft),
        limitations=list(limitations),
        citation=RIB_CITATION,
    )
    card = ModelCard.from_template(data, template_path=str(template or template_path()), **kwargs)
    entries = eval_result_entries(rows, info, scores, bench, revisions.get(bench))
    return RunCard(card, eval_results_files(entries), rows, info, scores, bench)


def _method_config(cfg: Mapping[str, Any], r: Any) -> Any:
    value = _get(cfg, "method_config")
    if value is None:
        try:
            value = json.loads(r["method_config"] or "{}")
        except json.JSONDecodeError:
            value = r["method_config"]
    return value
