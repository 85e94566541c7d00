"""Input checks of the metric modules, run on the raw inputs before `evaluate` casts them.

`evaluate` casts every input to the module's declared feature type: a float correctness
vector silently becomes bools (0.3 -> True), a fraction next to percentages is just a
number. These checks refuse such inputs with `ScoreInputError` naming the fix.

- accuracies (`rib`, config 'accuracy'): top-1 percentages in [0, 100]. Values in (0, 1]
  next to values above 1 look like fractions mixed with percentages; values all in [0, 1]
  look like fractions. Both are refused unless ``scale`` says what they are:
  ``"percent"`` (trust them) or ``"fraction"`` (multiply all by 100).
- correctness vectors (`rib`, config 'correctness'): 1-D, bool or integer 0/1 per image.
- features (`otdd`): an (n, d) array of finite numbers with d >= 1, integer labels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..scores import ScoreInputError

SCALES = (None, "percent", "fraction")


def check_accuracies(values: Sequence[Any], scale: str | None = None) -> list[float]:
    """Accuracies as percentages (NaN for a missing value); see module docstring."""
    if scale not in SCALES:
        raise ScoreInputError(f"scale={scale!r} is not one of {list(SCALES)}")
    out = [math.nan if v is None else float(v) for v in values]
    finite = [v for v in out if not math.isnan(v)]
    bad = [v for v in finite if not 0.0 <= v <= (1.0 if scale == "fraction" else 100.0)]
    if bad:
        unit = "fractions in [0, 1]" if scale == "fraction" else "top-1 percentages"
        raise ScoreInputError(
            f"accuracy {bad[0]!r} is outside [0, {1 if scale == 'fraction' else 100}]; "
            f"accuracies must be {unit} (multiply fractions by 100)"
        )
    if scale == "fraction":
        return [100.0 * v for v in out]
    small = [v for v in finite if 0.0 < v <= 1.0]
    if scale is None and small:
        large = [v for v in finite if v > 1.0]
        if large:
            raise ScoreInputError(
                f"accuracies mix values in (0, 1] (e.g. {small[0]!r}) with values above 1 (e.g. "
                f"{large[0]!r}): fractions mixed with percentages? Give every accuracy in "
                f"percent (multiply fractions by 100); if the small values really are accuracies "
                f"below 1 %, pass scale='percent'"
            )
        raise ScoreInputError(
            f"every accuracy lies in [0, 1] (e.g. {small[0]!r}): they look like fractions, but "
            f"accuracies are percentages. Multiply them by 100 or pass scale='fraction'; if they "
            f"really are accuracies below 1 %, pass scale='percent'"
        )
    return out


def check_correctness(vectors: Sequence[Any] | None, where: str) -> None:
    """Each vector must be 1-D with bool or integer 0/1 entries (never floats)."""
    for i, vec in enumerate(vectors or ()):
        arr = np.asarray(vec)
        if arr.ndim != 1:
            raise ScoreInputError(
                f"{where}[{i}] has shape {arr.shape}; a correctness vector is 1-D (one bool per "
                f"image)"
            )
        if arr.dtype == bool or arr.size == 0:
            continue
        if arr.dtype.kind not in "iu" or not np.isin(arr, (0, 1)).all():
            sample = arr[~np.isin(arr, (0, 1))][:3].tolist() if arr.dtype.kind in "iuf" else []
            raise ScoreInputError(
                f"{where}[{i}] holds {arr.dtype} values{f' such as {sample}' if sample else ''}; "
                f"a correctness vector holds one bool (or 0/1) per image: pass `pred == target`, "
                f"not scores or probabilities"
            )


def check_features(
    features: Any, labels: Any, dataset: Sequence[Any]
) -> tuple[np.ndarray, np.ndarray]:
    """(n, d) float features with d >= 1 and (n,) integer labels, or `ScoreInputError`."""
    try:
        x = np.asarray(features, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ScoreInputError(
            f"features must be an (n, d) array of numbers with the same d in every row ({err})"
        ) from None
    if x.ndim != 2 or x.shape[1] == 0:
        raise ScoreInputError(
            f"features have shape {x.shape}; give an (n, d) array with d >= 1 feature per sample"
        )
    if not np.isfinite(x).all():
        raise ScoreInputError("features contain NaN or infinite values; drop or fix those rows")
    y = np.asarray(labels)
    if y.shape != (len(x),) or len(dataset) != len(x):
        raise ScoreInputError(
            f"{len(x)} feature rows but {y.size} labels and {len(dataset)} dataset names; give one "
            f"label and one dataset name per row"
        )
    if y.dtype.kind not in "iu" and not (y.dtype.kind == "f" and np.all(y == np.round(y))):
        raise ScoreInputError(f"labels must be integers, got {y.dtype} values such as {y[:3]}")
    return x.astype(np.float32), y.astype(np.int64)
