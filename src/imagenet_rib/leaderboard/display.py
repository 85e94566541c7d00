"""What the leaderboard shows: the table's text cells (filtered and sorted), a row's detail
text and its figures.

Pure pandas / matplotlib (no gradio), so the app stays a thin layer and everything shown is
testable without a browser. A missing score is never shown as a number: its cell says why
("incomplete (k of n sets)", "conflict (see details)", "n/a (split none)"). The figures are
the report's (`report.figures.draw_delta_grid`, `draw_ood_bars`), drawn for one row.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ConfigError
from ..formatting import MISSING, fmt, fmt_interval
from .table import LeaderboardRow, repo_url

if TYPE_CHECKING:
    import pandas as pd

MAX_LINKS = 3


def _incomplete(k: int, n: int) -> str:
    return f"incomplete ({k} of {n} sets)"


def _blocked(row: LeaderboardRow) -> str | None:
    """The text every score cell of an error row shows (None for a scored row)."""
    return None if row.result is not None else f"{row.error_kind} (see details)"


def mri_cell(row: LeaderboardRow) -> str:
    if (text := _blocked(row)) is not None:
        return text
    return fmt(row.mri, signed=True) if math.isfinite(row.mri) else row.status


def interval_cell(row: LeaderboardRow, kind: str | None = None) -> str:
    """The mRI interval of `kind` (default: seeds with >= 2 seeds, else images)."""
    iv = row.interval(kind)
    if iv is None:
        return MISSING
    kind = kind or row.interval_kind
    return f"{fmt_interval(iv.low, iv.high)} ({kind})"


def interval_note(row: LeaderboardRow, kind: str | None = None) -> str:
    """How the mRI interval of `kind` (default: the row's `interval_kind`) was obtained, or
    why there is none."""
    if row.result is None:
        return "no score"
    if not row.result.complete:
        return "no interval: the matrix is incomplete"
    kind = kind or row.interval_kind
    if kind is None:
        return "no interval: one seed and no per-image results"
    if kind == "seeds":
        if row.result.seed_intervals is None:
            return "no interval over seeds: one seed"
        return f"Student t over {len(row.seeds)} seeds"
    if row.result.image_intervals is None:
        return "no interval over test images: the source has no per-image results"
    if row.interval(kind) is None:
        return "no interval over test images: per-image results missing for some cells"
    return f"paired bootstrap over test images (B = {row.result.image_intervals.n_resamples})"


def ood_cells(row: LeaderboardRow) -> tuple[str, str]:
    """(average OOD accuracy before, after fine-tuning)."""
    if (text := _blocked(row)) is not None:
        return text, text
    before, after = row.avg_ood_before, row.avg_ood_after
    return (
        fmt(before) if math.isfinite(before) else "incomplete (baseline)",
        fmt(after) if math.isfinite(after) else _incomplete(row.complete_sets, row.n_sets),
    )


def degradation_cell(row: LeaderboardRow) -> str:
    if (text := _blocked(row)) is not None:
        return text
    if not row.result.scores.reference:
        return f"{MISSING} (no reference set)"
    if math.isfinite(row.degradation):
        return fmt(row.degradation, signed=True)
    return _incomplete(row.sets_with("reference_degradation"), row.n_sets)


def gain_cell(row: LeaderboardRow) -> str:
    if (text := _blocked(row)) is not None:
        return text
    if not row.in_task_meaningful:
        return f"{MISSING} (split {row.split})"
    if math.isfinite(row.in_task_gain):
        return fmt(row.in_task_gain, signed=True)
    return _incomplete(row.sets_with("in_task_gain"), row.n_sets)


def repo_cell(row: LeaderboardRow) -> str:
    """Markdown links to the model repos of the row's runs (empty when none was pushed)."""
    links = [f"[{r}]({repo_url(r)})" for r in row.repos[:MAX_LINKS]]
    more = len(row.repos) - MAX_LINKS
    return ", ".join(links) + (f" (+{more} more)" if more > 0 else "")


def columns(confidence: float = 0.95) -> list[str]:
    return [
        "#",
        "suite",
        "model",
        "revision",
        "method",
        "variant",
        "split",
        "mRI",
        f"mRI {confidence:.0%} CI",
        "avg OOD before",
        "avg OOD after",
        "pretraining-set degradation",
        "in-task gain",
        "seeds",
        "model repo",
    ]


#: gradio datatype and width of each column of `columns` (the repo links are Markdown).
DATATYPES = ["number"] + ["str"] * 12 + ["number", "markdown"]
WIDTHS = [45, 90, 120, 80, 80, 90, 170, 110, 140, 75, 110, 115, 110, 60, 180]


def display_frame(rows: Sequence[LeaderboardRow], confidence: float = 0.95) -> pd.DataFrame:
    """One text row per leaderboard row, in the given order (see `columns`)."""
    import pandas as pd

    data = []
    for r in rows:
        before, after = ood_cells(r)
        data.append(
            [
                r.id,
                r.suite,
                r.model,
                r.model_revision[:12],
                r.method,
                r.variant,
                r.split,
                mri_cell(r),
                interval_cell(r),
                before,
                after,
                degradation_cell(r),
                gain_cell(r),
                len(r.seeds),
                repo_cell(r),
            ]
        )
    return pd.DataFrame(data, columns=columns(confidence))


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows])


