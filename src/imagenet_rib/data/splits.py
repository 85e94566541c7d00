"""Deterministic, seeded, class-stratified train/test splits (docs/protocol.md, "Splits").

``none`` (paper mode): train = test = all rows.
``holdout`` (default): within each class, the distinct `group`s (source images: all 75
ImageNet-C versions of an image share one) are ordered by SHA-256("<seed>:<group>") and
the first round(f * n) (at least 1 when n >= 2) go to test. The order depends only on the
seed and the stable row ids, so the split is identical on every machine and independent
of row order.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..config import ConfigBase, check_choice, check_range, field

SPLIT_RULES = ("holdout", "none")


@dataclass(frozen=True)
class SplitConfig(ConfigBase):
    rule: str = field(
        "holdout", help="'holdout' (seeded class-stratified split) or 'none' (paper mode)"
    )
    test_fraction: float = field(0.2, help="fraction of each class held out for evaluation")
    seed: int = field(0, help="seed of the split (recorded in every result)")

    def __post_init__(self) -> None:
        check_choice("SplitConfig", "rule", self.rule, SPLIT_RULES)
        check_range(
            "SplitConfig", "test_fraction", self.test_fraction, 0.0, 1.0, lo_open=True, hi_open=True
        )


def _rank(seed: int, group: str) -> bytes:
    return hashlib.sha256(f"{seed}:{group}".encode()).digest()


def split_indices(
    labels: Sequence[int], groups: Sequence[str], config: SplitConfig
) -> dict[str, np.ndarray]:
    """Return ``{"train": idx, "test": idx}`` (sorted row indices) under `config`."""
    n = len(labels)
    if len(groups) != n:
        raise ValueError(f"{n} labels but {len(groups)} groups")
    if config.rule == "none":
        all_rows = np.arange(n)
        return {"train": all_rows, "test": all_rows}
    per_class: dict[int, set[str]] = defaultdict(set)
    for lab, grp in zip(labels, groups):
        per_class[int(lab)].add(grp)
    test_groups: set[str] = set()
    for cls_groups in per_class.values():
        ordered = sorted(cls_groups, key=lambda g: _rank(config.seed, g))
        k = round(config.test_fraction * len(ordered))
        if len(ordered) >= 2:
            k = min(max(k, 1), len(ordered) - 1)
        test_groups.update(ordered[:k])
    is_test = np.fromiter((g in test_groups for g in groups), dtype=bool, count=n)
    return {"train": np.flatnonzero(~is_test), "test": np.flatnonzero(is_test)}
