"""`build_model_card`: the README of a fine-tuned run, rendered from ``hub_cards/model_card.md``
with the facts `card_facts` allows (the run's own records, existing Hub ids, known licences)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import PROJECT_URL, __version__
from ..formatting import MISSING, fmt, fmt_interval, markdown_table
from ..paths import card_template
from .card_facts import (
    RIB_CITATION,
    BaseModel,
    RunRecords,
    base_model_info,
    dataset_hub_ids,
    eval_result_entries,
    eval_results_files,
    read_run_config,
    redact,
    redact_paths,
    run_scores,
    score_values,
    select_run,
)

if TYPE_CHECKING:
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    from ..scoring import ScoreResult
    from ..suites import SuiteConfig

TEMPLATE_NAME = "model_card.md"


def template_path() -> Path:
    """``hub_cards/model_card.md`` (see `paths.card_template`)."""
    return card_template(TEMPLATE_NAME)


@dataclass
class RunCard:
    """A model card with the files that go next to it in the model repo."""

    card: ModelCard
    eval_results: dict[str, str]  # {".eval_results/<task>.yaml": text}; empty without benchmark
    rows: RunRecords
    suite: SuiteConfig
    scores: ScoreResult
    base: BaseModel
    benchmark: str | None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "card": str(self.card),
            "eval_results": self.eval_results,
            "run_id": self.rows.run_id,
            "variant": self.rows.variant,
            "benchmark": self.benchmark,
            "suite": self.suite.name,
            "scores": self.scores.to_dict(detail=True),
        }


def _title(d: str) -> str:
    try:
        from ..data.specs import get_dataset_spec

        return get_dataset_spec(d).title or d
    except Exception:  # noqa: BLE001 - a dataset this process has not registered
        return d


def _licence(d: str) -> str:
    try:
        from ..data.specs import get_dataset_spec

        return get_dataset_spec(d).licence or "see the dataset card"
    except Exception:  # noqa: BLE001
        return "see the dataset's own terms"


def _model_index(
    rows: RunRecords,
    result: ScoreResult,
    suite: SuiteConfig,
    hub_ids: Mapping[str, str],
    benchmark: str | None,
    revisions: Mapping[str, str],
) -> list[EvalResult]:
    """One accuracy per evaluation set, then the run's RIB scores (against the benchmark repo
    if given, else named by the suite's registry name)."""
    from huggingface_hub import EvalResult

    run = {r.eval_dataset: r for r in rows.run}
    results = []
    for d in [d for d in suite.eval_datasets if d in run]:
        r = run[d]
        results.append(
            EvalResult(
                task_type="image-classification",
                task_name="Image Classification",
                dataset_type=hub_ids.get(d, d),
                dataset_name=_title(d),
                dataset_split=r.eval_part,
                dataset_revision=revisions.get(d) if d in hub_ids else None,
                metric_type="accuracy",
                metric_name="Top-1 accuracy (%)",
                metric_value=round(r.accuracy, 4),
                metric_config=r.protocol,
            )
        )
    for metric, _, name, value, _ in score_values(result):
        results.append(
            EvalResult(
                task_type="image-classification",
                task_name="Image Classification",
                dataset_type=benchmark or suite.name,
                dataset_name=f"ImageNet-RIB ({suite.name})",
                dataset_config=rows.first.finetune_dataset,
                dataset_split=rows.first.eval_part,
                dataset_revision=revisions.get(benchmark) if benchmark else None,
                metric_type=metric,
                metric_name=name,
                metric_value=value,
            )
        )
    return results


def _dataset_rows(
    suite: SuiteConfig,
    ft: str,
    hub_ids: Mapping[str, str],
    revisions: Mapping[str, str],
    protocols: Mapping[str, str],
) -> list[dict[str, str]]:
    """The card's dataset table: role, Hub source (only where scored from one), revision,
    protocol and licence of every evaluation set."""
    rows = []
    for d in suite.eval_datasets:
        role = {ft: "fine-tuning set", suite.reference: "pretraining reference"}.get(d, "")
        hub = hub_ids.get(d)
        rows.append(
            {
                "name": d,
                "role": role,
                "hub_id": f"[`{hub}`](https://huggingface.co/datasets/{hub})"
                if hub
                else "none (not scored from a Hub dataset)",
                "revision": f"`{revisions[d]}`" if d in revisions else "not recorded",
                "protocol": protocols.get(d, "not evaluated"),
                "licence": _licence(d),
            }
        )
    return rows


