"""``l2sp``: L2-SP (Li et al., ICML 2018), a pull towards the pretrained weights theta0:

    R(theta) = lambda * sum_k (theta_k - theta0_k)^2

over the trained parameters. This is what the reference code calls "ewc" (no Fisher,
lambda = 1); true EWC is the ``ewc`` method.
"""

from __future__ import annotations

from .. import register_method
from ..base import Method, Regulariser
from .config import L2SPConfig


class Anchor(Regulariser):
    """Snapshot theta0 of the trainable parameters at setup; weighted squared distance to it."""

    def __init__(self, lam: float) -> None:
        self.lam = lam
        self.theta0: dict = {}

    def setup(self, model) -> None:
        self._flat_key = None
        self.theta0 = {
            n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad
        }

    def weight(self, name: str):
        return None

    def penalty(self, model, pixel_values, logits, reduce):
        import torch

        names, params = [], []
        for name, p in model.named_parameters():
            if name in self.theta0:
                names.append(name)
                params.append(p)
        if not params:
            return logits.new_zeros((), dtype=torch.float32)
        if getattr(self, "_flat_key", None) != names:  # flatten theta0 / weights once: (P,)
            self._flat_key = names
            self._ref = torch.cat([self.theta0[n].float().flatten() for n in names])
            ws = [self.weight(n) for n in names]
            self._w = (
                None
                if all(w is None for w in ws)
                else torch.cat(
                    [
                        (
                            torch.ones_like(self.theta0[n], dtype=torch.float32)
                            if w is None
                            else w.float()
                        ).flatten()
                        for n, w in zip(names, ws)
                    ]
                )
            )
        sq = (torch.cat([p.float().flatten() for p in params]) - self._ref).pow(2)  # (P,)
        return self.lam * (sq.sum() if self._w is None else (self._w * sq).sum())


class L2SPRegulariser(Anchor):
    name = "l2sp"


@register_method
class L2SP(Method):
    name = "l2sp"
    Config = L2SPConfig
    description = "L2-SP penalty to the pretrained weights (the reference's 'ewc')"

    def regularisers(self, loaded, config: L2SPConfig, context):
        return [L2SPRegulariser(config.lam)]
