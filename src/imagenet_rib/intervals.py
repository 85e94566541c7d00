"""Confidence intervals for the RIB scores: over test images, and over seeds.

The ImageNet-RIB paper (Hwang et al., arXiv 2410.21582) reports point estimates only. A score
computed on finite test sets has sampling error, estimated here by:

- `bootstrap_rib`: a paired percentile bootstrap over images. Each replicate b redraws the
  n_j images of every evaluation set D_j with replacement, independently per dataset, and
  scores the SAME redrawn images for the pretrained and every fine-tuned model, so
  dA*(i->j) = A*(i->j) - A*_pre(j) keeps the pairing. The interval of a statistic T is
  [q_{(1-c)/2}, q_{(1+c)/2}] of its B replicates T*_1..T*_B (Efron & Tibshirani 1993, 13.3).
  Where several rows share a source (a `group`: the views of one object, the corrupted
  versions of one clean image) their errors are correlated, and resampling rows as if they
  were independent makes the interval too narrow. Given groups, a replicate redraws the G
  groups instead (the cluster bootstrap, Davison & Hinkley 1997, 3.8) and scores
  A* = 100 * sum_g c_g S_g / sum_g c_g n_g with c_g the draw counts, S_g the number of correct
  rows of group g and n_g its size (a ratio estimator: groups may differ in size).
- `seeds.seed_intervals`: the same percentile bootstrap over training seeds, or a Student t
  interval (its own module).
`resample_accuracies` (the paired draw) and `intervals_from_replicates` are the kernel that
`bootstrap_rib` and `imagenet_rib.scoring` share. Point estimates equal `compute_rib` on the
same data; a missing cell stays NaN.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .formatting import fmt, fmt_interval, json_safe, markdown_table
from .scores import (
    RIBScores,
    ScoreInputError,
    check_suite,
    rib_arrays,
    score_columns,
    scores_from_arrays,
    unknown_names_error,
)

logger = logging.getLogger(__name__)

#: Per-image values held at once by the resampling (n_j images x m models), ~256 MB float32.
_BOOT_VALUE_CELLS = 64_000_000
#: Resample counts held at once (B_chunk replicates x n_j images).
_BOOT_COUNT_CELLS = 4_000_000
#: Per-set scores (dict by fine-tuning set) and overall scores (floats) of `RIBIntervals`.
PER_SET = ("ri", "reference_degradation", "in_task_gain")
OVERALL = (
    "mri",
    "mean_acc_pre",
    "avg_ood_post",
    "mean_reference_degradation",
    "mean_in_task_gain",
)


@dataclass
class Interval:
    """A point estimate with its confidence interval [low, high] (NaN where not defined)."""

    estimate: float
    low: float
    high: float

    @property
    def width(self) -> float:
        return self.high - self.low

    def __contains__(self, value: float) -> bool:
        return self.low <= value <= self.high

    def to_dict(self) -> dict[str, float | None]:
        return json_safe({"estimate": self.estimate, "low": self.low, "high": self.high})

    def __str__(self) -> str:
        return f"{fmt(self.estimate, signed=True)} {fmt_interval(self.low, self.high)}"


@dataclass
class RIBIntervals:
    """Confidence intervals of the RIB scores.

    Attributes:
        scores: the point estimates (for seeds: the RIB scores of the seed-mean accuracies).
        method: 'bootstrap-images', 'bootstrap-seeds' or 't-seeds'.
        confidence: the nominal coverage c, e.g. 0.95.
        n_resamples: B bootstrap replicates (or the number of seeds for 't-seeds').
        delta_low, delta_high: (r, c) interval bounds of dA(i->j).
        ri, reference_degradation, in_task_gain: per fine-tuning set intervals.
        mri, mean_acc_pre, avg_ood_post, mean_reference_degradation, mean_in_task_gain:
            intervals of the overall scores (`mean_reference_degradation` is all-NaN
            without a reference).
        replicates: ``{overall score: (B,) replicates}`` of a bootstrap over images (empty
            otherwise): two results scored with the same draws give the paired bootstrap of
            their difference (`scoring.findings`).
    """

    scores: RIBScores
    method: str
    confidence: float
    n_resamples: int
    delta_low: np.ndarray
    delta_high: np.ndarray
    ri: dict[str, Interval]
    reference_degradation: dict[str, Interval]
    in_task_gain: dict[str, Interval]
    mri: Interval
    mean_acc_pre: Interval
    avg_ood_post: Interval
    mean_reference_degradation: Interval
    mean_in_task_gain: Interval
    replicates: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        cols, rows = self.scores.columns, self.scores.finetune_sets

        def bounds(m: np.ndarray) -> dict[str, dict[str, float]]:
            return {i: dict(zip(cols, m[a])) for a, i in enumerate(rows)}

        out: dict[str, Any] = {
            "method": self.method,
            "confidence": self.confidence,
            "n_resamples": self.n_resamples,
            "scores": self.scores.to_dict(),
            "delta_low": bounds(self.delta_low),
            "delta_high": bounds(self.delta_high),
        }
        out.update({k: {i: v.to_dict() for i, v in getattr(self, k).items()} for k in PER_SET})
        out.update({k: getattr(self, k).to_dict() for k in OVERALL})
        return json_safe(out)

    def to_markdown(self) -> str:
        pct = f"{100 * self.confidence:g}%"
        head = ["fine-tuning set", f"RI_i [{pct} CI]", "in-task gain"]
        head += ["reference degradation"] if self.scores.reference else []
        rows = []
        for i in self.scores.finetune_sets:
            row = [i, str(self.ri[i]), str(self.in_task_gain[i])]
            if self.scores.reference:
                row.append(str(self.reference_degradation[i]))
            rows.append(row)
        return "\n".join(
            [
                f"RIB scores with {pct} intervals ({self.method}, {self.n_resamples} resamples)",
                markdown_table(head, rows),
                "",
                f"mRI = {self.mri}   average post-fine-tuning OOD accuracy = {self.avg_ood_post}",
            ]
        )


def percentile_interval(samples: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bounds over axis 0; NaN (a missing cell) stays NaN."""
    alpha = (1.0 - confidence) / 2.0
    return np.quantile(samples, alpha, axis=0), np.quantile(samples, 1.0 - alpha, axis=0)


