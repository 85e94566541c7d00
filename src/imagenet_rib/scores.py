"""RIB scores: robustness change, robustness improvement (RI), mRI, degradation, in-task gain.

Given the pretrained model's top-1 accuracy A_pre(j) on every dataset D_j of a suite
D_1..D_n, and the accuracy A(i->j) on D_j after fine-tuning on D_i (Hwang et al.,
"ImageNet-RIB Benchmark: Large Pre-Training Datasets Don't Guarantee Robustness after
Fine-Tuning", arXiv 2410.21582, section 3):

    dA(i->j) = A(i->j) - A_pre(j)                         robustness change
    RI_i     = 1/(n-1) sum_{j != i} dA(i->j)              robustness improvement of D_i
    mRI      = 1/|I| sum_{i in I} RI_i                    the RIB score (I: fine-tuning sets)
    degradation_i = A(i->ref) - A_pre(ref)                pretraining-set degradation
    gain_i        = A(i->i) - A_pre(i)                    in-task gain (holdout split only)

and their means over the fine-tuning sets (`mean_reference_degradation`, `mean_in_task_gain`),

plus the identity of the paper's bar chart, mRI + mean A_pre = average post-fine-tuning OOD
accuracy, where both means run over the same off-diagonal cells (j != i, i in I); when every
suite set is a fine-tuning set, that mean A_pre is simply mean_j A_pre(j).

Missing cells (a run not done yet) are NaN and listed in `RIBScores.missing`. A NaN is never
replaced by 0 nor skipped: an RI_i with a missing off-diagonal cell is NaN, and so is an mRI
with a missing RI_i. To score the rows that are complete, pass them as `finetune_sets`.

This module is pure numpy. Confidence intervals (`bootstrap_rib`, `seed_intervals`) live in
`imagenet_rib.intervals`; `imagenet_rib.scoring.score_records` turns result records into
scores with both kinds of intervals.
"""

from __future__ import annotations

import difflib
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import RIBError
from .formatting import fmt, json_safe, markdown_table

logger = logging.getLogger(__name__)

#: Method name of the pretrained baseline A_pre in result records, and its row name in
#: `RIBScores.missing`.
PRETRAINED = "pretrained"


class ScoreInputError(RIBError, ValueError):
    """Accuracies or correctness vectors are inconsistent with the suite."""


# ----------------------------------------------------------------------------- helpers


def unknown_names_error(kind: str, names: Sequence[str], known: Sequence[str]) -> ScoreInputError:
    """The error for names outside the suite, with a close match for each."""
    hints = []
    for name in names:
        close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.5)
        hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return ScoreInputError(
        f"{kind} names {', '.join(hints)} are not in the suite {list(known)}; fix the "
        f"names, add them to `suite`, or pass allow_extra=True to ignore them"
    )


def score_columns(suite: Sequence[str], reference: str | None) -> list[str]:
    """The evaluation columns of a score matrix: the suite, then the reference."""
    return list(suite) + ([reference] if reference is not None else [])


def check_suite(
    suite: Sequence[str], reference: str | None, finetune_sets: Sequence[str] | None
) -> tuple[list[str], list[str]]:
    """Validate names; return (suite, finetune_sets) as lists."""
    if isinstance(suite, str) or len(list(suite)) < 2:
        raise ScoreInputError(
            f"suite={suite!r} must list at least 2 dataset names (RI_i averages over j != i)"
        )
    suite = list(suite)
    if len(set(suite)) != len(suite):
        raise ScoreInputError(f"suite={suite!r} has duplicate names; list each dataset once")
    if reference is not None and reference in suite:
        raise ScoreInputError(
            f"reference={reference!r} is also in the suite; the pretraining reference "
            f"(e.g. 'imagenet-val') must not be one of the fine-tuning/OOD sets"
        )
    rows = list(suite) if finetune_sets is None else list(finetune_sets)
    if not rows or len(set(rows)) != len(rows):
        raise ScoreInputError(f"finetune_sets={rows!r} must be non-empty and without duplicates")
    unknown = [r for r in rows if r not in suite]
    if unknown:
        raise unknown_names_error("finetune_sets", unknown, suite)
    return suite, rows


