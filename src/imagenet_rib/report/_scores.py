"""The one place the report reads `scores.RIBScores` and its intervals.

`scores.py` owns the formulas (PROTOCOL.md section 7); this module only calls it and turns
its results into plain mappings (`ScoresView`, `Interval`) that the tables, figures and model
cards format. Missing values are NaN.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from .tables import SuiteInfo

NAN = float("nan")


@dataclass(frozen=True)
class Interval:
    """A confidence interval [low, high] and how it was obtained ("bootstrap" or "seeds")."""

    low: float
    high: float
    method: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ScoresView:
    """Plain-mapping view of `scores.RIBScores` (points; NaN where not measured)."""

    delta: dict[str, dict[str, float]]  # {finetune set i: {eval set j: dA(i -> j)}}
    ri: dict[str, float]  # {i: RI_i}
    mri: float
    mean_acc_pre: float
    avg_post_ood: float
    reference_degradation: dict[str, float]  # {i: A(i -> ref) - A_pre(ref)}
    in_task_gain: dict[str, float]  # {i: A(i -> i) - A_pre(i)}
    missing: list[tuple[str, str]]  # (i, j) cells not measured

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["missing"] = [list(c) for c in self.missing]
        return out


def _float(value: Any) -> float:
    if value is None:
        return NAN
    try:
        return float(value)
    except (TypeError, ValueError):
        return NAN


def _floats(mapping: Any) -> dict[str, float]:
    if mapping is None:
        return {}
    if hasattr(mapping, "to_dict") and not isinstance(mapping, Mapping):
        mapping = mapping.to_dict()
    return {str(k): _float(v) for k, v in dict(mapping).items()}


def _matrix(value: Any) -> dict[str, dict[str, float]]:
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        return {str(i): _floats(row) for i, row in value.iterrows()}
    return {str(i): _floats(row) for i, row in dict(value or {}).items()}


def compute(
    acc_pre: Mapping[str, float], acc_post: Mapping[str, Mapping[str, float]], suite: SuiteInfo
) -> Any:
    """`scores.compute_rib` over the suite (fine-tuning sets outside the suite are dropped)."""
    from ..scores import compute_rib

    post = {i: dict(acc) for i, acc in acc_post.items() if i in suite.datasets}
    return compute_rib(dict(acc_pre), post, list(suite.datasets), suite.reference)


def view(scores: Any) -> ScoresView:
    data = scores.to_dict()  # matrices by name, NaN as None
    return ScoresView(
        delta=_matrix(data["delta"]),
        ri=_floats(scores.ri),
        mri=_float(scores.mri),
        mean_acc_pre=_float(scores.mean_acc_pre),
        avg_post_ood=_float(scores.avg_ood_post),
        reference_degradation=_floats(scores.reference_degradation),
        in_task_gain=_floats(scores.in_task_gain),
        missing=[(str(i), str(j)) for i, j in (scores.missing or [])],
    )


def _as_interval(value: Any, method: str) -> Interval | None:
    if value is None:
        return None
    if isinstance(value, Interval):
        return value
    if isinstance(value, Mapping):
        low, high = value.get("low", value.get("lo")), value.get("high", value.get("hi"))
    elif hasattr(value, "low"):
        low, high = value.low, value.high
    else:
        low, high = value[0], value[1]
    low, high = _float(low), _float(high)
    return None if math.isnan(low) or math.isnan(high) else Interval(low, high, method)


def _intervals(result: Any, method: str) -> dict[str, Interval]:
    """Flatten an interval result to ``{"mri": .., "ri/<i>": .., "reference_degradation/<i>": ..}``."""
    out: dict[str, Interval] = {}
    for name in ("mri", "ri", "reference_degradation", "in_task_gain", "avg_ood_post"):
        value = getattr(result, name, None) if not isinstance(result, Mapping) else result.get(name)
        if value is None:
            continue
        if name == "avg_ood_post":
            name = "avg_post_ood"  # the report's key
        if name in ("mri", "avg_post_ood"):
            interval = _as_interval(value, method)
            if interval is not None:
                out[name] = interval
            continue
        for key, item in dict(value).items():
            interval = _as_interval(item, method)
            if interval is not None:
                out[f"{name}/{key}"] = interval
    return out


def bootstrap_intervals(
    correct_pre: Mapping[str, np.ndarray],
    correct_post: Mapping[str, Mapping[str, np.ndarray]],
    suite: SuiteInfo,
    *,
    n_boot: int,
    confidence: float,
    seed: int,
) -> dict[str, Interval]:
    """Percentile bootstrap over images (`scores.bootstrap_rib`), flattened."""
    from ..scores import bootstrap_rib

    post = {i: dict(c) for i, c in correct_post.items() if i in suite.datasets}
    result = bootstrap_rib(
        dict(correct_pre),
        post,
        list(suite.datasets),
        suite.reference,
        n_boot=n_boot,
        confidence=confidence,
        seed=seed,
    )
    return _intervals(result, "bootstrap")


def seed_interval_of(per_seed: Sequence[Any], confidence: float) -> dict[str, Interval]:
    """Interval over seeds (`scores.seed_intervals`), flattened."""
    from ..scores import seed_intervals

    try:
        result = seed_intervals(list(per_seed), confidence=confidence)
    except TypeError:  # an implementation without a confidence argument
        result = seed_intervals(list(per_seed))
    return _intervals(result, "seeds")
