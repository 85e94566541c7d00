"""`build_report`: scores, Markdown and HTML tables and the paper's figures from a results table."""

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

from ..errors import ConfigError
from ..paths import atomic_write_text
from . import figures as F
from .html import markdown_to_html
from .tables import MISSING, ScoreEntry, SuiteInfo, compute_scores, markdown_report

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

FORMATS = ("md", "html")


@dataclass
class ReportResult:
    """Files written by `build_report` (``{kind: path}``) and the scores behind them."""

    paths: dict[str, Path]
    scores: list[ScoreEntry]
    suite: SuiteInfo
    figures: dict[str, Path] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "paths": {k: str(v) for k, v in self.paths.items()},
            "figures": {k: str(v) for k, v in self.figures.items()},
            "suite": self.suite.to_dict(),
            "scores": [e.to_dict() for e in self.scores],
        }


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "x"


def _pick_method(entries: Sequence[ScoreEntry], preferred: str) -> dict[str, ScoreEntry]:
    """One entry per model: `preferred` method (no variant) if present, else its first entry."""
    chosen: dict[str, ScoreEntry] = {}
    for e in entries:
        if e.model not in chosen or (e.label == preferred and chosen[e.model].label != preferred):
            chosen[e.model] = e
    return chosen


def _post_per_dataset(entry: ScoreEntry, datasets: Sequence[str]) -> dict[str, float]:
    """Accuracy on D_j after fine-tuning, averaged over fine-tuning sets i != j."""
    out = {}
    for j in datasets:
        vals = [acc[j] for i, acc in entry.acc_post.items() if i != j and j in acc]
        out[j] = float(np.mean(vals)) if vals else math.nan
    return out


def _otdd_points(
    otdd: Mapping[str, Any], chosen: Mapping[str, ScoreEntry]
) -> tuple[dict[str, float], dict[str, float]]:
    nested = all(isinstance(v, Mapping) for v in otdd.values())
    distances: dict[str, float] = {}
    degradations: dict[str, float] = {}
    for model, entry in chosen.items():
        dist = otdd.get(model, {}) if nested else otdd
        for ds, d in dist.items():
            deg = entry.view.reference_degradation.get(ds)
            if deg is None or math.isnan(deg):
                continue
            key = ds if len(chosen) == 1 else f"{model}: {ds}"
            distances[key], degradations[key] = float(d), deg
    return distances, degradations


def _figures(
    entries: Sequence[ScoreEntry],
    suite: SuiteInfo,
    fig_dir: Path,
    otdd: Mapping[str, Any] | None,
    bar_method: str,
) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for e in entries:
        caption = e.method + (f" ({e.variant})" if e.variant else "")  # no brackets in alt text
        out[f"dA heatmap: {e.model} / {caption}"] = F.plot_delta_heatmap(
            e.view.delta,
            fig_dir / f"delta_{_slug(e.model)}_{_slug(e.label)}.png",
            title=f"dA(i -> j), {e.model} / {e.label}",
        )
    datasets = list(suite.datasets)
    for model in dict.fromkeys(e.model for e in entries):
        mine = [e for e in entries if e.model == model]
        if len(datasets) >= 3:
            out[f"accuracy radar: {model}"] = F.plot_radar(
                {d: mine[0].acc_pre.get(d, math.nan) for d in datasets},
                {e.label: _post_per_dataset(e, datasets) for e in mine},
                fig_dir / f"radar_{_slug(model)}.png",
                title=f"{model}: accuracy (%), pretrained vs after fine-tuning elsewhere",
            )
    chosen = _pick_method(entries, bar_method)
    out["average OOD accuracy"] = F.plot_ood_bars(
        {m: (e.view.mean_acc_pre, e.view.avg_post_ood) for m, e in chosen.items()},
        fig_dir / "ood_bars.png",
        title=f"Average OOD accuracy before / after fine-tuning ({bar_method})",
    )
    if otdd:
        distances, degradations = _otdd_points(otdd, chosen)
        if len(distances) >= 2:
            out["OTDD vs pretraining-set degradation"] = F.plot_otdd_scatter(
                distances, degradations, fig_dir / "otdd_scatter.png"
            )
        else:
            logger.warning(
                "OTDD scatter skipped: fewer than 2 datasets with distance + degradation"
            )
    return out


