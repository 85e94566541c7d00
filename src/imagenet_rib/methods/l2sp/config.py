"""Options of L2-SP."""

from __future__ import annotations

from dataclasses import dataclass

from ...config import check_range, field
from ..base import MethodConfig


@dataclass(frozen=True)
class L2SPConfig(MethodConfig):
    lam: float = field(
        1.0, help="coefficient lambda of sum_k (theta_k - theta0_k)^2 (reference: 1)"
    )

    def __post_init__(self) -> None:
        check_range("L2SPConfig", "lam", self.lam, 0)
