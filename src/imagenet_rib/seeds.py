"""Confidence intervals for the RIB scores over training seeds.

Every RIB score is linear in the accuracies, so the estimate over S seeds is the score of the
seed-mean accuracies. `seed_intervals` gives the percentile bootstrap of B replicates (each
redraws the S seeds with replacement and averages them) or a Student t interval, which is
better behaved with the 3 to 5 seeds a sweep usually has. The image intervals are
`intervals.bootstrap_rib`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np

from .intervals import RIBIntervals, assemble_intervals, check_confidence, percentile_interval
from .scores import RIBScores, ScoreInputError, rib_arrays, scores_from_arrays


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
    check_confidence(confidence)
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
        out = rib_arrays(pre[draws].mean(1), post[draws].mean(1), idx, n)
        stats = {k: percentile_interval(v, confidence) for k, v in out.items()}
        return assemble_intervals(point, stats, "bootstrap-seeds", confidence, n_boot)
    if method == "t":
        from scipy import stats as scipy_stats

        per_seed = rib_arrays(pre, post, idx, n)  # (S, ...)
        tq = float(scipy_stats.t.ppf((1.0 + confidence) / 2.0, df=len(scores) - 1))
        half = {k: tq * v.std(0, ddof=1) / math.sqrt(len(scores)) for k, v in per_seed.items()}
        stats = {k: (v.mean(0) - half[k], v.mean(0) + half[k]) for k, v in per_seed.items()}
        return assemble_intervals(point, stats, "t-seeds", confidence, len(scores))
    raise ScoreInputError(f"method={method!r} is not allowed; choose one of ['bootstrap', 't']")


__all__ = ["seed_intervals"]
