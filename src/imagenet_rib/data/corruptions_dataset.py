"""Build the ImageNet-C variant of any image dataset: every row under every (corruption, severity).

Given a ``datasets.Dataset`` D with an image column, ``apply_to_dataset`` returns

    concat over (c, s) in corruptions x severities of  { row_i with image <- c(image_i; s, rng_{c,s,i}) }

with two added (or overwritten) columns ``corruption`` (string) and ``severity`` (int64); every
other column is carried over. The generator of row i is seeded from
``SeedSequence([seed, crc32(c), s, i])`` (``image_seed``), so the result depends only on
(seed, c, s, i): not on ``num_proc``, batch size or the order in which rows are processed.
Corruptions follow Hendrycks & Dietterich (ICLR 2019); see ``corruptions.py``.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from ..errors import ConfigError
from .corruptions import CORRUPTION_FUNCTIONS, CORRUPTIONS, SEVERITIES, check_severity, corrupt

if TYPE_CHECKING:  # datasets is a heavy import; only needed when a dataset is built
    import datasets

CORRUPTION_COLUMN = "corruption"
SEVERITY_COLUMN = "severity"


def image_seed(seed: int, corruption: str, severity: int, index: int) -> np.random.SeedSequence:
    """Seed of row ``index`` under (corruption, severity): SeedSequence([seed, crc32(name), s, i]).

    crc32 (not ``hash``) keeps the key stable across processes and Python versions.
    """
    return np.random.SeedSequence([seed, zlib.crc32(corruption.encode("utf-8")), severity, index])


class _CorruptBatch:
    """Picklable batched ``Dataset.map`` function; row j of the stacked copies is row j % n."""

    def __init__(self, num_rows: int, seed: int, image_column: str) -> None:
        self.num_rows, self.seed, self.image_column = num_rows, seed, image_column

    def __call__(self, batch: dict[str, list[Any]], indices: list[int]) -> dict[str, list[Any]]:
        images = [
            Image.fromarray(
                corrupt(img, name, sev, image_seed(self.seed, name, sev, j % self.num_rows))
            )
            for img, name, sev, j in zip(
                batch[self.image_column], batch[CORRUPTION_COLUMN], batch[SEVERITY_COLUMN], indices
            )
        ]
        return {**batch, self.image_column: images}


def apply_to_dataset(
    dataset: datasets.Dataset,
    *,
    corruptions: Sequence[str] = CORRUPTIONS,
    severities: Sequence[int] = SEVERITIES,
    seed: int = 0,
    image_column: str = "image",
    num_proc: int | None = None,
    batch_size: int = 64,
) -> datasets.Dataset:
    """Corrupted copies of ``dataset``: len(dataset) x len(corruptions) x len(severities) rows.

    Args:
        dataset: a ``datasets.Dataset`` whose ``image_column`` is a ``datasets.Image`` feature.
        corruptions: names from ``CORRUPTION_FUNCTIONS`` (default: the 15 of ImageNet-C).
        severities: subset of 1..5.
        seed: non-negative base seed (see ``image_seed``).
        image_column: the image column; corrupted images are stored as RGB.
        num_proc, batch_size: passed to ``Dataset.map``; they never change the result.

    Returns:
        The concatenation, ordered by corruption, then severity, then original row.
    """
    import datasets

    if isinstance(corruptions, str) or isinstance(severities, int):
        raise ConfigError(
            "corruptions and severities must be sequences, e.g. corruptions=('fog',), severities=(3,)"
        )
    if not corruptions or not severities:
        raise ConfigError(
            "corruptions and severities must be non-empty; the defaults use all 15 x 5"
        )
    for name in corruptions:
        CORRUPTION_FUNCTIONS.get(name)  # raises UnknownNameError with close matches
    severities = [check_severity(s) for s in severities]
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be a non-negative int, got {seed!r}")
    if image_column not in dataset.column_names:
        raise ConfigError(
            f"image column {image_column!r} not in dataset columns {dataset.column_names}; "
            f"pass image_column=<name of the column holding the images>"
        )
    if not isinstance(dataset.features[image_column], datasets.Image):
        raise ConfigError(
            f"column {image_column!r} has feature {dataset.features[image_column]!r}, expected "
            f"datasets.Image(); cast it with dataset.cast_column({image_column!r}, datasets.Image())"
        )
    stale = [c for c in (CORRUPTION_COLUMN, SEVERITY_COLUMN) if c in dataset.column_names]
    base = dataset.remove_columns(stale).cast_column(image_column, datasets.Image(decode=True))
    # One map over the stacked copies (not 75 maps): a single worker pool when num_proc > 1.
    n = len(base)
    stacked = datasets.concatenate_datasets(
        [
            base.add_column(CORRUPTION_COLUMN, [name] * n).add_column(
                SEVERITY_COLUMN, [severity] * n
            )
            for name in corruptions
            for severity in severities
        ]
    )
    features = stacked.features.copy()
    features[CORRUPTION_COLUMN] = datasets.Value("string")
    features[SEVERITY_COLUMN] = datasets.Value("int64")
    stacked = stacked.cast(features)
    return stacked.map(
        _CorruptBatch(n, int(seed), image_column),
        with_indices=True,
        batched=True,
        batch_size=batch_size,
        num_proc=num_proc,
        features=features,
        desc="corrupting",
    )
