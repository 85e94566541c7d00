"""Pearson and Spearman correlations of paired values with Fisher-z confidence intervals
(the report's OTDD-versus-degradation scatter)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .formatting import json_safe
from .intervals import Interval, check_confidence
from .scores import ScoreInputError


@dataclass
class CorrelationInterval:
    """Pearson r and Spearman rho of n paired values, each with a Fisher-z interval.

    Pearson: z = atanh(r), se = 1 / sqrt(n - 3), bounds tanh(z -+ q se) with q the standard
    normal (1+c)/2 quantile (Fisher 1921). Spearman: the same transform with the variance
    (1 + rho^2 / 2) / (n - 3) of Bonett & Wright (2000, Psychometrika 65). Both need n >= 4;
    below that the bounds are NaN. Point estimates are exact (`scipy.stats`).
    """

    n: int
    pearson: Interval
    spearman: Interval
    confidence: float
    method: str = "fisher-z"

    def to_dict(self) -> dict[str, Any]:
        return json_safe(
            {
                "n": self.n,
                "pearson": self.pearson.to_dict(),
                "spearman": self.spearman.to_dict(),
                "confidence": self.confidence,
                "method": self.method,
            }
        )


def _fisher_interval(r: float, se: float, q: float) -> Interval:
    if not math.isfinite(se) or math.isnan(r):
        return Interval(r, math.nan, math.nan)
    if abs(r) >= 1.0 - 1e-12:  # atanh(+-1) is infinite: the interval collapses onto r
        return Interval(r, r, r)
    z = math.atanh(r)
    return Interval(r, math.tanh(z - q * se), math.tanh(z + q * se))


def correlation_interval(
    x: Sequence[float], y: Sequence[float], confidence: float = 0.95
) -> CorrelationInterval:
    """Pearson and Spearman correlation of (x_k, y_k), k = 1..n, with Fisher-z intervals."""
    from scipy import stats

    check_confidence(confidence)
    xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if xa.shape != ya.shape or xa.ndim != 1 or len(xa) < 2:
        raise ScoreInputError(
            f"correlation needs two equal-length 1-D sequences of >= 2 values, got shapes "
            f"{xa.shape} and {ya.shape}"
        )
    if np.isnan(xa).any() or np.isnan(ya).any():
        raise ScoreInputError("correlation got NaN values; leave the missing points out")
    n = len(xa)
    constant = np.ptp(xa) == 0 or np.ptp(ya) == 0  # r is undefined, not 0
    r = math.nan if constant else float(stats.pearsonr(xa, ya)[0])
    rho = math.nan if constant else float(stats.spearmanr(xa, ya)[0])
    q = float(stats.norm.ppf((1.0 + confidence) / 2.0))
    se = 1.0 / math.sqrt(n - 3) if n > 3 else math.inf
    se_rho = math.sqrt((1.0 + rho**2 / 2.0) / (n - 3)) if n > 3 else math.inf
    return CorrelationInterval(
        n, _fisher_interval(r, se, q), _fisher_interval(rho, se_rho, q), confidence
    )
