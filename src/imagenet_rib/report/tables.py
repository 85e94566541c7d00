"""The report's Markdown: summary, per-set scores with intervals, dA and accuracy matrices.

Every table reads a `scoring.ScoreTable` and lists its results in the table's order (the
same row order in every table and for every model); columns follow the suite's order.
Nothing is computed here beyond selecting and formatting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..formatting import MISSING, fmt, fmt_interval, markdown_table
from ..scores import PRETRAINED
from ..scoring import ScoreResult, ScoreTable

#: Per-set scores of the report: (attribute of RIBScores, heading).
PER_SET = (
    ("ri", "Robustness improvement RI_i per fine-tuning set"),
    ("reference_degradation", "Pretraining-set degradation A(i -> reference) - A_pre(reference)"),
    ("in_task_gain", "In-task gain A(i -> i) - A_pre(i) (meaningful with the holdout split)"),
)


def _cell(result: ScoreResult, metric: str, i: str) -> str:
    value = getattr(result.scores, metric).get(i)
    iv = result.interval(metric, i)
    text = fmt(value, 1, signed=True)
    if iv is None or text == MISSING or fmt_interval(iv.low, iv.high) == MISSING:
        return text
    return f"{text} {fmt_interval(iv.low, iv.high, 1)}"


def per_set_table(table: ScoreTable, metric: str) -> str:
    """One row per configuration, one column per fine-tuning set: the score and its interval."""
    head = ["model", "method", "variant", *table.finetune_sets]
    rows = [
        [
            table.source(r),
            r.method,
            r.variant or "-",
            *(_cell(r, metric, i) for i in table.finetune_sets),
        ]
        for r in table
    ]
    return markdown_table(head, rows, left=3)


def delta_table(result: ScoreResult) -> str:
    """dA(i -> j) of one configuration: rows fine-tuning sets, columns evaluation sets."""
    s = result.scores
    rows = [
        [i, *(fmt(v, 1, signed=True) for v in s.delta[a])] for a, i in enumerate(s.finetune_sets)
    ]
    return markdown_table(["fine-tuned on \\ evaluated on", *s.columns], rows)


def accuracy_table(result: ScoreResult) -> str:
    """A_pre and A(i -> j) in percent of one configuration (seed means)."""
    s = result.scores
    rows = [[f"({PRETRAINED})", *(fmt(v, 1) for v in s.acc_pre)]]
    rows += [[i, *(fmt(v, 1) for v in s.acc_post[a])] for a, i in enumerate(s.finetune_sets)]
    return markdown_table(["fine-tuned on \\ evaluated on", *s.columns], rows)


def intro(table: ScoreTable) -> list[str]:
    suite, split = table.suite, table.provenance.get("split") or {}
    rows = list(table.finetune_sets)
    return [
        f"Suite `{suite.name}`: {', '.join(suite.datasets)}; pretraining reference "
        f"`{suite.reference or MISSING}`. Fine-tuning sets scored: {', '.join(rows)} "
        f"({len(rows)} of {len(suite.datasets)}). Evaluation part `{table.part}`, split "
        f"`{split.get('rule', MISSING)}` (seed {split.get('seed', MISSING)}, test fraction "
        f"{split.get('test_fraction', MISSING)}).",
        "",
        "Accuracies are top-1 percent and scores accuracy points; `n/a` marks a value not "
        "measured, never averaged as 0. dA(i -> j) = A(i -> j) - A_pre(j); RI_i = mean over "
        "j != i of dA(i -> j); mRI = mean over i of RI_i; average OOD accuracy after = mean "
        "A_pre + mRI.",
        "",
        table.interval_note() + ". Tables and figures show the seed interval for "
        "configurations with >= 2 seeds and the image interval otherwise.",
    ]


def markdown_report(
    table: ScoreTable,
    figures: Sequence[tuple[str, str, str]],
    provenance: str,
    omitted: Mapping[str, str],
) -> str:
    """The whole report; `figures` lists (heading, relative image path, note), `omitted` the
    series not drawn (label -> why)."""
    parts = ["# ImageNet-RIB report", "", *intro(table), "", "## Summary", ""]
    parts += [table.to_markdown(), ""]
    if figures:
        parts += ["## Figures", ""]
        if omitted:
            dropped = "; ".join(f"{k} ({v})" for k, v in omitted.items())
            parts += [f"Series drawn once, not repeated: {dropped}.", ""]
        for heading, path, note in figures:
            parts += [f"### {heading}", "", f"![{heading}]({path})", ""]
            parts += [note, ""] if note else []
    for metric, heading in PER_SET:
        if metric == "reference_degradation" and not table.suite.reference:
            continue
        parts += [f"## {heading}", "", per_set_table(table, metric), ""]
    parts += ["## dA matrices", ""]
    for r in table:
        seeds = f"{len(r.seeds)} seed(s): {', '.join(map(str, r.seeds))}"
        parts += [f"### {table.source(r)} / {r.label} ({seeds})", "", delta_table(r), ""]
        parts += ["Accuracies (%, seed means):", "", accuracy_table(r), ""]
    parts += [provenance, ""]
    return "\n".join(parts)