def assemble_intervals(
    point: RIBScores,
    stats: Mapping[str, tuple[np.ndarray, np.ndarray]],
    method: str,
    confidence: float,
    n: int,
) -> RIBIntervals:
    rows = point.finetune_sets
    nan = np.full(len(rows), np.nan)

    def per_row(name: str) -> dict[str, Interval]:
        estimates = getattr(point, name)
        lo, hi = stats.get(name, (nan, nan))
        return {
            i: Interval(estimates.get(i, math.nan), float(lo[a]), float(hi[a]))
            for a, i in enumerate(rows)
        }

    def scalar(name: str) -> Interval:
        lo, hi = stats.get(name, (math.nan, math.nan))
        return Interval(getattr(point, name), float(lo), float(hi))

    return RIBIntervals(
        scores=point,
        method=method,
        confidence=confidence,
        n_resamples=n,
        delta_low=stats["delta"][0],
        delta_high=stats["delta"][1],
        **{k: per_row(k) for k in PER_SET},
        **{k: scalar(k) for k in OVERALL},
    )


def check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ScoreInputError(f"confidence={confidence!r} must lie in (0, 1), e.g. 0.95")


def check_n_boot(n_boot: int) -> None:
    if n_boot < 2:
        raise ScoreInputError(f"n_boot={n_boot!r} must be >= 2 (1000 or more for 95% intervals)")


def as_correct(value: Any, where: str) -> np.ndarray:
    """A per-image top-1 correctness vector as (n,) bool; raises on anything else."""
    arr = np.asarray(value)
    if arr.ndim != 1 or arr.size == 0:
        raise ScoreInputError(
            f"{where} must be a non-empty 1-D vector of per-image correctness, got shape {arr.shape}"
        )
    if arr.dtype != bool and not np.isin(arr, (0, 1)).all():
        raise ScoreInputError(f"{where} must hold booleans (or 0/1): per-image top-1 correctness")
    return arr.astype(bool)


