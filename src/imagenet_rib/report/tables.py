"""RIB scores per (pretraining source, method) from a results table, and their Markdown tables.

Input: a DataFrame with the columns of `records.ResultRecord` (what `ResultStore.to_dataframe()`
returns). For each pretrained model m, A_pre(j) comes from its ``method == "pretrained"`` rows;
for each (m, method, variant) and seed, A(i -> j) comes from the rows fine-tuned on D_i. The
scores (dA matrix, RI_i, mRI, pretraining-set degradation, in-task gain) are computed by
`scores.compute_rib`, never re-implemented here. Confidence intervals: a bootstrap over images
(`scores.bootstrap_rib`) when per-image correctness is available, an interval over seeds
(`scores.seed_intervals`) when a configuration was run with several seeds.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ConfigError
from ..records import ResultRecord
from ._scores import Interval, ScoresView, bootstrap_intervals, compute, seed_interval_of, view

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

#: Pretraining reference sets of the built-in suites (the ImageNet-val analog).
KNOWN_REFERENCES = ("imagenet-val", "mini-val")
BASELINE_METHOD = "pretrained"
MISSING = "n/a"

CorrectGetter = Callable[[tuple[str, str, str, str]], "np.ndarray | None"]


@dataclass(frozen=True)
class SuiteInfo:
    """The downstream datasets D_1..D_n (in report order) and the pretraining reference."""

    datasets: tuple[str, ...]
    reference: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"datasets": list(self.datasets), "reference": self.reference}


@dataclass
class ScoreEntry:
    """Scores of one (model, method, variant) over its seeds."""

    model: str
    method: str
    variant: str
    seeds: tuple[int, ...]
    acc_pre: dict[str, float]
    acc_post: dict[str, dict[str, float]]  # seed-mean A(i -> j)
    scores: Any  # scores.RIBScores of the seed-mean accuracies
    view: ScoresView = field(repr=False)
    ci: dict[str, Interval] = field(default_factory=dict)  # "mri", "ri/<i>", ...

    @property
    def label(self) -> str:
        return f"{self.method}[{self.variant}]" if self.variant else self.method

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "method": self.method,
            "variant": self.variant,
            "seeds": list(self.seeds),
            "acc_pre": self.acc_pre,
            "acc_post": self.acc_post,
            "scores": self.view.to_dict(),
            "ci": {k: v.to_dict() for k, v in self.ci.items()},
        }


def _suite_from_registry(name: str) -> SuiteInfo | None:
    try:
        from .. import suites
    except ImportError:
        return None
    getter = getattr(suites, "get_suite", None) or getattr(suites, "load_suite", None)
    if getter is None:
        return None
    try:
        cfg = getter(name)
    except Exception:  # noqa: BLE001 - an unknown suite name falls back to inference
        return None
    return SuiteInfo(tuple(cfg.datasets), getattr(cfg, "reference", None))


def resolve_suite(
    df: pd.DataFrame, suite: Sequence[str] | None = None, reference: str | None = None
) -> SuiteInfo:
    """The suite of a results table: given, from the suite registry, or inferred.

    Inference: the reference is the one evaluation set never fine-tuned on whose name is a
    known reference (`KNOWN_REFERENCES`) or ends in ``-val``; the suite is every other
    evaluation set, fine-tuning sets first in order of appearance.
    """
    evals = list(dict.fromkeys(df["eval_dataset"]))
    fts = [d for d in dict.fromkeys(df["finetune_dataset"]) if d]
    if suite is None and "suite" in df.columns and df["suite"].nunique() == 1:
        found = _suite_from_registry(str(df["suite"].iloc[0]))
        if found is not None:
            return SuiteInfo(
                found.datasets, reference if reference is not None else found.reference
            )
    if reference is None:
        candidates = [
            d for d in evals if d not in fts and (d in KNOWN_REFERENCES or d.endswith("-val"))
        ]
        reference = candidates[0] if len(candidates) == 1 else None
    if suite is None:
        suite = [d for d in fts if d != reference] + [
            d for d in evals if d not in fts and d != reference
        ]
    return SuiteInfo(tuple(suite), reference)


def _check_columns(df: pd.DataFrame) -> None:
    missing = sorted(set(ResultRecord.columns()) - set(df.columns))
    if missing:
        raise ConfigError(
            f"the results table lacks column(s) {missing}; pass ResultStore.to_dataframe() "
            "(columns of records.ResultRecord)"
        )


def _acc_map(rows: pd.DataFrame) -> dict[str, float]:
    return {str(k): float(v) for k, v in rows.groupby("eval_dataset")["accuracy"].mean().items()}


def _correct_maps(
    pre_rows: pd.DataFrame, post_rows: pd.DataFrame, correct: CorrectGetter
) -> tuple[dict[str, np.ndarray], dict[str, dict[str, np.ndarray]]] | None:
    pre: dict[str, np.ndarray] = {}
    for r in pre_rows.itertuples():
        vec = correct((r.run_id, r.variant, r.eval_dataset, r.eval_part))
        if vec is not None:
            pre.setdefault(r.eval_dataset, np.asarray(vec, dtype=bool))
    post: dict[str, dict[str, np.ndarray]] = {}
    for r in post_rows.itertuples():
        vec = correct((r.run_id, r.variant, r.eval_dataset, r.eval_part))
        if vec is not None:
            post.setdefault(r.finetune_dataset, {})[r.eval_dataset] = np.asarray(vec, dtype=bool)
    return (pre, post) if pre and post else None


def compute_scores(
    df: pd.DataFrame,
    *,
    correct: CorrectGetter | None = None,
    suite: Sequence[str] | None = None,
    reference: str | None = None,
    part: str = "test",
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[SuiteInfo, list[ScoreEntry]]:
    """Scores of every (model, method, variant) in `df` (see the module docstring).

    Args:
        df: rows of `ResultRecord` (``ResultStore.to_dataframe()``).
        correct: ``key -> (N,) bool`` per-image correctness getter (``ResultStore.correct``),
            enabling bootstrap intervals; None: intervals over seeds only.
        suite, reference: override the suite inferred by `resolve_suite`.
        part: evaluation part scored (``"test"``; the held-out part under the holdout split).
        n_boot, confidence, seed: bootstrap settings.
    """
    _check_columns(df)
    if df.empty:
        raise ConfigError(
            "the results table is empty: run `rib run` first (or check the --store path)"
        )
    parts = sorted(set(df["eval_part"]))
    if part not in parts:
        raise ConfigError(f"no results for evaluation part {part!r}; the table has parts {parts}")
    df = df[df["eval_part"] == part]
    info = resolve_suite(df, suite, reference)
    entries: list[ScoreEntry] = []
    for model in dict.fromkeys(df["model"]):
        mdf = df[df["model"] == model]
        pre_rows = mdf[mdf["method"] == BASELINE_METHOD]
        if pre_rows.empty:
            logger.warning("model %s has no %r baseline rows; skipped", model, BASELINE_METHOD)
            continue
        acc_pre = _acc_map(pre_rows)
        post = mdf[mdf["method"] != BASELINE_METHOD]
        for (method, variant), gdf in post.groupby(["method", "variant"], sort=False):
            seeds = tuple(sorted(int(s) for s in set(gdf["seed"])))
            per_seed = []
            for s in seeds:
                sdf = gdf[gdf["seed"] == s]
                acc_s = {i: _acc_map(r) for i, r in sdf.groupby("finetune_dataset", sort=False)}
                per_seed.append(compute(acc_pre, acc_s, info))
            acc_post = {
                i: _acc_map(r) for i, r in gdf.groupby("finetune_dataset", sort=False)
            }  # seed mean
            scores = compute(acc_pre, acc_post, info)
            entry = ScoreEntry(
                str(model),
                str(method),
                str(variant),
                seeds,
                acc_pre,
                acc_post,
                scores,
                view(scores),
            )
            if len(seeds) > 1:
                entry.ci = seed_interval_of(per_seed, confidence)
            elif correct is not None:
                maps = _correct_maps(pre_rows, gdf, correct)
                if maps is not None:
                    entry.ci = bootstrap_intervals(
                        maps[0], maps[1], info, n_boot=n_boot, confidence=confidence, seed=seed
                    )
            entries.append(entry)
    if not entries:
        raise ConfigError(
            "no fine-tuned results with a matching pretrained baseline; each model needs rows "
            f"with method={BASELINE_METHOD!r} and at least one fine-tuning method"
        )
    return info, entries


# -- Markdown --------------------------------------------------------------------------------
def fmt(value: float | None, digits: int = 1, signed: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def _ci_text(ci: Interval | None) -> str:
    return MISSING if ci is None else f"[{ci.low:+.1f}, {ci.high:+.1f}] ({ci.method})"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def summary_table(entries: Sequence[ScoreEntry]) -> str:
    """One row per (model, method): mRI with its CI, mean A_pre, average OOD accuracy after."""
    header = [
        "model",
        "method",
        "seeds",
        "mRI",
        "mRI CI",
        "mean A_pre",
        "avg OOD after",
        "mean ref. degradation",
        "missing cells",
    ]
    rows = []
    for e in entries:
        v = e.view
        degs = [x for x in v.reference_degradation.values() if not math.isnan(x)]
        rows.append(
            [
                e.model,
                e.label,
                len(e.seeds),
                fmt(v.mri, signed=True),
                _ci_text(e.ci.get("mri")),
                fmt(v.mean_acc_pre),
                fmt(v.avg_post_ood),
                fmt(float(np.mean(degs)) if degs else None, signed=True),
                len(v.missing),
            ]
        )
    return markdown_table(header, rows)


def per_set_table(
    entries: Sequence[ScoreEntry], suite: SuiteInfo, metric: str, *, with_ci: bool = False
) -> str:
    """One row per (model, method), one column per fine-tuning set: ``metric`` in
    ``"ri"``, ``"reference_degradation"``, ``"in_task_gain"``."""
    header = ["model", "method", *suite.datasets]
    rows = []
    for e in entries:
        values: Mapping[str, float] = getattr(e.view, metric)
        cells = []
        for d in suite.datasets:
            text = fmt(values.get(d), signed=True)
            ci = e.ci.get(f"{metric}/{d}") if with_ci else None
            cells.append(
                text if ci is None or text == MISSING else f"{text} [{ci.low:+.1f}, {ci.high:+.1f}]"
            )
        rows.append([e.model, e.label, *cells])
    return markdown_table(header, rows)


def delta_table(entry: ScoreEntry, suite: SuiteInfo) -> str:
    """dA(i -> j) for one (model, method): rows fine-tuning sets, columns evaluation sets."""
    cols = list(suite.datasets) + ([suite.reference] if suite.reference else [])
    rows = []
    for i in suite.datasets:
        row = entry.view.delta.get(i, {})
        rows.append([i, *[fmt(row.get(j), signed=True) for j in cols]])
    return markdown_table(["fine-tuned on \\ evaluated on", *cols], rows)


def accuracy_table(entry: ScoreEntry, suite: SuiteInfo) -> str:
    """A_pre and A(i -> j) in percent for one (model, method)."""
    cols = list(suite.datasets) + ([suite.reference] if suite.reference else [])
    rows = [["(pretrained)", *[fmt(entry.acc_pre.get(j)) for j in cols]]]
    for i in suite.datasets:
        row = entry.acc_post.get(i, {})
        rows.append([i, *[fmt(row.get(j)) for j in cols]])
    return markdown_table(["fine-tuned on \\ evaluated on", *cols], rows)


def markdown_report(
    suite: SuiteInfo, entries: Sequence[ScoreEntry], figures: Mapping[str, str]
) -> str:
    """The whole report as Markdown; `figures` maps a caption to a relative image path."""
    parts = [
        "# ImageNet-RIB report",
        "",
        f"Suite: {', '.join(suite.datasets)}; pretraining reference: {suite.reference or MISSING}.",
        f"Accuracies are top-1 percent; scores are accuracy points. `{MISSING}`: not measured "
        "(missing cells are left out of the means). RI_i = mean over j != i of dA(i -> j); "
        "mRI = mean over i of RI_i.",
        "",
        "## Summary",
        "",
        summary_table(entries),
        "",
        "## Robustness improvement RI_i per fine-tuning set",
        "",
        per_set_table(entries, suite, "ri", with_ci=True),
        "",
    ]
    if suite.reference:
        parts += [
            f"## Pretraining-set degradation (A(i -> {suite.reference}) - A_pre)",
            "",
            per_set_table(entries, suite, "reference_degradation", with_ci=True),
            "",
        ]
    parts += [
        "## In-task gain A(i -> i) - A_pre(i) (meaningful with the holdout split)",
        "",
        per_set_table(entries, suite, "in_task_gain"),
        "",
    ]
    if figures:
        parts += ["## Figures", ""]
        parts += [f"![{caption}]({path})\n" for caption, path in figures.items()]
    parts += ["## dA matrices", ""]
    for e in entries:
        parts += [
            f"### {e.model} / {e.label}",
            "",
            delta_table(e, suite),
            "",
            "Accuracies (%):",
            "",
            accuracy_table(e, suite),
            "",
        ]
    return "\n".join(parts)
