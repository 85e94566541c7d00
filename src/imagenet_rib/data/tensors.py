"""Compatibility shim, for `models/mini.py` only: remove it once that module uses `ImageRows`.

The on-disk preprocessed-tensor store is gone; every reader streams (`data/stream.py`).
``PixelDataset(pixels(ds, t), targets, t)`` still works and is now exactly
``ImageRows(ds, t, targets, normalize=True)``: nothing is materialised.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .stream import ImageRows

if TYPE_CHECKING:
    import datasets
    import numpy as np

    from ..transforms import ImageTransform


def pixels(ds: datasets.Dataset, transform: ImageTransform) -> datasets.Dataset:  # noqa: ARG001
    """The rows themselves: `PixelDataset` decodes them on the fly."""
    return ds


class PixelDataset(ImageRows):
    """`ImageRows` with normalised float32 ``pixel_values`` (a plain Trainer's input)."""

    def __init__(
        self, rows: datasets.Dataset, targets: np.ndarray, transform: ImageTransform
    ) -> None:
        super().__init__(rows, transform, targets, normalize=True)
