"""Confidence intervals for the RIB scores: over test images, and over seeds.

The ImageNet-RIB paper (Hwang et al., arXiv 2410.21582) reports point estimates only. A score
computed on finite test sets has sampling error, estimated here by:

- `bootstrap_rib`: a paired percentile bootstrap over images. Each replicate b redraws the
  n_j images of every evaluation set D_j with replacement, independently per dataset, and
  scores the SAME redrawn images for the pretrained and every fine-tuned model, so
  dA*(i->j) = A*(i->j) - A*_pre(j) keeps the pairing. The interval of a statistic T is
  [q_{(1-c)/2}, q_{(1+c)/2}] of its B replicates T*_1..T*_B (Efron & Tibshirani 1993, 13.3).
- `seed_intervals`: the same percentile bootstrap over training seeds (each replicate
  redraws the S seeds with replacement and averages them), or a Student t interval, which
  is better behaved with the 3 to 5 seeds a sweep usually has.

Point estimates equal `compute_rib` on the same data; a missing cell stays NaN.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from .scores import (
    PRETRAINED,
    RIBScores,
    ScoreInputError,
    _columns,
    _fmt,
    _json_float,
    _rib_arrays,
    _table,
    _unknown,
    check_suite,
    scores_from_arrays,
)

logger = logging.getLogger(__name__)

_BOOT_CHUNK_CELLS = 4_000_000  # resample indices held at once: B_chunk * n_j


@dataclass
class Interval:
    """A point estimate with its confidence interval [low, high]."""

    estimate: float
    low: float
    high: float

    @property
    def width(self) -> float:
        return self.high - self.low

    def __contains__(self, value: float) -> bool:
        return self.low <= value <= self.high

    def to_dict(self) -> dict[str, float | None]:
        return {k: _json_float(getattr(self, k)) for k in ("estimate", "low", "high")}

    def __str__(self) -> str:
        return f"{_fmt(self.estimate)} [{_fmt(self.low)}, {_fmt(self.high)}]"


@dataclass
class RIBIntervals:
    """Confidence intervals of the RIB scores.

    Attributes:
        scores: the point estimates (for seeds: the RIB scores of the seed-mean accuracies).
        method: 'bootstrap-images', 'bootstrap-seeds' or 't-seeds'.
        confidence: the nominal coverage c, e.g. 0.95.
        n_resamples: B bootstrap replicates (or the number of seeds for 't-seeds').
        delta_low, delta_high: (r, c) interval bounds of dA(i->j).
        ri, mri, avg_ood_post, reference_degradation, in_task_gain: intervals of each score.
    """

    scores: RIBScores
    method: str
    confidence: float
    n_resamples: int
    delta_low: np.ndarray
    delta_high: np.ndarray
    ri: dict[str, Interval]
    mri: Interval
    avg_ood_post: Interval
    reference_degradation: dict[str, Interval]
    in_task_gain: dict[str, Interval]

    def to_dict(self) -> dict[str, Any]:
        cols, rows = self.scores.columns, self.scores.finetune_sets

        def bounds(m: np.ndarray) -> dict[str, dict[str, float | None]]:
            return {
                i: {j: _json_float(m[a, b]) for b, j in enumerate(cols)} for a, i in enumerate(rows)
            }

        return {
            "method": self.method,
            "confidence": self.confidence,
            "n_resamples": self.n_resamples,
            "scores": self.scores.to_dict(),
            "delta_low": bounds(self.delta_low),
            "delta_high": bounds(self.delta_high),
            "ri": {k: v.to_dict() for k, v in self.ri.items()},
            "mri": self.mri.to_dict(),
            "avg_ood_post": self.avg_ood_post.to_dict(),
            "reference_degradation": {
                k: v.to_dict() for k, v in self.reference_degradation.items()
            },
            "in_task_gain": {k: v.to_dict() for k, v in self.in_task_gain.items()},
        }

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
                _table(head, rows),
                "",
                f"mRI = {self.mri}   average post-fine-tuning OOD accuracy = {self.avg_ood_post}",
            ]
        )


def _quantiles(samples: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bounds over axis 0; NaN (a missing cell) stays NaN."""
    alpha = (1.0 - confidence) / 2.0
    return np.quantile(samples, alpha, axis=0), np.quantile(samples, 1.0 - alpha, axis=0)


