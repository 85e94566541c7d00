"""Reading a published dataset copy back: its stored ``train``/``test`` splits, checked.

`rib datasets push` stores a holdout split as the HF splits ``train`` and ``test`` and records
in ``conversion.json`` which original rows are test rows (`encode_mask`). `load_published`
reads both splits, checks them against the recorded split rule and restores the original row
order, so paired per-image comparisons and paper-mode numbers are those of the source.
"""

from __future__ import annotations

import base64
import zlib
from typing import TYPE_CHECKING

import numpy as np

from ..errors import DatasetError
from .splits import SplitConfig, split_indices

if TYPE_CHECKING:
    import datasets


def encode_mask(mask: np.ndarray) -> str:
    """(n,) bool -> text: base64 of the zlib-compressed packed bits."""
    return base64.b64encode(zlib.compress(np.packbits(mask).tobytes(), 9)).decode("ascii")


def decode_mask(text: str, n: int) -> np.ndarray:
    bits = np.frombuffer(zlib.decompress(base64.b64decode(text)), dtype=np.uint8)
    return np.unpackbits(bits, count=n).astype(bool)


def load_published(source: str, manifest: dict | None) -> datasets.Dataset:
    """All rows of a published copy (Hub id, or a download of one) in the source's order.

    A copy whose `manifest` (its ``conversion.json``) records a stored holdout split is read
    as its ``train`` and ``test`` splits, checked against the split rule (no test row may sit
    in ``train``) and put back in the original row order; any other copy is one ``train``.
    """
    import datasets

    stored = (manifest or {}).get("split") or {}
    if "test_mask" not in stored:
        return datasets.load_dataset(source, split="train")
    parts = datasets.load_dataset(source)
    if set(parts) != {"train", "test"}:
        raise DatasetError(
            f"{source} records a stored holdout split but holds the splits {sorted(parts)}; "
            f"re-publish it with `rib datasets push`"
        )
    train, test = parts["train"], parts["test"]
    mask = decode_mask(stored["test_mask"], len(train) + len(test))
    if (len(train), len(test)) != (int((~mask).sum()), int(mask.sum())):
        raise DatasetError(
            f"{source} holds {len(train)} train and {len(test)} test rows, but its "
            f"conversion.json records {int((~mask).sum())} and {int(mask.sum())}; re-publish it"
        )
    order = np.empty(len(mask), dtype=np.int64)
    order[~mask] = np.arange(len(train))
    order[mask] = len(train) + np.arange(len(test))
    ds = datasets.concatenate_datasets([train, test]).select(order)
    meta = ds.select_columns(["label", "group"]).to_dict()
    config = SplitConfig.from_dict({k: stored[k] for k in ("rule", "test_fraction", "seed")})
    expected = split_indices(meta["label"], meta["group"], config)["test"]
    if not np.array_equal(expected, np.flatnonzero(mask)):
        raise DatasetError(
            f"the train/test splits of {source} are not the {config.rule} split (seed "
            f"{config.seed}, test fraction {config.test_fraction}) their conversion.json "
            f"records; re-publish it with `rib datasets push`"
        )
    return ds
