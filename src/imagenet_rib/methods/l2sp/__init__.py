"""``l2sp``: L2-SP (Li et al., ICML 2018), a pull towards the pretrained weights theta0:

    R(theta) = lambda * sum_k (theta_k - theta0_k)^2

over the trained parameters. This is what the reference code calls "ewc" (no Fisher,
lambda = 1); true EWC is the ``ewc`` method.
"""

from __future__ import annotations

from .. import register_method
from ..base import Anchor, Method
from .config import L2SPConfig


class L2SPRegulariser(Anchor):
    name = "l2sp"


@register_method
class L2SP(Method):
    name = "l2sp"
    Config = L2SPConfig
    description = "L2-SP penalty to the pretrained weights (the reference's 'ewc')"

    def regularisers(self, loaded, config: L2SPConfig, context):
        return [L2SPRegulariser(config.lam)]