def _results_table(result: ScoreResult) -> str:
    s, iv = result.scores, result.image_intervals
    ft = s.finetune_sets[0]
    rows = []
    for b, d in enumerate(s.columns):
        role = (
            " (fine-tuning set)"
            if d == ft
            else " (pretraining reference)"
            if d == s.reference
            else ""
        )
        ci = MISSING if iv is None else fmt_interval(iv.delta_low[0, b], iv.delta_high[0, b], 1)
        rows.append(
            [
                f"{d}{role}",
                fmt(s.acc_pre[b], 1),
                fmt(s.acc_post[0, b], 1),
                fmt(s.delta[0, b], 1, signed=True),
                ci,
            ]
        )
    return markdown_table(["dataset", "A_pre", "A_post", "dA", "dA 95% CI"], rows)


def _scores_table(result: ScoreResult) -> str:
    rows = [
        [name, fmt(value, 2, signed=True), MISSING if iv is None else fmt_interval(iv.low, iv.high)]
        for _, _, name, value, iv in score_values(result)
    ]
    return markdown_table(["score", "value", "95% CI"], rows)


def build_model_card(
    records: Any,
    run_dir: str | Path,
    *,
    run_id: str | None = None,
    variant: str | None = None,
    suite: SuiteConfig | str | None = None,
    correct: Any = None,
    repo_id: str | None = None,
    benchmark: str | None = None,
    base_model: str | None = None,
    license: str | None = None,  # noqa: A002 - the card metadata key
    dataset_revisions: Mapping[str, str] | None = None,
    limitations: Sequence[str] = (),
    template: str | Path | None = None,
    n_boot: int = 1000,
) -> RunCard:
    """The model card (+ ``.eval_results`` files when `benchmark` is given) of the run in
    `run_dir` (see `card_facts` for what it may state).

    Args:
        records: the store's records (``ResultStore.records()`` or ``to_dataframe()``).
        run_dir: the run folder (``rib_config.json``; ``rib_run.json`` names its run).
        run_id: the run's id when the folder records none (must agree when it does).
        suite: the suite the run used (default: the records' suite, by name).
        correct: per-image correctness lookup (``ResultStore.correct``) for the intervals.
        repo_id: the model repo (names the model).
        benchmark: benchmark dataset repo the ``.eval_results`` point at (it must exist).
        base_model, license: override the Hub id and licence of `base_model_info`.
        dataset_revisions: ``{dataset or benchmark repo: revision}`` of Hub datasets.
    """
    from huggingface_hub import ModelCard

    from ..scoring import as_records
    from ..suites import SuiteConfig, load_suite

    rows = select_run(as_records(records), run_dir, run_id=run_id, variant=variant)
    if not isinstance(suite, SuiteConfig):
        suite = load_suite(suite or rows.first.suite)
    run_config = read_run_config(run_dir)
    result = run_scores(rows, suite, correct, n_boot=n_boot)
    hub_ids = dataset_hub_ids(suite, run_config)
    revisions = dict(dataset_revisions or {})
    info = base_model_info(rows.first.model)
    # the base model as the card states it: the publisher may override its Hub id and licence
    base = replace(
        info,
        hub_id=base_model or info.hub_id,
        license=license or info.license,
        note="given by the publisher" if license else info.note,
    )
    data = _card_data(rows, result, suite, hub_ids, benchmark, revisions, base, repo_id)
    fields = {
        **_run_fields(rows, result, suite, base, redact(run_config)),
        **_evaluation_fields(rows, result, suite, hub_ids, revisions, n_boot),
        "limitations": [*limitations, *_checkpoint_limitations(run_dir)],
        "citation": RIB_CITATION,
    }
    card = ModelCard.from_template(data, template_path=str(template or template_path()), **fields)
    files = {}
    if benchmark:
        files = eval_results_files(
            eval_result_entries(rows, result, benchmark, revisions.get(benchmark))
        )
    return RunCard(card, files, rows, suite, result, info, benchmark)


def _card_data(
    rows: RunRecords,
    result: ScoreResult,
    suite: SuiteConfig,
    hub_ids: Mapping[str, str],
    benchmark: str | None,
    revisions: Mapping[str, str],
    base: BaseModel,
    repo_id: str | None,
) -> ModelCardData:
    """The card's YAML header: names, licence, base model, Hub datasets and ``model-index``.
    The model is named by its repo, else ``<base>-<method>-<fine-tuning set>``."""
    from huggingface_hub import ModelCardData

    r = rows.first
    model_name = (repo_id or f"{base.name}-{r.method}-{r.finetune_dataset}").split("/")[-1]
    return ModelCardData(
        model_name=model_name,
        license=base.license,
        library_name="transformers",
        pipeline_tag="image-classification",
        base_model=base.hub_id,
        tags=["image-classification", "imagenet-rib", "robustness", f"rib-method-{r.method}"],
        datasets=sorted(set(hub_ids.values())) or None,
        eval_results=_model_index(rows, result, suite, hub_ids, benchmark, revisions),
    )


