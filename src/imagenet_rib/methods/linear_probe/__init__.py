"""``linear-probe``: the backbone is frozen; only the head (and, in the paper variant, the
cls token, position embedding and final norm, as the reference's "HeadOnly") is trained."""

from __future__ import annotations

from .. import register_method
from ..base import Method, head_prefix, is_head, is_paper_extra, set_trainable
from .config import LinearProbeConfig


def probe_parameters(module, variant: str) -> list[str]:
    """Names of the parameters a linear probe of `variant` trains."""
    head = head_prefix(module)
    return [
        n
        for n, _ in module.named_parameters()
        if is_head(n, head) or (variant == "paper" and is_paper_extra(n))
    ]


@register_method
class LinearProbe(Method):
    name = "linear-probe"
    Config = LinearProbeConfig
    description = "backbone frozen; head (+ cls/pos/final norm in the paper variant) trained"

    def prepare(self, loaded, config: LinearProbeConfig):
        keep = set(probe_parameters(loaded.model, config.variant))
        set_trainable(loaded.model, keep.__contains__)
        return loaded.model