def group_index(groups: Any, n: int, where: str = "groups") -> np.ndarray:
    """(n,) group labels (any values) -> (n,) int codes 0..G-1 numbered by first appearance,
    so the same rows give the same codes (and the same bootstrap draws) on every machine, and
    singleton groups number the rows as the image bootstrap does."""
    arr = np.asarray(groups)
    if arr.ndim != 1 or len(arr) != n:
        raise ScoreInputError(
            f"{where} must give one group label per image ({n}), got shape {arr.shape}; pass the "
            "`group` column of the same test part, in the order the images were evaluated"
        )
    _, first, codes = np.unique(arr.astype(str), return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[codes.ravel()]


def resample_accuracies(
    values: np.ndarray,
    n_boot: int,
    seed: int | Sequence[int],
    groups: Any = None,
) -> np.ndarray:
    """Bootstrap replicates of the accuracies of m models scored on the SAME n images.

    values: (n, m) per-image correctness (bool or 0/1) of each model. Without groups, replicate
    b draws n image indices with replacement (the same draw for every model: paired) and
    returns A*_b = 100 / n * sum_k c_b(k) values[k] with c_b the draw counts; out: (B, m).
    groups: (n,) labels of the rows' sources; then replicate b draws the G groups with
    replacement and returns A*_b = 100 * sum_g c_b(g) S_g / sum_g c_b(g) n_g, with S_g: (G, m)
    the correct rows of group g and n_g its size (the cluster bootstrap; with every row its
    own group this is the image bootstrap, draw for draw). The draws depend only on
    (seed, G, B), so models split over several calls (to bound memory) see the same draws.
    """
    n, m = values.shape
    sizes = None
    if groups is not None:
        codes = group_index(groups, n)
        order = np.argsort(codes, kind="stable")
        starts = np.flatnonzero(np.r_[True, np.diff(codes[order]) != 0])
        sizes = np.diff(np.r_[starts, n]).astype(np.float64)  # (G,)
        # (G, m) correct rows per group (integers: exact in float32 below 2**24 rows)
        values = np.add.reduceat(np.asarray(values, dtype=np.float32)[order], starts, axis=0)
    units = len(values)  # G groups, or n images
    out = np.empty((n_boot, m), dtype=np.float64)
    denom = np.full(n_boot, float(n))
    block = max(1, _BOOT_VALUE_CELLS // units)
    step = max(1, _BOOT_COUNT_CELLS // units)
    for lo in range(0, m, block):
        chunk = np.ascontiguousarray(values[:, lo : lo + block], dtype=np.float32)
        rng = np.random.default_rng(seed)
        for start in range(0, n_boot, step):
            k = min(step, n_boot - start)
            idx = rng.integers(0, units, size=(k, units))
            counts = np.bincount((idx + units * np.arange(k)[:, None]).ravel(), minlength=k * units)
            counts = counts.reshape(k, units)
            out[start : start + k, lo : lo + block] = counts.astype(np.float32) @ chunk
            if sizes is not None and lo == 0:
                denom[start : start + k] = counts @ sizes  # rows in the replicate
    if sizes is None:
        return out * (100.0 / n)
    return out * (100.0 / denom[:, None])


def intervals_from_replicates(
    point: RIBScores,
    pre_b: np.ndarray,
    post_b: np.ndarray,
    confidence: float,
    method: str,
) -> RIBIntervals:
    """Percentile intervals of every score from replicated accuracies.

    pre_b: (B, c) replicates of A_pre over `point.columns`; post_b: (B, r, c) of A(i->j);
    NaN marks a missing cell. Every score is recomputed per replicate (`rib_arrays`) and
    bounded by its [(1-c)/2, (1+c)/2] quantiles.
    """
    idx = np.array([point.suite.index(r) for r in point.finetune_sets])
    reps = rib_arrays(pre_b, post_b, idx, len(point.suite))
    stats = {k: percentile_interval(v, confidence) for k, v in reps.items()}
    out = assemble_intervals(point, stats, method, confidence, len(pre_b))
    out.replicates = {k: reps[k] for k in OVERALL if k in reps}
    return out


def bootstrap_rib(
    correct_pre: Mapping[str, np.ndarray],
    correct_post: Mapping[str, Mapping[str, np.ndarray]],
    suite: Sequence[str],
    reference: str | None = None,
    finetune_sets: Sequence[str] | None = None,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    *,
    groups: Mapping[str, Any] | None = None,
    allow_extra: bool = False,
) -> RIBIntervals:
    """Paired percentile bootstrap over images (or groups of images) of every RIB score.

    A(i->j) = 100 / n_j * sum_k correct_post[i][j][k], A_pre(j) likewise; each of the B = n_boot
    replicates redraws the n_j images of D_j with replacement (independently per j, the same
    draw for all models on D_j), recomputes all scores, and the interval is the
    [(1-c)/2, (1+c)/2] percentile range of the replicates (see the module docstring).

    Args:
        correct_pre: correct_pre[j]: (n_j,) bool, the pretrained model's per-image top-1
            correctness on D_j, for j in suite (and reference).
        correct_post: correct_post[i][j]: (n_j,) bool after fine-tuning on i, the SAME images
            in the same order as correct_pre[j]. Absent vectors are missing cells.
        suite, reference, finetune_sets, allow_extra: as in `compute_rib`.
        n_boot: B, the number of bootstrap replicates.
        confidence: c, the nominal coverage.
        seed: seed of the resampling generator.
        groups: groups[j]: (n_j,) source labels of D_j's images (the dataset's `group`
            column, same order); D_j is then resampled by group (the cluster bootstrap, see
            `resample_accuracies`). Sets without an entry are resampled by image.
    """
    suite, rows = check_suite(suite, reference, finetune_sets)
    check_confidence(confidence)
    check_n_boot(n_boot)
    cols = score_columns(suite, reference)
    groups = dict(groups or {})
    if set(groups) - set(cols):
        raise unknown_names_error("dataset", sorted(set(groups) - set(cols)), cols)
    if not allow_extra:
        extra = sorted({*correct_pre, *(j for r in correct_post.values() for j in r)} - set(cols))
        extra += sorted(set(correct_post) - set(suite))
        if extra:
            raise unknown_names_error("dataset", extra, cols)
    pre = np.full(len(cols), np.nan)
    post = np.full((len(rows), len(cols)), np.nan)
    pre_b = np.full((n_boot, len(cols)), np.nan, dtype=np.float64)
    post_b = np.full((n_boot, len(rows), len(cols)), np.nan, dtype=np.float64)
    for b, j in enumerate(cols):
        if j not in correct_pre:
            continue  # the whole column is missing: dA(., j) is NaN
        models = [as_correct(correct_pre[j], f"correct_pre[{j!r}]")]
        which = []
        for a, i in enumerate(rows):
            if j in correct_post.get(i, {}):
                vec = as_correct(correct_post[i][j], f"correct_post[{i!r}][{j!r}]")
                if vec.shape != models[0].shape:
                    raise ScoreInputError(
                        f"correct_post[{i!r}][{j!r}] has {vec.size} images but correct_pre[{j!r}] "
                        f"has {models[0].size}; the bootstrap is paired, so both must score the "
                        f"same images in the same order"
                    )
                models.append(vec)
                which.append(a)
        stack = np.stack(models, axis=1)  # (n_j, 1 + models)
        acc = 100.0 * stack.mean(0, dtype=np.float64)
        pre[b], post[which, b] = acc[0], acc[1:]
        # independent draws per column
        boot = resample_accuracies(stack, n_boot, (seed, b), groups.get(j))
        pre_b[:, b] = boot[:, 0]
        post_b[:, which, b] = boot[:, 1:]
    point = scores_from_arrays(pre, post, suite, rows, reference)
    return intervals_from_replicates(point, pre_b, post_b, confidence, "bootstrap-images")


__all__ = [
    "Interval",
    "RIBIntervals",
    "assemble_intervals",
    "percentile_interval",
    "bootstrap_rib",
    "group_index",
    "intervals_from_replicates",
    "resample_accuracies",
]