def _summary(rows: RunRecords, result: ScoreResult, suite: SuiteConfig, base: BaseModel) -> str:
    """One sentence: model, fine-tuning set, method, suite, the robustness improvement RI (the
    ``ri-*`` score, points) and, with a pretraining reference, that set's degradation."""
    r = rows.first
    ft = r.finetune_dataset
    ri = next((v for _, t, _, v, _ in score_values(result) if t.startswith("ri-")), None)
    degradation = ""
    if suite.reference:
        points = fmt(result.scores.reference_degradation.get(ft), signed=True)
        degradation = f", pretraining-set degradation {points} points"
    return (
        f"`{base.name}` fine-tuned on `{ft}` with the `{r.method}` method, evaluated on the "
        f"`{suite.name}` suite: robustness improvement RI = {fmt(ri, signed=True)} points"
        f"{degradation}."
    )


def _run_fields(
    rows: RunRecords,
    result: ScoreResult,
    suite: SuiteConfig,
    base: BaseModel,
    cfg: Mapping[str, Any],
) -> dict[str, Any]:
    """The template's fields about the run: title, summary, provenance (library version, base
    model, revision, licence) and the method and training configs (`cfg`, redacted)."""
    r = rows.first
    return dict(
        title=f"{base.name} fine-tuned on {r.finetune_dataset} with {r.method}"
        + (f" ({rows.variant})" if rows.variant else ""),
        summary=_summary(rows, result, suite, base),
        project_url=PROJECT_URL,
        library_version=r.library_version or __version__,
        base_model=f"[`{base.hub_id}`](https://huggingface.co/{base.hub_id})"
        if base.hub_id
        else f"`{base.name}` (not on the Hub)",
        model_revision=redact_paths(r.model_revision) or "not recorded",
        license=base.license,
        license_note=base.note,
        method=r.method,
        variant=rows.variant,
        finetune_dataset=r.finetune_dataset,
        seed=r.seed,
        run_id=rows.run_id,
        method_config=json.dumps(_method_config(cfg, r), indent=2, sort_keys=True),
        train_config=json.dumps(cfg.get("train") or {}, indent=2, sort_keys=True),
    )


def _evaluation_fields(
    rows: RunRecords,
    result: ScoreResult,
    suite: SuiteConfig,
    hub_ids: Mapping[str, str],
    revisions: Mapping[str, str],
    n_boot: int,
) -> dict[str, Any]:
    """The template's fields about the evaluation: the dataset table, label protocol, holdout
    split, results and scores tables, and how the intervals were computed."""
    r = rows.first
    protocols = {x.eval_dataset: x.protocol for x in rows.run}
    objectnet = sorted(
        {p.split("/", 1)[1] for p in protocols.values() if p.startswith("objectnet/")}
    )
    return dict(
        datasets=_dataset_rows(suite, r.finetune_dataset, hub_ids, revisions, protocols),
        label_space=r.label_space,
        objectnet_rule=", ".join(objectnet) or "not applicable (no ObjectNet-style dataset)",
        split_rule=r.split_rule,
        split_seed=r.split_seed,
        test_fraction=r.test_fraction,
        results_table=_results_table(result),
        scores_table=_scores_table(result),
        interval_note=(
            f"95% paired percentile bootstrap over the test images (B = {n_boot})"
            if result.image_intervals is not None
            else "not available: the results table holds no per-image correctness"
        ),
    )


def _checkpoint_limitations(run_dir: str | Path) -> list[str]:
    """A line for a repo that `transformers.pipeline` cannot load (`models.checkpoint`)."""
    from ..models.checkpoint import standard_problem

    if not (Path(run_dir) / "rib_model.json").is_file():
        return []
    problem = standard_problem(run_dir)
    if problem is None:
        return []
    return [
        f"This is not a standard transformers checkpoint ({problem}): "
        "`transformers.pipeline()` and `AutoModelForImageClassification` do not reproduce its "
        "predictions. Download the repo and load the folder with `imagenet_rib.finetune.load_run` "
        "(or `rib evaluate --model <folder>`)."
    ]


def _method_config(cfg: Mapping[str, Any], r: Any) -> Any:
    if cfg.get("method_config") is not None:
        return cfg["method_config"]
    try:
        return redact(json.loads(r.method_config or "{}"))
    except json.JSONDecodeError:
        return redact_paths(r.method_config)