def _blocks(text: str) -> str:
    """Plain text as Markdown blocks: each table and each other line its own block (Markdown
    would otherwise glue a caption to its table, and consecutive lines into one paragraph)."""
    blocks: list[list[str]] = []
    table = False
    for line in text.splitlines():
        if not line.strip():
            table = False
        elif table and line.startswith("|"):
            blocks[-1].append(line)
        else:
            blocks.append([line])
            table = line.startswith("|")
    return "\n\n".join("\n".join(b) for b in blocks)


def _interval_rows(row: LeaderboardRow) -> list[list[str]]:
    pct = f"{row.confidence:.0%}"
    return [
        [
            f"mRI {pct} interval over {what}",
            f"{fmt_interval(iv.low, iv.high) if iv else MISSING} ({interval_note(row, kind)})",
        ]
        for kind, what in (("images", "test images"), ("seeds", "seeds"))
        for iv in [row.interval(kind)]
    ]


def detail_markdown(row: LeaderboardRow) -> str:
    """A row's details: its provenance, every score with its intervals, the dA matrix, the
    per-set intervals and its runs."""
    revision = f"`{row.model_revision}`" if row.model_revision else "(not recorded)"
    seeds = ", ".join(str(s) for s in row.seeds)
    s = None if row.result is None else row.result.scores
    suite = "" if s is None else f" ({', '.join(s.suite)}; pretraining reference "
    suite += "" if s is None else f"{s.reference or MISSING})"
    parts = [
        f"### {row.label}",
        f"Pretraining source **{row.model}** at revision {revision}; method **{row.method}**"
        + (f" ({row.variant})" if row.variant else "")
        + f"; suite **{row.suite}**{suite}; split {row.split}; seed(s) {seeds}.",
    ]
    if row.error:
        parts += [f"**Not scored ({row.error_kind}):**", f"- {row.error}"]
    before, after = ood_cells(row)
    parts.append(
        _table(
            ["score", "value"],
            [
                ["mRI", mri_cell(row)],
                *_interval_rows(row),
                ["average OOD accuracy before fine-tuning (%)", before],
                ["average OOD accuracy after fine-tuning (%)", after],
                ["pretraining-set degradation (mean over fine-tuning sets)", degradation_cell(row)],
                ["in-task gain (mean over fine-tuning sets)", gain_cell(row)],
            ],
        )
    )
    if row.result is not None:
        if not row.result.complete:
            parts.append(row.result.status())
        parts.append(_blocks(row.result.scores.to_markdown()))
        for iv in (row.result.seed_intervals, row.result.image_intervals):
            if iv is not None:
                parts.append(_blocks(iv.to_markdown()))
    if row.notes:
        parts += ["Notes:", *(f"- {n}" for n in row.notes)]
    runs = [
        [
            f"`{r['run_id']}`",
            r["finetune_dataset"],
            r["seed"],
            f"[{r['model_repo']}]({repo_url(r['model_repo'])})" if r["model_repo"] else "-",
        ]
        for r in row.runs
    ]
    parts += ["Runs:", _table(["run", "fine-tuned on", "seed", "model repo"], runs)]
    return "\n\n".join(parts)