def _accuracy(value: Any, where: str) -> float:
    if value is None:
        return math.nan
    try:
        acc = float(value)
    except (TypeError, ValueError):
        raise ScoreInputError(
            f"{where}={value!r} is not a number; give a percentage in [0, 100]"
        ) from None
    if not math.isnan(acc) and not 0.0 <= acc <= 100.0:
        raise ScoreInputError(
            f"{where}={acc!r} is outside [0, 100]; accuracies are top-1 percentages "
            f"(multiply fractions by 100)"
        )
    return acc


def rib_arrays(
    pre: np.ndarray, post: np.ndarray, rows: np.ndarray, n: int
) -> dict[str, np.ndarray]:
    """All scores from accuracy arrays, vectorised over any leading batch shape.

    pre: (..., c) A_pre over the columns (suite first, then the optional reference);
    post: (..., r, c) A(i->j); rows: (r,) suite index of each fine-tuning set; n: suite size.
    NaN propagates: a statistic touching a missing cell is NaN.
    """
    delta = post - pre[..., None, :]  # (..., r, c)
    r = len(rows)
    ood = np.ones((r, n), dtype=bool)
    ood[np.arange(r), rows] = False  # exclude the fine-tuning set itself
    suite_delta = delta[..., :, :n]
    zero = np.zeros((), dtype=delta.dtype)
    ri = np.where(ood, suite_delta, zero).sum(-1) / (n - 1)  # (..., r)
    post_ood = np.where(ood, post[..., :, :n], zero).sum(-1) / (n - 1)
    pre_ood = np.where(ood, np.broadcast_to(pre[..., None, :n], post[..., :, :n].shape), zero)
    out = {
        "delta": delta,
        "ri": ri,
        "mri": ri.mean(-1),
        "avg_ood_post": post_ood.mean(-1),
        "mean_acc_pre": (pre_ood.sum(-1) / (n - 1)).mean(-1),
        "in_task_gain": suite_delta[..., np.arange(r), rows],
    }
    out["mean_in_task_gain"] = out["in_task_gain"].mean(-1)
    if delta.shape[-1] > n:
        out["reference_degradation"] = delta[..., :, n]
        out["mean_reference_degradation"] = delta[..., :, n].mean(-1)
    return out


# ----------------------------------------------------------------------------- result


