"""``wise-ft``: weight-space ensembling (Wortsman et al., CVPR 2022), no re-training:

    theta(a) = (1 - a) * theta_pre + a * theta_ft,    a in alphas

evaluated for every a (the reference evaluates a = 0.5 only).
"""

from __future__ import annotations

from ...errors import ConfigError
from .. import register_method
from ..base import Method
from ..weights import interpolate, module_with_state
from .config import WiseFTConfig


@register_method
class WiseFT(Method):
    name = "wise-ft"
    kind = "derived"
    Config = WiseFTConfig
    description = "interpolation of pretrained and fine-tuned weights, alpha sweep"

    def sources(self, config: WiseFTConfig) -> tuple[str, ...]:
        return (config.base_method,)

    def derive(self, pretrained, runs, config: WiseFTConfig):
        if len(runs) != 1:
            raise ConfigError(
                f"wise-ft interpolates ONE fine-tuned run with the pretrained model; "
                f"got {len(runs)} runs"
            )
        pre = pretrained.model.state_dict()
        ft = runs[0].state_dict()
        return [
            (f"alpha={a}", module_with_state(runs[0], interpolate(pre, ft, a)))
            for a in config.alphas
        ]