def _assemble(
    point: RIBScores,
    stats: Mapping[str, tuple[np.ndarray, np.ndarray]],
    method: str,
    confidence: float,
    n: int,
) -> RIBIntervals:
    rows = point.finetune_sets

    def per_row(name: str, estimates: Mapping[str, float]) -> dict[str, Interval]:
        if name not in stats:
            return {}
        lo, hi = stats[name]
        return {i: Interval(estimates[i], float(lo[a]), float(hi[a])) for a, i in enumerate(rows)}

    def scalar(name: str, estimate: float) -> Interval:
        lo, hi = stats[name]
        return Interval(estimate, float(lo), float(hi))

    return RIBIntervals(
        scores=point,
        method=method,
        confidence=confidence,
        n_resamples=n,
        delta_low=stats["delta"][0],
        delta_high=stats["delta"][1],
        ri=per_row("ri", point.ri),
        mri=scalar("mri", point.mri),
        avg_ood_post=scalar("avg_ood_post", point.avg_ood_post),
        reference_degradation=per_row("reference_degradation", point.reference_degradation),
        in_task_gain=per_row("in_task_gain", point.in_task_gain),
    )


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ScoreInputError(f"confidence={confidence!r} must lie in (0, 1), e.g. 0.95")


def _as_correct(value: Any, where: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.ndim != 1 or arr.size == 0:
        raise ScoreInputError(
            f"{where} must be a non-empty 1-D vector of per-image correctness, got shape {arr.shape}"
        )
    if arr.dtype != bool and not np.isin(arr, (0, 1)).all():
        raise ScoreInputError(f"{where} must hold booleans (or 0/1): per-image top-1 correctness")
    return arr.astype(np.float32)


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
    allow_extra: bool = False,
) -> RIBIntervals:
    """Paired percentile bootstrap over images of every RIB score.

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
    """
    suite, rows = check_suite(suite, reference, finetune_sets)
    _check_confidence(confidence)
    if n_boot < 2:
        raise ScoreInputError(f"n_boot={n_boot!r} must be >= 2 (1000 or more for 95% intervals)")
    cols = _columns(suite, reference)
    if not allow_extra:
        extra = sorted({*correct_pre, *(j for r in correct_post.values() for j in r)} - set(cols))
        extra += sorted(set(correct_post) - set(suite))
        if extra:
            raise _unknown("dataset", extra, cols)
    rng = np.random.default_rng(seed)
    pre = np.full(len(cols), np.nan)
    post = np.full((len(rows), len(cols)), np.nan)
    pre_b = np.full((n_boot, len(cols)), np.nan, dtype=np.float64)
    post_b = np.full((n_boot, len(rows), len(cols)), np.nan, dtype=np.float64)
    for b, j in enumerate(cols):
        if j not in correct_pre:
            continue  # the whole column is missing: dA(., j) is NaN
        models = [_as_correct(correct_pre[j], f"correct_pre[{j!r}]")]
        which = []
        for a, i in enumerate(rows):
            if j in correct_post.get(i, {}):
                vec = _as_correct(correct_post[i][j], f"correct_post[{i!r}][{j!r}]")
                if vec.shape != models[0].shape:
                    raise ScoreInputError(
                        f"correct_post[{i!r}][{j!r}] has {vec.size} images but correct_pre[{j!r}] "
                        f"has {models[0].size}; the bootstrap is paired, so both must score the "
                        f"same images in the same order"
                    )
                models.append(vec)
                which.append(a)
        stack = np.stack(models, axis=1)  # (n_j, 1 + models)
        n_j = stack.shape[0]
        acc = 100.0 * stack.mean(0, dtype=np.float64)
        pre[b], post[which, b] = acc[0], acc[1:]
        boot = np.empty((n_boot, stack.shape[1]))
        step = max(1, _BOOT_CHUNK_CELLS // n_j)
        for start in range(0, n_boot, step):
            m = min(step, n_boot - start)
            idx = rng.integers(0, n_j, size=(m, n_j))
            counts = np.bincount((idx + n_j * np.arange(m)[:, None]).ravel(), minlength=m * n_j)
            boot[start : start + m] = counts.reshape(m, n_j).astype(np.float32) @ stack
        boot *= 100.0 / n_j
        pre_b[:, b] = boot[:, 0]
        post_b[:, which, b] = boot[:, 1:]
    point = scores_from_arrays(pre, post, suite, rows, reference)
    idx = np.array([suite.index(r) for r in rows])
    stats = {
        k: _quantiles(v, confidence) for k, v in _rib_arrays(pre_b, post_b, idx, len(suite)).items()
    }
    return _assemble(point, stats, "bootstrap-images", confidence, n_boot)


def seed_intervals(
    scores: Sequence[RIBScores],
    confidence: float = 0.95,
    *,
    method: Literal["bootstrap", "t"] = "bootstrap",
    n_boot: int = 1000,
    seed: int = 0,
) -> RIBIntervals:
    """Intervals over training seeds, from one `RIBScores` per seed.

    Every score is linear in the accuracies, so the estimate is the score of the seed-mean
    accuracies, i.e. the mean over seeds. 'bootstrap': percentile interval of B replicates,
    each the mean over S seeds redrawn with replacement. 't': mean +- t_{S-1,(1+c)/2} s / sqrt(S)
    with s the sample standard deviation over seeds (preferable for S < 10). A cell missing in
    any seed is missing in the result.
    """
    _check_confidence(confidence)
    scores = list(scores)
    if len(scores) < 2:
        raise ScoreInputError(f"seed_intervals needs the scores of >= 2 seeds, got {len(scores)}")
    first = scores[0]
    for k, s in enumerate(scores[1:], start=1):
        if (s.suite, s.finetune_sets, s.reference) != (
            first.suite,
            first.finetune_sets,
            first.reference,
        ):
            raise ScoreInputError(
                f"seed {k} was scored on suite={s.suite}, finetune_sets={s.finetune_sets}, "
                f"reference={s.reference!r} but seed 0 on {first.suite}, {first.finetune_sets}, "
                f"{first.reference!r}; score every seed on the same suite"
            )
    pre = np.stack([s.acc_pre for s in scores])  # (S, c)
    post = np.stack([s.acc_post for s in scores])  # (S, r, c)
    point = scores_from_arrays(
        pre.mean(0), post.mean(0), first.suite, first.finetune_sets, first.reference
    )
    idx = np.array([first.suite.index(r) for r in first.finetune_sets])
    n = len(first.suite)
    if method == "bootstrap":
        draws = np.random.default_rng(seed).integers(0, len(scores), size=(n_boot, len(scores)))
        out = _rib_arrays(pre[draws].mean(1), post[draws].mean(1), idx, n)
        stats = {k: _quantiles(v, confidence) for k, v in out.items()}
        return _assemble(point, stats, "bootstrap-seeds", confidence, n_boot)
    if method == "t":
        from scipy import stats as scipy_stats

        per_seed = _rib_arrays(pre, post, idx, n)  # (S, ...)
        tq = float(scipy_stats.t.ppf((1.0 + confidence) / 2.0, df=len(scores) - 1))
        half = {k: tq * v.std(0, ddof=1) / math.sqrt(len(scores)) for k, v in per_seed.items()}
        stats = {k: (v.mean(0) - half[k], v.mean(0) + half[k]) for k, v in per_seed.items()}
        return _assemble(point, stats, "t-seeds", confidence, len(scores))
    raise ScoreInputError(f"method={method!r} is not allowed; choose one of ['bootstrap', 't']")


__all__ = ["PRETRAINED", "Interval", "RIBIntervals", "bootstrap_rib", "seed_intervals"]
