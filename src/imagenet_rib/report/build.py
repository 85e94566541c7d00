"""`build_report`: a `scoring.ScoreTable` (or the records to score) -> report.md, report.html,
scores.json and ONE set of figures under ``figures/``.

Figures (`report_figures`): the mRI bar chart, the average-OOD before/after bars of the
paper (method `bar_method`), one dA heatmap grid and one radar of small multiples per
pretraining source (one colour scale across every heatmap of the report) and, given OTDD
values, the OTDD-versus-degradation scatter. A series identical to another (WiSE-FT at
alpha 0 is the pretrained model, at alpha 1 the fine-tuned one) is drawn once and the
report says which were left out.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..correlation import correlation_interval
from ..errors import ConfigError
from ..formatting import MISSING, json_safe
from ..intervals import Interval
from ..paths import atomic_write_text
from ..scoring import ScoreResult, ScoreTable, score_records
from . import figures as F
from .html import markdown_to_html
from .provenance import provenance_markdown
from .tables import markdown_report

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

FORMATS = ("md", "html")


@dataclass
class ReportFigure:
    """One figure of a report: file stem, heading, a note for the text, the Figure."""

    name: str
    heading: str
    note: str
    figure: Any = field(repr=False)


@dataclass
class ReportResult:
    """Files written by `build_report` and the scores behind them."""

    paths: dict[str, Path]  # markdown, html, scores
    figures: dict[str, Path]  # heading -> png
    table: ScoreTable
    omitted: dict[str, str]  # series label -> why it is not drawn

    def to_dict(self) -> dict[str, Any]:
        return json_safe(
            {
                "paths": self.paths,
                "figures": self.figures,
                "omitted_from_figures": self.omitted,
                "scores": self.table.to_dict(detail=True),
            }
        )


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "x"


def drawn_series(table: ScoreTable) -> tuple[list[ScoreResult], dict[str, str]]:
    """The results worth drawing and ``{label: reason}`` for the duplicates left out: a series
    whose accuracy matrix equals the pretrained model's or an earlier series' of the same
    model revision. When every measured series equals its pretrained model (a fine-tuning
    that changed nothing), they are drawn all the same: a zero change is a result."""
    measured = [r for r in table if np.isfinite(r.scores.acc_post).any()]
    kept, omitted = _distinct(measured, drop_pretrained=True)
    if not kept and measured:
        kept, omitted = _distinct(measured, drop_pretrained=False)
    return kept, omitted


def _distinct(
    results: list[ScoreResult], *, drop_pretrained: bool
) -> tuple[list[ScoreResult], dict[str, str]]:
    kept: list[ScoreResult] = []
    omitted: dict[str, str] = {}
    for r in results:
        post = r.scores.acc_post
        name = f"{r.model} {r.label}"
        pre = np.broadcast_to(r.scores.acc_pre, post.shape)
        if drop_pretrained and np.array_equal(post, pre, equal_nan=True):
            omitted[name] = "identical to the pretrained model"
            continue
        twin = next(
            (
                k
                for k in kept
                if (k.model, k.model_revision) == (r.model, r.model_revision)
                and np.array_equal(k.scores.acc_post, post, equal_nan=True)
            ),
            None,
        )
        if twin is not None:
            omitted[name] = f"identical to {twin.label}"
            continue
        kept.append(r)
    return kept, omitted


def _ood_after(r: ScoreResult) -> dict[str, float]:
    """Accuracy on each suite set D_j after fine-tuning, averaged over the sets i != j."""
    s = r.scores
    out = {}
    for b, j in enumerate(s.suite):
        vals = [s.acc_post[a, b] for a, i in enumerate(s.finetune_sets) if i != j]
        out[j] = float(np.mean(vals)) if vals else math.nan
    return out


def _otdd_points(
    otdd: Mapping[str, Any], chosen: Mapping[str, ScoreResult]
) -> dict[str, tuple[float, float]]:
    """``{label: (OTDD, degradation)}``; `otdd` is ``{D_i: d}`` or ``{model: {D_i: d}}``."""
    nested = all(isinstance(v, Mapping) for v in otdd.values())
    points = {}
    for name, r in chosen.items():
        for ds, d in (otdd.get(r.model, {}) if nested else otdd).items():
            deg = r.scores.reference_degradation.get(ds, math.nan)
            if not math.isnan(deg):
                points[ds if len(chosen) == 1 else f"{name}: {ds}"] = (float(d), deg)
    return points


def report_figures(
    table: ScoreTable, *, otdd: Mapping[str, Any] | None = None, bar_method: str = "ft"
) -> tuple[list[ReportFigure], dict[str, str]]:
    """Every figure of the report of `table` (see the module docstring) and the series left out."""
    series, omitted = drawn_series(table)
    if not series:
        raise ConfigError("nothing to draw: no configuration has a measured cell")
    kinds = {r.interval_kind for r in series} - {None}
    note = {
        frozenset(): "no intervals (no per-image correctness)",
        frozenset({"images"}): "error bars: paired bootstrap over test images",
        frozenset({"seeds"}): "error bars: t interval over seeds",
    }.get(frozenset(kinds), "error bars: t over seeds (>= 2 seeds), else bootstrap over images")
    note = f"{note} ({100 * table.confidence:g}%)"
    src = table.source  # a pretraining source: a model revision
    models = list(dict.fromkeys(src(r) for r in series))
    out = [
        ReportFigure(
            "mri_bars",
            "mRI per method",
            note,
            F.draw_mri_bars(
                {
                    m: [(r.label, r.scores.mri, r.interval("mri")) for r in series if src(r) == m]
                    for m in models
                },
                title="Mean robustness improvement mRI",
                note=note,
            ),
        )
    ]
    chosen = {src(r): r for r in table if r.method == bar_method and not r.variant}
    if chosen:
        per_source = {
            m: (
                r.interval("mean_acc_pre") or Interval(r.scores.mean_acc_pre, math.nan, math.nan),
                r.interval("avg_ood_post") or Interval(r.scores.avg_ood_post, math.nan, math.nan),
            )
            for m, r in chosen.items()
        }
        out.append(
            ReportFigure(
                "ood_bars",
                f"Average OOD accuracy before / after fine-tuning ({bar_method})",
                note,
                F.draw_ood_bars(
                    per_source, title=f"Average OOD accuracy ({bar_method})", note=note
                ),
            )
        )
    else:
        logger.warning("no %r results: the average-OOD bar chart is left out", bar_method)
    bound = F.heatmap_bound([r.scores.delta for r in series])
    for m in models:
        mine = [r for r in series if src(r) == m]
        grid = {r.label: (r.scores.delta, r.scores.finetune_sets, r.scores.columns) for r in mine}
        heading = f"dA(i -> j) heatmaps: {m}"
        out.append(
            ReportFigure(
                f"delta_{_slug(m)}",
                heading,
                f"one colour scale for every heatmap of this report: +-{bound:g} points",
                F.draw_delta_grid(grid, bound=bound, title=f"{m}: dA(i -> j), accuracy points"),
            )
        )
        if len(table.suite.datasets) >= 3:
            pre = dict(zip(mine[0].scores.suite, mine[0].scores.acc_pre))
            out.append(
                ReportFigure(
                    f"radar_{_slug(m)}",
                    f"Accuracy per dataset: {m}",
                    "after: mean over the fine-tuning sets i != j",
                    F.draw_radar(
                        pre,
                        {r.label: _ood_after(r) for r in mine},
                        title=f"{m}: top-1 accuracy (%)",
                    ),
                )
            )
    if otdd:
        points = _otdd_points(otdd, chosen)
        if len(points) >= 2:
            xy = np.array(list(points.values()))
            corr = correlation_interval(xy[:, 0], xy[:, 1], table.confidence)
            out.append(
                ReportFigure(
                    "otdd_scatter",
                    "OTDD vs pretraining-set degradation",
                    f"{bar_method}; Pearson and Spearman intervals by Fisher z (Spearman with "
                    "the Bonett-Wright variance); n/a below 4 points",
                    F.draw_otdd_scatter(points, corr),
                )
            )
        else:
            logger.warning(
                "OTDD scatter left out: fewer than 2 sets with a distance and a degradation"
            )
    return out, omitted


def build_report(
    results: ScoreTable | pd.DataFrame | Sequence[Any],
    out_dir: str | Path,
    *,
    suite: Any = None,
    correct: Callable[[tuple[str, str, str, str]], Any] | None = None,
    groups: Mapping[str, Any] | None = None,
    config: Any = None,
    otdd: Mapping[str, Any] | None = None,
    formats: Sequence[str] = FORMATS,
    part: str = "test",
    bar_method: str = "ft",
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    embed_images: bool = True,
) -> ReportResult:
    """Write ``report.md`` / ``report.html``, ``scores.json`` and ``figures/*.png`` to `out_dir`.

    Args:
        results: a `ScoreTable` (``sweep.scores(config, store)``), or records to score
            (``ResultStore.to_dataframe()``, a list of `ResultRecord`) with `suite`,
            `correct`, `groups`, `part`, `n_boot`, `confidence`, `seed` as in
            `scoring.score_records`.
        suite: the records' suite (default: the single suite name in the records).
        config: the `BenchmarkConfig` behind the results: orders the rows and goes into the
            provenance section.
        otdd: OTDD(pretraining set, D_i) as ``{D_i: distance}`` or ``{model: {D_i: distance}}``;
            adds the OTDD-versus-degradation scatter (of method `bar_method`).
        formats: any of ``"md"``, ``"html"``.
        bar_method: method of the average-OOD bar chart and the scatter (paper: ``"ft"``).
    """
    bad = sorted(set(formats) - set(FORMATS))
    if bad or not formats:
        raise ConfigError(
            f"report format(s) {bad or list(formats)} unknown; choose from {list(FORMATS)}"
        )
    table = (
        results
        if isinstance(results, ScoreTable)
        else _score(results, suite, correct, groups, config, part, n_boot, confidence, seed)
    )
    if not len(table):
        raise ConfigError(
            "no fine-tuned results to report: run `rib run` first (or check the --store path); "
            "each model needs its pretrained baseline and at least one fine-tuning method"
        )
    out_dir = Path(out_dir)
    figs, omitted = report_figures(table, otdd=otdd, bar_method=bar_method)
    _unique_names(figs)
    paths_of = {}
    for f in figs:
        paths_of[f.heading] = F.save_figure(f.figure, out_dir / "figures" / f"{f.name}.png")
    listed = [(f.heading, f"figures/{f.name}.png", f.note) for f in figs]
    markdown = markdown_report(table, listed, provenance_markdown(table, config), omitted)
    paths: dict[str, Path] = {}
    if "md" in formats:
        paths["markdown"] = out_dir / "report.md"
        atomic_write_text(paths["markdown"], markdown)
    if "html" in formats:
        paths["html"] = out_dir / "report.html"
        page = markdown_to_html(markdown, base=out_dir, embed=embed_images, missing=MISSING)
        atomic_write_text(paths["html"], page)
    result = ReportResult(paths, paths_of, table, omitted)
    paths["scores"] = out_dir / "scores.json"
    atomic_write_text(
        paths["scores"], json.dumps(result.to_dict(), indent=1, allow_nan=False) + "\n"
    )
    return result


def _unique_names(figs: list[ReportFigure]) -> None:
    """Give figures whose file stems coincide (sources whose names differ only in characters
    a file name cannot hold, e.g. ``org/model`` and ``org_model``) distinct stems, so no
    figure overwrites another."""
    seen: dict[str, int] = {}
    for f in figs:
        k = seen.get(f.name.lower(), 0)  # case-insensitive file systems
        seen[f.name.lower()] = k + 1
        if k:
            f.name = f"{f.name}-{k + 1}"


def _score(records, suite, correct, groups, config, part, n_boot, confidence, seed) -> ScoreTable:
    from ..errors import UnknownNameError
    from ..scoring import as_records
    from ..suites import load_suite

    recs = as_records(records)
    if suite is None:
        names = sorted({r.suite for r in recs})
        if len(names) != 1:
            raise ConfigError(
                f"the records come from suite(s) {names}; pass the suite to report (--suite)"
            )
        try:
            suite = load_suite(names[0])
        except UnknownNameError:
            raise ConfigError(
                f"the records' suite {names[0]!r} is not built in; pass its suite YAML with "
                "--suite (suite=...)"
            ) from None
    return score_records(
        recs,
        suite,
        correct=correct,
        groups=groups,
        part=part,
        n_boot=n_boot,
        confidence=confidence,
        seed=seed,
        models=config.models if config is not None else (),
        methods=[m.label for m in config.methods] if config is not None else (),
    )


def load_results(
    path: str | Path,
) -> tuple[pd.DataFrame, Callable[[tuple[str, str, str, str]], Any] | None]:
    """Open a results table: a `ResultStore` file (with its correctness getter) or an export
    (``.parquet``, ``.csv``, ``.jsonl``; no per-image correctness, so no image intervals)."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"results store {path} does not exist; run `rib run CONFIG` first or "
            "pass the store path it printed (--store)"
        )
    readers = {
        ".parquet": pd.read_parquet,
        ".csv": lambda p: pd.read_csv(p, keep_default_na=False),
        ".jsonl": lambda p: pd.read_json(p, lines=True),
    }
    if path.suffix in readers:
        return readers[path.suffix](path), None
    from ..results import ResultStore

    store = ResultStore(path, read_only=True)
    return store.to_dataframe(), store.correct
