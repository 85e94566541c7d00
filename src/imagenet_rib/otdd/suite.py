"""The OTDD vector of a suite: OTDD(reference, D_i) for every dataset D_i, per model.

For each model m and each fine-tuning set D_i of the suite,

    d_m(i) = OTDD(R, D_i)   with phi = m's pre-logit features (`features.extract_features`),

R the suite's pretraining reference set (ImageNet-val for ImageNet-RIB, mini-val for
Mini-RIB). Both sides use the same split part (default ``train``: what fine-tuning on D_i
sees, and for R the rows that are not its test rows, on which the degradation is measured),
optionally a seeded per-class subsample of at most `max_per_class` rows per class. The
reference's features are extracted once per model. The result is the `OTDDVector` that
``rib report --otdd`` correlates with the pretraining-set degradation.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ConfigError
from .distance import OTDDConfig, otdd
from .vector import OTDDEntry, OTDDVector

if TYPE_CHECKING:
    from ..data.loading import SplitPart
    from ..data.splits import SplitConfig
    from ..models import LoadedModel
    from ..suites import SuiteConfig

logger = logging.getLogger(__name__)


def per_class_subsample(targets: np.ndarray, max_per_class: int | None, seed: int) -> np.ndarray:
    """Sorted row indices keeping at most `max_per_class` rows of each target (seeded).

    targets: (n,) class of each row. None keeps every row.
    """
    targets = np.asarray(targets)
    if max_per_class is None:
        return np.arange(len(targets))
    if max_per_class < 2:
        raise ConfigError(
            f"max_per_class must be >= 2 (a class Gaussian needs 2 samples), got {max_per_class}"
        )
    rng = np.random.default_rng([seed, 104729])  # a stream of its own, apart from seed's others
    keep = []
    for cls in np.unique(targets):
        rows = np.flatnonzero(targets == cls)
        if len(rows) > max_per_class:
            rows = rng.choice(rows, size=max_per_class, replace=False)
        keep.append(rows)
    return np.sort(np.concatenate(keep))


def part_features(
    loaded: LoadedModel, part: SplitPart, rows: np.ndarray | None = None, batch_size: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """(features (n, d), targets (n,)) of `loaded` over `rows` of a split part, streamed:
    images are decoded by loader workers batch by batch, never materialised."""
    from ..data.stream import ImageRows, default_workers, loader_workers, make_loader
    from .features import extract_features

    ds, targets = part.dataset, part.targets
    if rows is not None:
        ds, targets = ds.select(rows), targets[rows]
    workers = loader_workers(-1, default_workers(8), len(targets))  # small parts: in process
    loader = make_loader(
        ImageRows(ds, loaded.transform, targets), batch_size=batch_size, num_workers=workers
    )
    batches = ((loaded.transform.normalize(b["pixel_values"]), b["labels"]) for b in loader)
    return extract_features(loaded.model, batches)


def _load(model: str | LoadedModel, label_space: str) -> tuple[str, LoadedModel]:
    from ..models import load_model

    loaded = load_model(model) if isinstance(model, str) else model
    name = model if isinstance(model, str) else loaded.name
    if loaded.label_space != label_space:
        raise ConfigError(
            f"model {name!r} has a {loaded.label_space!r} head but the suite's label space is "
            f"{label_space!r}; compute the OTDD with the suite's own pretrained models"
        )
    return name, loaded


def otdd_vector(
    suite: str | Path | SuiteConfig,
    models: Sequence[str | LoadedModel],
    *,
    max_per_class: int | None = None,
    part: str = "train",
    reference_part: str | None = None,
    split: SplitConfig | None = None,
    config: OTDDConfig | None = None,
    datasets: Sequence[str] | None = None,
    sources: Mapping[str, str] | None = None,
    batch_size: int = 256,
    seed: int = 0,
) -> OTDDVector:
    """OTDD(reference, D_i) for every D_i of `suite` and every model of `models`.

    Args:
        suite: built-in suite name, suite YAML or `SuiteConfig`; must have a ``reference``.
        models: model names / folders / Hub ids (each keyed by that string, as the results
            store records it) or `LoadedModel`s (keyed by their ``name``).
        max_per_class: seeded per-class subsample of each part (None: every row).
        part: split part of D_i ("train" or "test") under `split` (default holdout);
        reference_part: the reference's part (default: `part`; the demo compares the
            reference's test part, on which the degradation is measured, with D_i's train
            part, the data fine-tuned on).
        config: `OTDDConfig` of every distance. datasets: a subset of the suite (default all).
        sources: dataset -> folder or Hub id, over the suite's own ``sources:``.
        seed: seed of the per-class subsample.

    Returns:
        `OTDDVector` with len(models) x len(datasets) entries, in that order.
    """
    from ..data.splits import SplitConfig
    from ..suites import load_suite

    suite = load_suite(suite)
    if suite.reference is None:
        raise ConfigError(
            f"suite {suite.name!r} has no pretraining reference; add `reference: <dataset>` to "
            f"its YAML (the OTDD vector measures OTDD(reference, D_i))"
        )
    if sources:
        suite = suite.replace(sources={**suite.sources, **dict(sources)})
    names = list(suite.datasets if datasets is None else datasets)
    stray = sorted(set(names) - set(suite.datasets))
    if stray or not names:
        raise ConfigError(
            f"datasets {stray or names} are not fine-tuning sets of suite {suite.name!r}; "
            f"choose from {list(suite.datasets)}"
        )
    if not models:
        raise ConfigError("no models to compute the OTDD with; pass at least one model")
    split = split or SplitConfig()
    config = config or OTDDConfig()
    parts: dict[str, tuple[SplitPart, np.ndarray]] = {}
    for name in [suite.reference, *names]:
        p = suite.part(name, (reference_part or part) if name == suite.reference else part, split)
        parts[name] = (p, per_class_subsample(p.targets, max_per_class, seed))
    entries = []
    for model in models:
        key, loaded = _load(model, suite.label_space)
        ref = part_features(loaded, *parts[suite.reference], batch_size)
        for name in names:
            feats = part_features(loaded, *parts[name], batch_size)
            result = otdd(ref[0], ref[1], feats[0], feats[1], config)
            logger.info("OTDD(%s, %s) with %s: %.6g", suite.reference, name, key, result.distance)
            entries.append(OTDDEntry(key, suite.reference, name, result))
    extra: dict[str, Any] = {
        "max_per_class": max_per_class,
        "subsample_seed": seed,
        "split": split.to_dict(),
    }
    if reference_part not in (None, part):
        extra["reference_part"] = reference_part
    return OTDDVector(tuple(entries), suite.name, part, extra)
