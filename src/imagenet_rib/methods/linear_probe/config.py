"""Options of linear probing."""

from __future__ import annotations

from dataclasses import dataclass

from ...config import check_choice, field
from ..base import MethodConfig

VARIANTS = ("paper", "head-only")


@dataclass(frozen=True)
class LinearProbeConfig(MethodConfig):
    variant: str = field(
        "paper",
        help="'paper': head + cls token + position embedding + final norm "
        "(the reference's HeadOnly); 'head-only': the head alone",
    )

    def __post_init__(self) -> None:
        check_choice("LinearProbeConfig", "variant", self.variant, VARIANTS)