@dataclass
class RIBScores:
    """RIB scores of one pretrained model over one suite (see the module docstring).

    Attributes:
        suite: the n evaluation sets D_1..D_n, in order.
        finetune_sets: the r fine-tuning sets (rows), a subset of `suite`.
        reference: the pretraining reference set (e.g. 'imagenet-val'), or None.
        acc_pre: (c,) A_pre over `columns` (suite, then reference); NaN where missing.
        acc_post: (r, c) A(i->j); NaN where missing.
        delta: (r, c) dA(i->j) = A(i->j) - A_pre(j); NaN where either is missing.
        ri: RI_i per fine-tuning set (NaN if one of its off-diagonal cells is missing).
        mri: mean of `ri` (NaN if any RI_i is NaN).
        mean_acc_pre: average OOD accuracy before fine-tuning: mean A_pre over the same
            off-diagonal cells as `avg_ood_post`.
        avg_ood_post: average OOD accuracy after: mean over i of mean over j != i of A(i->j).
        reference_degradation: A(i->ref) - A_pre(ref) per i (empty without a reference).
        in_task_gain: A(i->i) - A_pre(i) per i.
        mean_reference_degradation: mean over i of `reference_degradation` (NaN without one).
        mean_in_task_gain: mean over i of `in_task_gain`.
        missing: the missing cells as (row, column); row 'pretrained' for A_pre.
    """

    suite: list[str]
    finetune_sets: list[str]
    reference: str | None
    acc_pre: np.ndarray
    acc_post: np.ndarray
    delta: np.ndarray
    ri: dict[str, float]
    mri: float
    mean_acc_pre: float
    avg_ood_post: float
    reference_degradation: dict[str, float]
    in_task_gain: dict[str, float]
    mean_reference_degradation: float
    mean_in_task_gain: float
    missing: list[tuple[str, str]]

    @property
    def columns(self) -> list[str]:
        return score_columns(self.suite, self.reference)

    @property
    def complete(self) -> bool:
        """True when mRI and every RI_i are defined (no missing off-diagonal cell)."""
        return not math.isnan(self.mri)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict: NaN becomes None, matrices become nested dicts by name."""
        cols = self.columns

        def matrix(m: np.ndarray) -> dict[str, dict[str, float]]:
            return {i: dict(zip(cols, m[a])) for a, i in enumerate(self.finetune_sets)}

        return json_safe(
            {
                "suite": self.suite,
                "finetune_sets": self.finetune_sets,
                "reference": self.reference,
                "acc_pre": dict(zip(cols, self.acc_pre)),
                "acc_post": matrix(self.acc_post),
                "delta": matrix(self.delta),
                "ri": self.ri,
                "mri": self.mri,
                "mean_acc_pre": self.mean_acc_pre,
                "avg_ood_post": self.avg_ood_post,
                "reference_degradation": self.reference_degradation,
                "in_task_gain": self.in_task_gain,
                "mean_reference_degradation": self.mean_reference_degradation,
                "mean_in_task_gain": self.mean_in_task_gain,
                "missing": self.missing,
            }
        )

    def to_markdown(self) -> str:
        """Terminal-ready tables: dA(i->j), then per-set and overall scores."""
        cols = self.columns
        delta_rows = [
            [i, *(fmt(v, signed=True) for v in self.delta[a])]
            for a, i in enumerate(self.finetune_sets)
        ]
        delta_rows.append([PRETRAINED + " (A_pre)", *(fmt(v) for v in self.acc_pre)])
        parts = [
            "dA(i -> j), percentage points (rows: fine-tuned on i; n/a: missing)",
            markdown_table(["i \\ j", *cols], delta_rows),
        ]
        head = ["fine-tuning set", "RI_i", "in-task gain"] + (
            ["reference degradation"] if self.reference else []
        )
        rows = []
        for i in self.finetune_sets:
            row = [i, fmt(self.ri[i], signed=True), fmt(self.in_task_gain[i], signed=True)]
            if self.reference:
                row.append(fmt(self.reference_degradation[i], signed=True))
            rows.append(row)
        parts += ["", markdown_table(head, rows), ""]
        parts.append(
            f"mRI = {fmt(self.mri, signed=True)}   mean A_pre (OOD) = {fmt(self.mean_acc_pre)}   "
            f"average post-fine-tuning OOD accuracy = {fmt(self.avg_ood_post)}"
        )
        if self.missing:
            cells = ", ".join(f"{r}->{c}" for r, c in self.missing)
            parts.append(
                f"missing cells ({len(self.missing)}), reported as n/a, never as 0: {cells}"
            )
        return "\n".join(parts)


def scores_from_arrays(
    acc_pre: np.ndarray,
    acc_post: np.ndarray,
    suite: Sequence[str],
    finetune_sets: Sequence[str],
    reference: str | None = None,
) -> RIBScores:
    """Build `RIBScores` from validated arrays (pre: (c,), post: (r, c); NaN = missing)."""
    suite, rows = check_suite(suite, reference, finetune_sets)
    cols = score_columns(suite, reference)
    pre = np.asarray(acc_pre, dtype=np.float64)
    post = np.asarray(acc_post, dtype=np.float64)
    if pre.shape != (len(cols),) or post.shape != (len(rows), len(cols)):
        raise ScoreInputError(
            f"accuracy arrays have shapes pre={pre.shape}, post={post.shape}; expected "
            f"pre=({len(cols)},) and post=({len(rows)}, {len(cols)}) for columns {cols} "
            f"(the suite, then the reference) and rows {rows}"
        )
    for where, arr in (("acc_pre", pre), ("acc_post", post)):
        bad = arr[~np.isnan(arr) & ((arr < 0) | (arr > 100))]
        if bad.size:
            raise ScoreInputError(
                f"{where} holds {bad[0]!r}, outside [0, 100]; accuracies are top-1 percentages"
            )
    finite = np.concatenate([pre[~np.isnan(pre)], post[~np.isnan(post)]])
    if finite.size and finite.max() <= 1.0 and finite.max() > 0:
        logger.warning("all accuracies are <= 1: are they fractions? RIB scores expect percentages")
    idx = np.array([suite.index(r) for r in rows])
    out = rib_arrays(pre, post, idx, len(suite))
    missing = [(PRETRAINED, c) for c, v in zip(cols, pre) if np.isnan(v)]
    missing += [
        (i, c) for a, i in enumerate(rows) for b, c in enumerate(cols) if np.isnan(post[a, b])
    ]
    if missing:
        logger.info("%d missing cell(s): statistics touching them are NaN", len(missing))
    ref = out.get("reference_degradation")
    ref_mean = out.get("mean_reference_degradation")
    return RIBScores(
        suite=suite,
        finetune_sets=rows,
        reference=reference,
        acc_pre=pre,
        acc_post=post,
        delta=out["delta"],
        ri={i: float(v) for i, v in zip(rows, out["ri"])},
        mri=float(out["mri"]),
        mean_acc_pre=float(out["mean_acc_pre"]),
        avg_ood_post=float(out["avg_ood_post"]),
        reference_degradation={} if ref is None else {i: float(v) for i, v in zip(rows, ref)},
        in_task_gain={i: float(v) for i, v in zip(rows, out["in_task_gain"])},
        mean_reference_degradation=math.nan if ref_mean is None else float(ref_mean),
        mean_in_task_gain=float(out["mean_in_task_gain"]),
        missing=missing,
    )


def compute_rib(
    acc_pre: Mapping[str, float],
    acc_post: Mapping[str, Mapping[str, float]],
    suite: Sequence[str],
    reference: str | None = None,
    finetune_sets: Sequence[str] | None = None,
    *,
    allow_extra: bool = False,
) -> RIBScores:
    """RIB scores from accuracy tables (percentages in [0, 100]).

    dA(i->j) = A(i->j) - A_pre(j), RI_i = mean_{j != i} dA(i->j), mRI = mean_i RI_i (Hwang
    et al., arXiv 2410.21582); see the module docstring for every score.

    Args:
        acc_pre: A_pre(j) for every j in `suite` (and `reference`).
        acc_post: acc_post[i][j] = A(i->j), accuracy on j after fine-tuning on i, for every
            i in `finetune_sets` and j in `suite` (and `reference`). Absent keys, None and
            NaN are missing cells: reported in `RIBScores.missing`, never treated as 0.
        suite: the ordered dataset names D_1..D_n (each a fine-tuning and evaluation set).
        reference: the pretraining reference set (e.g. 'imagenet-val') or None.
        finetune_sets: the rows to score (default: the whole suite).
        allow_extra: ignore names outside suite + reference instead of raising.

    Raises:
        ScoreInputError: unknown/duplicate names, accuracies outside [0, 100].
    """
    suite, rows = check_suite(suite, reference, finetune_sets)
    cols = score_columns(suite, reference)
    if not allow_extra:
        extra = [k for k in acc_pre if k not in cols]
        extra += [j for row in acc_post.values() for j in row if j not in cols and j not in extra]
        extra += [i for i in acc_post if i not in suite and i not in extra]
        if extra:
            raise unknown_names_error("dataset", extra, cols)
    pre = np.array([_accuracy(acc_pre.get(j), f"acc_pre[{j!r}]") for j in cols])
    post = np.array(
        [
            [_accuracy(acc_post.get(i, {}).get(j), f"acc_post[{i!r}][{j!r}]") for j in cols]
            for i in rows
        ]
    )
    return scores_from_arrays(pre, post, suite, rows, reference)
