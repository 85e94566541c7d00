"""Options of LP-FT (linear probe, then full fine-tuning from it)."""

from __future__ import annotations

from dataclasses import dataclass

from ...config import check_choice, check_range, field
from ..base import MethodConfig
from ..linear_probe.config import VARIANTS


@dataclass(frozen=True)
class LPFTConfig(MethodConfig):
    lp_epochs: float | None = field(
        None, help="epochs of the linear-probe stage (default: TrainConfig.epochs)"
    )
    ft_epochs: float | None = field(
        None, help="epochs of the fine-tuning stage (default: TrainConfig.epochs)"
    )
    variant: str = field(
        "paper", help="linear-probe variant of the first stage: 'paper' or 'head-only'"
    )

    def __post_init__(self) -> None:
        check_choice("LPFTConfig", "variant", self.variant, VARIANTS)
        for name in ("lp_epochs", "ft_epochs"):
            if getattr(self, name) is not None:
                check_range("LPFTConfig", name, getattr(self, name), 0, lo_open=True)