def before_after(row: LeaderboardRow) -> dict[str, tuple[float, float]]:
    """``{j: (A_pre(j), mean over i != j of A(i -> j))}`` over the suite (NaN if any is missing)."""
    if row.result is None:
        return {}
    s = row.result.scores
    out = {}
    for b, j in enumerate(s.suite):
        post = [s.acc_post[a, b] for a, i in enumerate(s.finetune_sets) if i != j]
        after = float(np.mean(post)) if post and all(math.isfinite(p) for p in post) else math.nan
        out[j] = (float(s.acc_pre[b]), after)
    return out


def _without_intervals(ax: Any) -> None:
    """`draw_ood_bars` for per-dataset accuracies, which have no intervals here: relabel the
    y axis, drop the zero-length error bars and the in-bar "n/a" of a missing bar (the
    figure writes that one above the axis already)."""
    from matplotlib.container import ErrorbarContainer

    ax.set_ylabel("accuracy on D_j (%)")
    for container in [c for c in ax.containers if isinstance(c, ErrorbarContainer)]:
        container.remove()
    for text in [t for t in ax.texts if t.get_text() == MISSING and t.get_color() == "white"]:
        text.remove()


def detail_figures(row: LeaderboardRow, folder: str | Path) -> tuple[Path, Path] | None:
    """The row's dA heatmap and per-dataset before/after bars as PNGs in `folder` (written once
    per row), or None for a row without scores.

    Both are the report's figures for one configuration: `draw_delta_grid` with one series on
    its own colour scale, and `draw_ood_bars` with one bar pair per dataset D_j (see
    `_without_intervals`)."""
    from ..intervals import Interval
    from ..report.figures import draw_delta_grid, draw_ood_bars, heatmap_bound, save_figure

    if row.result is None:
        return None
    s = row.result.scores
    folder = Path(folder)
    heatmap, bars = folder / f"delta-{row.id}.png", folder / f"before-after-{row.id}.png"
    name = f"#{row.id} {row.model} / {row.result.label}"
    if not heatmap.is_file():
        fig = draw_delta_grid(
            {name: (s.delta, s.finetune_sets, s.columns)},
            bound=heatmap_bound([s.delta]),
            title="dA(i -> j), accuracy points",
            ncols=1,
        )
        save_figure(fig, heatmap)
    if not bars.is_file():
        no_ci = (math.nan, math.nan)
        per_set = {
            j: (Interval(pre, *no_ci), Interval(post, *no_ci))
            for j, (pre, post) in before_after(row).items()
        }
        fig = draw_ood_bars(
            per_set,
            title=f"{name}: accuracy on each D_j (%)",
            note="pretrained vs after fine-tuning (mean over the fine-tuning sets i != j)",
        )
        _without_intervals(fig.axes[0])
        save_figure(fig, bars)
    return heatmap, bars


def filter_rows(
    rows: Sequence[LeaderboardRow],
    *,
    suites: Sequence[str] = (),
    models: Sequence[str] = (),
    methods: Sequence[str] = (),
) -> list[LeaderboardRow]:
    """Rows whose suite, model and method are among the given ones (empty: any)."""
    return [
        r
        for r in rows
        if (not suites or r.suite in suites)
        and (not models or r.model in models)
        and (not methods or r.method in methods)
    ]


#: Sort keys of `sort_rows`: a row's value, NaN (missing / incomplete) sorting last.
SORT_KEYS = {
    "mRI": lambda r: r.mri,
    "avg OOD after": lambda r: r.avg_ood_after,
    "avg OOD before": lambda r: r.avg_ood_before,
    "degradation": lambda r: r.degradation,
    "in-task gain": lambda r: r.in_task_gain,
}


def sort_rows(
    rows: Sequence[LeaderboardRow], by: str = "mRI", *, descending: bool = True
) -> list[LeaderboardRow]:
    """Rows sorted by a score of `SORT_KEYS` (rows without that score last, in id order)."""
    if by not in SORT_KEYS:
        raise ConfigError(f"cannot sort by {by!r}; choose one of {list(SORT_KEYS)}")
    value = SORT_KEYS[by]
    known = [r for r in rows if math.isfinite(value(r))]
    unknown = [r for r in rows if not math.isfinite(value(r))]
    known.sort(key=lambda r: (-value(r) if descending else value(r), r.id))
    return known + unknown