def build_report(
    df: pd.DataFrame,
    out_dir: str | Path,
    correct: Callable[[tuple[str, str, str, str]], Any] | None = None,
    otdd: Mapping[str, Any] | None = None,
    *,
    formats: Sequence[str] = FORMATS,
    suite: Sequence[str] | None = None,
    reference: str | None = None,
    part: str = "test",
    bar_method: str = "ft",
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    embed_images: bool = True,
) -> ReportResult:
    """Write ``report.md`` / ``report.html``, ``scores.json`` and ``figures/*.png`` to `out_dir`.

    Args:
        df: results table with the `records.ResultRecord` columns (``ResultStore.to_dataframe()``).
        correct: per-image correctness getter ``key -> (N,) bool`` (``ResultStore.correct``) for
            bootstrap confidence intervals; None: intervals over seeds only.
        otdd: OTDD(pretraining set, D_i) as ``{D_i: distance}`` or ``{model: {D_i: distance}}``;
            adds the OTDD-versus-degradation scatter.
        formats: any of ``"md"``, ``"html"``.
        suite, reference, part: see `tables.compute_scores`.
        bar_method: method shown in the OOD bar chart and the OTDD scatter (paper: ``"ft"``).
    """
    bad = sorted(set(formats) - set(FORMATS))
    if bad or not formats:
        raise ConfigError(
            f"report format(s) {bad or list(formats)} unknown; choose from {list(FORMATS)}"
        )
    out_dir = Path(out_dir)
    info, entries = compute_scores(
        df,
        correct=correct,
        suite=suite,
        reference=reference,
        part=part,
        n_boot=n_boot,
        confidence=confidence,
        seed=seed,
    )
    figs = _figures(entries, info, out_dir / "figures", otdd, bar_method)
    markdown = markdown_report(
        info, entries, {k: str(p.relative_to(out_dir)) for k, p in figs.items()}
    )
    paths: dict[str, Path] = {}
    if "md" in formats:
        paths["markdown"] = out_dir / "report.md"
        atomic_write_text(paths["markdown"], markdown)
    if "html" in formats:
        paths["html"] = out_dir / "report.html"
        atomic_write_text(
            paths["html"],
            markdown_to_html(markdown, base=out_dir, embed=embed_images, missing=MISSING),
        )
    result = ReportResult(paths, entries, info, figs)
    paths["scores"] = out_dir / "scores.json"
    atomic_write_text(paths["scores"], json.dumps(result.to_dict(), indent=2, default=_json) + "\n")
    return result


def _json(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return str(value)


def load_results(
    path: str | Path,
) -> tuple[pd.DataFrame, Callable[[tuple[str, str, str, str]], Any] | None]:
    """Open a results table: a `ResultStore` file (with its correctness getter) or an export
    (``.parquet``, ``.csv``, ``.jsonl``; no per-image correctness, so no bootstrap)."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"results store {path} does not exist; run `rib run CONFIG` first or "
            "pass the store path it printed (--store)"
        )
    readers = {
        ".parquet": pd.read_parquet,
        ".csv": pd.read_csv,
        ".jsonl": lambda p: pd.read_json(p, lines=True),
    }
    if path.suffix in readers:
        df = readers[path.suffix](path)
        if "variant" in df.columns:
            df["variant"] = df["variant"].fillna("")
        if "finetune_dataset" in df.columns:
            df["finetune_dataset"] = df["finetune_dataset"].fillna("")
        return df, None
    from ..results import ResultStore

    store = ResultStore(path, read_only=True)
    return store.to_dataframe(), store.correct
