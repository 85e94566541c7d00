"""Optimal transport dataset distance (Alvarez-Melis & Fusi, NeurIPS 2020) with POT.

- `otdd(x_a, y_a, x_b, y_b, config)`: the distance, with `OTDDConfig` / `OTDDResult`.
- `class_gaussians`, `label_distances`: the Gaussian label distances.
- `extract_features`: streamed pre-logit features of a model over a dataset.
- `OTDDVector` / `OTDDEntry`: the one OTDD file format (``rib otdd --json``, the ``otdd``
  metric, ``rib report --otdd``); `otdd_vector(suite, models)`: OTDD(reference, D_i) for
  every dataset of a suite with each model's features.
- `correlation`: OTDD against the pretraining-set degradation (Pearson, Spearman, plot).

POT, torch, scipy and matplotlib are imported inside the functions that use them.
"""

from .correlate import CorrelationResult, correlation
from .distance import OTDDConfig, OTDDInputError, OTDDResult, exact_label_distances, otdd
from .features import extract_features, find_head
from .gaussian import ClassGaussians, class_gaussians, label_distances
from .sinkhorn import SinkhornReport, entropic_ot
from .suite import otdd_vector, per_class_subsample
from .vector import FORMAT, SCHEMA_VERSION, OTDDEntry, OTDDFormatError, OTDDVector

__all__ = [
    "FORMAT",
    "SCHEMA_VERSION",
    "ClassGaussians",
    "CorrelationResult",
    "OTDDConfig",
    "OTDDEntry",
    "OTDDFormatError",
    "OTDDInputError",
    "OTDDResult",
    "OTDDVector",
    "SinkhornReport",
    "class_gaussians",
    "correlation",
    "entropic_ot",
    "exact_label_distances",
    "extract_features",
    "find_head",
    "label_distances",
    "otdd",
    "otdd_vector",
    "per_class_subsample",
]
