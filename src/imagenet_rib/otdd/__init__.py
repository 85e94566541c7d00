"""Optimal transport dataset distance (Alvarez-Melis & Fusi, NeurIPS 2020) with POT.

- `otdd(x_a, y_a, x_b, y_b, config)`: the distance, with `OTDDConfig` / `OTDDResult`.
- `class_gaussians`, `label_distances`, `bures_wasserstein_sq`: the Gaussian label distances.
- `extract_features`: streamed pre-logit features of a model over a dataset.
- `correlation`: OTDD against the pretraining-set degradation (Pearson, Spearman, plot).

POT, torch, scipy and matplotlib are imported inside the functions that use them.
"""

from .correlate import CorrelationResult, correlation
from .distance import OTDDConfig, OTDDInputError, OTDDResult, exact_label_distances, otdd
from .features import extract_features, find_head
from .gaussian import ClassGaussians, bures_wasserstein_sq, class_gaussians, label_distances
from .sinkhorn import SinkhornReport, entropic_ot

__all__ = [
    "ClassGaussians",
    "CorrelationResult",
    "OTDDConfig",
    "OTDDInputError",
    "OTDDResult",
    "SinkhornReport",
    "bures_wasserstein_sq",
    "class_gaussians",
    "correlation",
    "entropic_ot",
    "exact_label_distances",
    "extract_features",
    "find_head",
    "label_distances",
    "otdd",
]
