"""``lp-ft``: a linear-probe stage, then full fine-tuning from its result (10 + 10 epochs in
the paper; Kumar et al., "Fine-Tuning can Distort Pretrained Features", ICLR 2022)."""

from __future__ import annotations

from .. import METHODS, register_method
from ..base import Method, Stage
from .config import LPFTConfig


@register_method
class LPFT(Method):
    name = "lp-ft"
    Config = LPFTConfig
    description = "linear probe, then full fine-tuning from it"

    def stages(self, config: LPFTConfig) -> list[Stage]:
        lp, ft = METHODS.get("linear-probe"), METHODS.get("ft")
        return [
            Stage("lp", lp, lp.make_config({"variant": config.variant}), config.lp_epochs),
            Stage("ft", ft, ft.make_config(), config.ft_epochs),
        ]
