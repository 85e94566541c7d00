"""Options of LoRA (Hu et al., ICLR 2022) through peft."""

from __future__ import annotations

from dataclasses import dataclass

from ...config import check_range, field
from ...errors import ConfigError
from ..base import MethodConfig


@dataclass(frozen=True)
class LoraConfig(MethodConfig):
    rank: int = field(8, help="rank r of the update B A")
    alpha: float = field(1.0, help="lora_alpha; the update is scaled by alpha / r (reference: 1/8)")
    dropout: float = field(0.0, help="dropout on the LoRA branch input")
    target_modules: tuple[str, ...] = field(
        ("auto",),
        help="module names to adapt; 'auto': attention query and value "
        "(q_proj/v_proj, query/value, or timm's fused qkv)",
    )

    def __post_init__(self) -> None:
        if not isinstance(self.rank, int) or self.rank < 1:
            raise ConfigError(
                f"LoraConfig.rank={self.rank!r} is invalid; use a positive integer "
                f"(the reference uses 8)"
            )
        check_range("LoraConfig", "alpha", self.alpha, 0, lo_open=True)
        check_range("LoraConfig", "dropout", self.dropout, 0, 1, hi_open=True)
        object.__setattr__(self, "target_modules", tuple(self.target_modules))
        if not self.target_modules:
            raise ConfigError("LoraConfig.target_modules is empty; name modules or use ('auto',)")
