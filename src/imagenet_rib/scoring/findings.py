"""Computed findings: the difference of a score between two configurations of one
`ScoreTable`, with its intervals (the closing lines of `rib demo`; none is written by hand).

For configurations A and B of the same `score_records` call and a score T (mRI, the mean
in-task gain, the mean pretrained OOD accuracy):

- estimate: T(A) - T(B) of the seed aggregates;
- images: the [(1-c)/2, (1+c)/2] percentile range of T*_b(A) - T*_b(B) over the B
  image-bootstrap replicates. Both come from the same draws of the test images (one draw per
  evaluation set shared by every model), so the difference is paired and the error common
  to both (a hard test image) cancels;
- seeds: with S >= 2 seeds common to A and B, the Student t interval of the per-seed
  differences d_s = T_s(A) - T_s(B) (paired by seed): mean(d) +- t_{S-1,(1+c)/2} sd(d)/sqrt(S).

A difference is *separable at c* when every interval it has excludes 0; otherwise the line
says "not separable".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..formatting import fmt, fmt_interval, json_safe
from ..intervals import Interval
from ..scores import ScoreInputError
from .results import ScoreResult, ScoreTable

#: how each compared score is named in a finding
SYMBOLS = {
    "mri": "ΔmRI",
    "mean_in_task_gain": "Δ in-task gain",
    "mean_acc_pre": "Δ mean OOD accuracy before fine-tuning",
}


@dataclass
class Comparison:
    """T(A) - T(B) for score `score` (a key of `SYMBOLS`) with its image and seed intervals
    (None where not available); `title` names A and B."""

    title: str
    score: str
    estimate: float
    images: Interval | None
    seeds: Interval | None
    n_seeds: int
    confidence: float

    @property
    def intervals(self) -> list[Interval]:
        return [iv for iv in (self.images, self.seeds) if iv is not None]

    @property
    def separable(self) -> bool:
        """Every interval is finite and excludes 0 (and there is at least one)."""
        ivs = self.intervals
        finite = all(math.isfinite(iv.low) and math.isfinite(iv.high) for iv in ivs)
        return bool(ivs) and finite and all(0.0 not in iv for iv in ivs)

    def __str__(self) -> str:
        pct = f"{100 * self.confidence:g} %"
        text = f"{self.title}: {SYMBOLS[self.score]} = {fmt(self.estimate, signed=True)}"
        bounds = []
        if self.images is not None:
            bounds.append(f"{fmt_interval(self.images.low, self.images.high)} (images)")
        if self.seeds is not None:
            seeds = f"{self.n_seeds} seeds, paired"
            bounds.append(f"{fmt_interval(self.seeds.low, self.seeds.high)} ({seeds})")
        if not bounds:
            return f"{text} (no interval: no per-image results and one seed)"
        verdict = "separable" if self.separable else "not separable"
        return f"{text} {', '.join(bounds)}: {verdict} at {pct}"

    def to_dict(self) -> dict:
        return json_safe(
            {
                "title": self.title,
                "score": self.score,
                "estimate": self.estimate,
                "images": None if self.images is None else self.images.to_dict(),
                "seeds": None if self.seeds is None else self.seeds.to_dict(),
                "n_seeds": self.n_seeds,
                "confidence": self.confidence,
                "separable": self.separable,
                "text": str(self),
            }
        )


def _t_interval(d: np.ndarray, confidence: float) -> Interval:
    from scipy import stats

    tq = float(stats.t.ppf((1.0 + confidence) / 2.0, df=len(d) - 1))
    half = tq * float(d.std(ddof=1)) / math.sqrt(len(d))
    return Interval(float(d.mean()), float(d.mean()) - half, float(d.mean()) + half)


def compare(
    a: ScoreResult, b: ScoreResult, score: str, title: str, confidence: float = 0.95
) -> Comparison:
    """T(a) - T(b) for score `score` with its paired intervals (see the module docstring).

    `a` and `b` must come from the same `ScoreTable` (the same bootstrap draws)."""
    if score not in SYMBOLS:
        raise ScoreInputError(f"score={score!r} cannot be compared; choose one of {list(SYMBOLS)}")
    estimate = getattr(a.scores, score) - getattr(b.scores, score)
    images = None
    ra = a.image_intervals.replicates.get(score) if a.image_intervals else None
    rb = b.image_intervals.replicates.get(score) if b.image_intervals else None
    if ra is not None and rb is not None and np.isfinite(ra - rb).all():
        alpha = (1.0 - confidence) / 2.0
        diff = ra - rb
        images = Interval(
            estimate, float(np.quantile(diff, alpha)), float(np.quantile(diff, 1.0 - alpha))
        )
    seeds = None
    common = sorted(set(a.per_seed) & set(b.per_seed))
    # the pretrained models' accuracy does not vary with the fine-tuning seed
    if score != "mean_acc_pre" and len(common) >= 2:
        d = np.array(
            [getattr(a.per_seed[s], score) - getattr(b.per_seed[s], score) for s in common]
        )
        if np.isfinite(d).all():
            seeds = _t_interval(d, confidence)
    return Comparison(title, score, estimate, images, seeds, len(common), confidence)


def findings(table: ScoreTable, base_method: str = "ft") -> list[Comparison]:
    """The comparisons `rib demo` closes with, all computed from `table`:

    - each later pretraining source against the first: its mean OOD accuracy before
      fine-tuning, then ΔmRI for every configuration both have;
    - within each source, every other configuration against `base_method`: ΔmRI and
      Δ in-task gain (the trade-off between keeping robustness and learning the task).

    Only complete configurations (every cell present) are compared."""
    done = [r for r in table if r.complete]
    sources = list(dict.fromkeys(table.source(r) for r in done))
    by = {(table.source(r), r.label): r for r in done}
    conf = table.confidence
    out: list[Comparison] = []
    first = sources[0] if sources else None
    for other in sources[1:]:
        pair = f"{other} vs {first}"
        labels = [lab for s, lab in by if s == other and (first, lab) in by]
        if labels:
            anchor = base_method if base_method in labels else labels[0]
            a, b = by[(other, anchor)], by[(first, anchor)]
            out.append(compare(a, b, "mean_acc_pre", f"{pair} pretraining", conf))
        for lab in labels:
            a, b = by[(other, lab)], by[(first, lab)]
            out.append(compare(a, b, "mri", f"{pair} pretraining, {lab}", conf))
    for src in sources:
        if (src, base_method) not in by:
            continue
        base = by[(src, base_method)]
        for (s, lab), r in by.items():
            if s != src or lab == base_method:
                continue
            for score in ("mri", "mean_in_task_gain"):
                out.append(compare(r, base, score, f"{src}, {lab} vs {base_method}", conf))
    return out


__all__ = ["SYMBOLS", "Comparison", "compare", "findings"]
