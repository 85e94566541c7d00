"""What the leaderboard shows: the table's text cells (filtered and sorted), a row's detail
text and its figures.

Pure pandas / matplotlib (no gradio), so the app stays a thin layer and everything shown is
testable without a browser. A missing score is never shown as a number: its cell says why
("incomplete (k of n sets)", "conflict", "n/a (split none)").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ConfigError
from .table import LeaderboardRow

if TYPE_CHECKING:
    import pandas as pd

MISSING = "n/a"
MAX_LINKS = 3


def _num(value: float, *, signed: bool = True) -> str:
    return f"{value:+.2f}" if signed else f"{value:.2f}"


def _incomplete(k: int, n: int) -> str:
    return f"incomplete ({k} of {n} sets)"


def _blocked(row: LeaderboardRow) -> str | None:
    """The text every score cell of a row without scores shows."""
    if row.scores is not None:
        return None
    return "conflict (see details)" if row.problems else MISSING


def mri_cell(row: LeaderboardRow) -> str:
    if (text := _blocked(row)) is not None:
        return text
    if math.isfinite(row.mri):
        return _num(row.mri)
    return _incomplete(row.complete_sets, row.n_sets)


def interval_cell(row: LeaderboardRow) -> str:
    if row.interval is None:
        return MISSING
    return f"[{_num(row.interval.low)}, {_num(row.interval.high)}]"


def ood_cells(row: LeaderboardRow) -> tuple[str, str]:
    """(average OOD accuracy before, after fine-tuning)."""
    if (text := _blocked(row)) is not None:
        return text, text
    before = row.avg_ood_before
    after = row.avg_ood_after
    return (
        _num(before, signed=False) if math.isfinite(before) else "incomplete (baseline)",
        _num(after, signed=False)
        if math.isfinite(after)
        else _incomplete(row.complete_sets, row.n_sets),
    )


def degradation_cell(row: LeaderboardRow) -> str:
    if (text := _blocked(row)) is not None:
        return text
    if not row.info.reference:
        return f"{MISSING} (no reference set)"
    value, k = row.degradation()
    return _num(value) if math.isfinite(value) else _incomplete(k, row.n_sets)


def gain_cell(row: LeaderboardRow) -> str:
    if (text := _blocked(row)) is not None:
        return text
    if not row.in_task_meaningful:
        return f"{MISSING} (split {row.split})"
    value, k = row.in_task_gain()
    return _num(value) if math.isfinite(value) else _incomplete(k, row.n_sets)


def repo_url(repo_id: str) -> str:
    from huggingface_hub import constants

    return f"{constants.ENDPOINT.rstrip('/')}/{repo_id}"


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
WIDTHS = [45, 90, 120, 80, 80, 90, 170, 110, 120, 75, 110, 115, 110, 60, 180]


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


def detail_markdown(row: LeaderboardRow) -> str:
    """A row's details: its provenance, every score, the dA matrix and its runs."""
    revision = f"`{row.model_revision}`" if row.model_revision else "(not recorded)"
    seeds = ", ".join(str(s) for s in row.seeds)
    parts = [
        f"### {row.label}",
        f"Pretraining source **{row.model}** at revision {revision}; method **{row.method}**"
        + (f" ({row.variant})" if row.variant else "")
        + f"; suite **{row.suite}** ({', '.join(row.info.datasets)}; pretraining reference "
        f"{row.info.reference or MISSING}); split {row.split}; seed(s) {seeds}.",
    ]
    if row.problems:
        parts += ["**Not scored:**", *(f"- {p}" for p in row.problems)]
    before, after = ood_cells(row)
    parts.append(
        _table(
            ["score", "value"],
            [
                ["mRI", mri_cell(row)],
                [
                    f"mRI {row.confidence:.0%} interval",
                    f"{interval_cell(row)} ({row.interval_note})",
                ],
                ["average OOD accuracy before fine-tuning (%)", before],
                ["average OOD accuracy after fine-tuning (%)", after],
                ["pretraining-set degradation (mean over fine-tuning sets)", degradation_cell(row)],
                ["in-task gain (mean over fine-tuning sets)", gain_cell(row)],
            ],
        )
    )
    if row.scores is not None:
        parts.append(_blocks(row.scores.to_markdown()))
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
    if row.scores is None:
        return {}
    s = row.scores
    out = {}
    for b, j in enumerate(s.suite):
        post = [s.acc_post[a, b] for a, i in enumerate(s.finetune_sets) if i != j]
        after = float(np.mean(post)) if post and all(math.isfinite(p) for p in post) else math.nan
        out[j] = (float(s.acc_pre[b]), after)
    return out


def detail_figures(row: LeaderboardRow, folder: str | Path) -> tuple[Path, Path] | None:
    """The row's dA heatmap and per-dataset before/after bars as PNGs in `folder` (written once
    per row), or None for a row without scores."""
    from ..report.figures import plot_delta_heatmap, plot_ood_bars

    if row.scores is None:
        return None
    folder = Path(folder)
    heatmap, bars = folder / f"delta-{row.id}.png", folder / f"before-after-{row.id}.png"
    name = f"#{row.id} {row.model} / {row.method}" + (f" [{row.variant}]" if row.variant else "")
    if not heatmap.is_file():
        plot_delta_heatmap(row.scores, heatmap, title=f"dA(i -> j) in points, {name}")
    if not bars.is_file():
        plot_ood_bars(
            before_after(row),
            bars,
            title=f"{name}: accuracy on D_j (%), pretrained vs mean after fine-tuning on i != j",
        )
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
    "degradation": lambda r: r.degradation()[0],
    "in-task gain": lambda r: r.in_task_gain()[0] if r.in_task_meaningful else math.nan,
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
