"""Options of Learning without Forgetting."""

from __future__ import annotations

from dataclasses import dataclass

from ...config import check_range, field
from ..base import MethodConfig


@dataclass(frozen=True)
class LwFConfig(MethodConfig):
    alpha: float = field(1.0, help="weight of the distillation term (reference: 1)")
    temperature: float = field(2.0, help="softmax temperature T (reference: 2)")
    t_squared: bool = field(
        False, help="multiply the KL by T^2 (Hinton et al.); the reference does not"
    )

    def __post_init__(self) -> None:
        check_range("LwFConfig", "alpha", self.alpha, 0)
        check_range("LwFConfig", "temperature", self.temperature, 0, lo_open=True)
