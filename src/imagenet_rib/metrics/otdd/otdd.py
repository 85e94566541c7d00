"""OTDD: optimal transport dataset distance between two labelled feature sets (an `evaluate` metric).

A thin wrapper over `imagenet_rib.otdd.otdd`: every input row is one sample, its feature
vector, its label and which of the two datasets it belongs to.
"""

import datasets
import evaluate
import numpy as np

from imagenet_rib.metrics.inputs import check_features
from imagenet_rib.otdd import OTDDConfig, OTDDEntry, OTDDVector, otdd

_CITATION = """\
@inproceedings{alvarezmelis2020otdd,
  title     = {Geometric Dataset Distances via Optimal Transport},
  author    = {Alvarez-Melis, David and Fusi, Nicol{\\`o}},
  booktitle = {Advances in Neural Information Processing Systems},
  volume    = {33},
  year      = {2020}
}
"""

_DESCRIPTION = """\
Optimal transport dataset distance (Alvarez-Melis & Fusi, NeurIPS 2020) with the reference
code's cost: c((x, y), (x', y')) = 1/2 ||x - x'||^2 + 1/2 W(y, y'), W the squared 2-Wasserstein
distance between class-conditional Gaussians (Bures-Wasserstein) or, with inner="exact",
between the class samples. Outer problem: exact network simplex or the debiased Sinkhorn
divergence with an absolute epsilon, iterated to convergence. Squared scale, no root.
"""

_KWARGS_DESCRIPTION = """
One row per sample.
Args:
    features: the sample's feature vector (list of float, the same length d in every row),
        e.g. a model's pre-logit features (`imagenet_rib.otdd.extract_features`).
    labels: its class label (int).
    dataset: which dataset it belongs to; exactly two distinct values. The first value
        seen is dataset a, the other dataset b (the distance is symmetric).
    Any `imagenet_rib.otdd.OTDDConfig` option as a keyword: inner, covariance, cov_ridge,
    min_class_count, outer, max_samples, epsilon, sinkhorn_tol, sinkhorn_max_iter, seed.
Returns:
    The OTDD file format of `rib otdd --json` and `rib report --otdd` (docs/protocol.md):
    {"format": "imagenet-rib-otdd", "schema_version": 1, "entries": [entry]} with one entry:
    'reference' and 'dataset' (the two `dataset` values a, b), 'model': None, 'distance',
    'method' ('exact' or 'sinkhorn'), 'classes_a', 'classes_b' and 'label_distances'
    (k_a x k_b, W before the 1/2 factor), 'diagnostics' (sample counts, dropped classes,
    covariance regularisation, solver status) and 'config'.
    `imagenet_rib.otdd.OTDDVector.from_dict(out)` reads it back.
Examples:
    >>> from imagenet_rib import metrics
    >>> otdd = evaluate.load(metrics.path("otdd"))
    >>> out = otdd.compute(
    ...     features=[[0.0], [0.2], [1.0], [1.2], [0.1], [0.3], [1.1], [1.3]],
    ...     labels=[0, 0, 1, 1, 0, 0, 1, 1],
    ...     dataset=["a"] * 4 + ["b"] * 4,
    ... )
    >>> round(out["entries"][0]["distance"], 6)  # shift 0.1: 1/2 * 0.1^2 (features) + 1/2 * 0.1^2 (class means)
    0.01
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Otdd(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "features": datasets.List(datasets.Value("float32")),
                    "labels": datasets.Value("int64"),
                    "dataset": datasets.Value("string"),
                }
            ),
            homepage="https://github.com/microsoft/otdd",
            reference_urls=["https://arxiv.org/abs/2002.02923"],
        )

    def add_batch(self, *, predictions=None, references=None, **kwargs):
        """Add samples; features and labels are checked before `evaluate` casts them."""
        if all(kwargs.get(k) is not None for k in ("features", "labels", "dataset")):
            # before evaluate casts them: ragged or empty rows, float labels
            check_features(kwargs["features"], kwargs["labels"], kwargs["dataset"])
        super().add_batch(predictions=predictions, references=references, **kwargs)

    def _compute(self, features, labels, dataset, **options):
        names = list(dict.fromkeys(dataset))
        if len(names) != 2:
            raise ValueError(f"`dataset` must take exactly two distinct values, got {names}")
        side = np.asarray(dataset) == names[0]
        x, y = check_features(features, labels, dataset)
        result = otdd(x[side], y[side], x[~side], y[~side], OTDDConfig(**options))
        return OTDDVector((OTDDEntry(None, str(names[0]), str(names[1]), result),)).to_dict()
