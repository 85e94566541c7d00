"""Does the dataset distance predict forgetting? OTDD(pretraining set, D_i) against the
pretraining-set degradation after fine-tuning on D_i.

The ImageNet-RIB paper (Hwang et al., arXiv 2410.21582) shows that the OTDD between ImageNet
and a downstream dataset D_i predicts the ImageNet accuracy drop A(i->ImageNet) - A_pre(ImageNet)
after fine-tuning on D_i. `correlation` reports Pearson's r and Spearman's rho over the
fine-tuning sets, with their two-sided p-values, and draws the scatter plot.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import RIBError

logger = logging.getLogger(__name__)


@dataclass
class CorrelationResult:
    """Pearson r and Spearman rho between distances x_i and degradations y_i.

    r = sum (x_i - mean x)(y_i - mean y) / sqrt(sum (x_i - mean x)^2 sum (y_i - mean y)^2);
    rho = r of the ranks. p-values are two-sided (scipy.stats).
    """

    names: list[str]
    distances: np.ndarray
    degradations: np.ndarray
    pearson: float
    pearson_p: float
    spearman: float
    spearman_p: float
    plot_path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        def clean(v: float) -> float | None:
            return None if math.isnan(v) else float(v)

        return {
            "names": list(self.names),
            "distances": [float(v) for v in self.distances],
            "degradations": [float(v) for v in self.degradations],
            "n": len(self.names),
            "pearson": clean(self.pearson),
            "pearson_p": clean(self.pearson_p),
            "spearman": clean(self.spearman),
            "spearman_p": clean(self.spearman_p),
            "plot_path": self.plot_path,
        }


def _scatter(result: CorrelationResult, path: str | Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4))
    ax.scatter(result.distances, result.degradations)
    for name, x, y in zip(result.names, result.distances, result.degradations):
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    if len(result.names) >= 2 and np.ptp(result.distances) > 0:
        slope, icept = np.polyfit(result.distances, result.degradations, 1)
        xs = np.linspace(result.distances.min(), result.distances.max(), 2)
        ax.plot(xs, slope * xs + icept, linestyle="--", linewidth=1)
    ax.set_xlabel("OTDD(pretraining set, D_i)")
    ax.set_ylabel("pretraining-set accuracy change after fine-tuning on D_i (pp)")
    ax.set_title(
        f"{title}\nPearson r = {result.pearson:.3f}, Spearman rho = {result.spearman:.3f}",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)


def correlation(
    distances: Mapping[str, float] | Sequence[float],
    degradations: Mapping[str, float] | Sequence[float],
    *,
    names: Sequence[str] | None = None,
    plot_path: str | Path | None = None,
    title: str = "OTDD vs pretraining-set degradation",
) -> CorrelationResult:
    """Correlate OTDD(pretraining set, D_i) with the degradation after fine-tuning on D_i.

    Args:
        distances: {D_i: OTDD value} (e.g. `otdd(...).distance` per dataset), or a sequence.
        degradations: {D_i: A(i->ref) - A_pre(ref)} (e.g. `RIBScores.reference_degradation`),
            or a sequence of the same length. Mapping keys must match; NaN (a missing run) is
            an error, never dropped silently.
        names: point labels when both inputs are sequences (default "0", "1", ...).
        plot_path: where to save the scatter plot (png/pdf/svg); None: no plot.
    """
    from scipy import stats

    if isinstance(distances, Mapping) and isinstance(degradations, Mapping):
        if set(distances) != set(degradations):
            raise RIBError(
                f"distances and degradations must cover the same datasets; only in distances: "
                f"{sorted(set(distances) - set(degradations))}, only in degradations: "
                f"{sorted(set(degradations) - set(distances))}"
            )
        names = list(distances)
        x = np.array([float(distances[k]) for k in names])
        y = np.array([float(degradations[k]) for k in names])
    elif isinstance(distances, Mapping) or isinstance(degradations, Mapping):
        raise RIBError("pass both distances and degradations as mappings, or both as sequences")
    else:
        x = np.asarray(distances, dtype=float)
        y = np.asarray(degradations, dtype=float)
        if x.shape != y.shape or x.ndim != 1:
            raise RIBError(
                f"distances {x.shape} and degradations {y.shape} must be equal-length 1-D"
            )
        names = [str(k) for k in range(len(x))] if names is None else [str(k) for k in names]
    bad = [k for k, a, b in zip(names, x, y) if math.isnan(a) or math.isnan(b)]
    if bad:
        raise RIBError(
            f"missing values (NaN) for {bad}; finish those runs or leave them out explicitly"
        )
    if len(names) < 2:
        raise RIBError(
            f"need at least 2 datasets to correlate (3 or more to mean much), got {len(names)}"
        )
    if len(names) < 3:
        logger.warning("correlation over %d points is +-1 by construction", len(names))
    pearson = stats.pearsonr(x, y)
    spearman = stats.spearmanr(x, y)
    result = CorrelationResult(
        list(names),
        x,
        y,
        float(pearson[0]),
        float(pearson[1]),
        float(spearman[0]),
        float(spearman[1]),
    )
    if plot_path is not None:
        _scatter(result, plot_path, title)
        result.plot_path = str(plot_path)
    return result
