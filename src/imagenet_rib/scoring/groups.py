"""The `group` column of a suite's evaluated parts: which test images share a source.

Rows of one group (the views of one object, the 75 corrupted versions of one clean image)
make correlated errors, so the image bootstrap of `scoring.score_records` resamples them
together (`groups=part_groups(...)`); see `imagenet_rib.intervals.resample_accuracies`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..data.splits import SplitConfig
    from ..suites import SuiteConfig


def part_groups(
    suite: SuiteConfig, split: SplitConfig, part: str = "test"
) -> dict[str, np.ndarray]:
    """``{D_j: (n_j,) group labels}`` for every dataset the suite evaluates, in the row order
    of `suite.part(D_j, part, split)`: the order in which the evaluation scores the images
    (and the stored correctness vectors hold them)."""
    out = {}
    for name in suite.eval_datasets:
        rows = suite.part(name, part, split).dataset
        out[name] = np.asarray(rows.select_columns(["group"]).to_dict()["group"], dtype=str)
    return out
