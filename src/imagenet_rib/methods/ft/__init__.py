"""``ft``: every parameter is trained (the paper's default fine-tuning)."""

from __future__ import annotations

from .. import register_method
from ..base import Method, set_trainable
from .config import FTConfig

_STEM = ("patch_embeddings", "patch_embed", "conv1")


@register_method
class FullFineTuning(Method):
    name = "ft"
    Config = FTConfig
    description = "all parameters trained"

    def prepare(self, loaded, config: FTConfig):
        frozen = _STEM if config.freeze_patch_embedding else ()
        set_trainable(loaded.model, lambda n: not any(f"{s}." in f".{n}" for s in frozen))
        return loaded.model
