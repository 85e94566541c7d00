"""``lora``: low-rank updates W + (alpha / r) B A on the attention query and value projections.

Only A and B are trained (head and patch embedding stay frozen). `finalize` merges the
update into W and removes the adapters, so the saved weights are plain weights: reloading
cannot apply the update a second time (a defect of the reference checkpoints).
"""

from __future__ import annotations

import logging

from ...errors import ConfigError
from .. import register_method
from ..base import Method
from .config import LoraConfig

logger = logging.getLogger(__name__)

#: 'auto' targets, first family present wins: transformers >= 5 ViT, older transformers, timm.
AUTO_TARGETS = (("q_proj", "v_proj"), ("query", "value"), ("qkv",))


def _adaptable(module) -> dict[str, list[str]]:
    """Leaf name -> full names of the Linear / Conv modules peft can adapt."""
    import torch

    out: dict[str, list[str]] = {}
    for name, sub in module.named_modules():
        if isinstance(sub, (torch.nn.Linear, torch.nn.Conv2d)):
            out.setdefault(name.rsplit(".", 1)[-1], []).append(name)
    return out


def resolve_targets(module, targets: tuple[str, ...]) -> list[str]:
    """The leaf module names to adapt; unknown names raise before training starts."""
    leaves = _adaptable(module)
    if targets == ("auto",):
        for family in AUTO_TARGETS:
            if all(t in leaves for t in family):
                if family == ("qkv",):
                    logger.warning(
                        "fused qkv projection: LoRA adapts query, key AND value "
                        "(the q/v-only split needs separate projections)"
                    )
                return list(family)
        raise ConfigError(
            f"no attention query/value projection found in {type(module).__name__}; "
            f"set target_modules explicitly (available: {sorted(leaves)[:20]})"
        )
    missing = [
        t for t in targets if t not in leaves and not any(t in full for full in leaves.values())
    ]
    if missing:
        raise ConfigError(
            f"LoRA target module(s) {missing} do not exist in {type(module).__name__}; "
            f"choose among {sorted(leaves)[:30]} or use ('auto',)"
        )
    return list(targets)


@register_method
class Lora(Method):
    name = "lora"
    Config = LoraConfig
    description = "LoRA on attention query/value (peft), merged for evaluation"

    def prepare(self, loaded, config: LoraConfig):
        import peft

        targets = resolve_targets(loaded.model, config.target_modules)
        for p in loaded.model.parameters():
            p.requires_grad_(False)
        peft_cfg = peft.LoraConfig(
            r=config.rank,
            lora_alpha=config.alpha,
            lora_dropout=config.dropout,
            target_modules=targets,
            bias="none",
        )
        return peft.get_peft_model(loaded.model, peft_cfg)

    def finalize(self, module, config: LoraConfig):
        import peft

        if isinstance(module, peft.PeftModel):
            return module.merge_and_unload()
        return module
