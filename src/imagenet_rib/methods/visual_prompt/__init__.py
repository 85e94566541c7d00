"""``visual-prompt``: only a learned additive border on the input is trained (see `prompter.py`)."""

from __future__ import annotations

from .. import register_method
from ..base import Method, set_trainable
from .config import VisualPromptConfig

REFERENCE_WIDTH, REFERENCE_SIZE = 30, 224


def prompt_width(config: VisualPromptConfig, image_size: int) -> int:
    return config.width or max(1, round(REFERENCE_WIDTH * image_size / REFERENCE_SIZE))


@register_method
class VisualPrompt(Method):
    name = "visual-prompt"
    Config = VisualPromptConfig
    description = "learned additive border on the input; the model stays frozen"

    def prepare(self, loaded, config: VisualPromptConfig):
        from .prompter import PadPrompter, PromptedModel

        size = loaded.transform.crop
        set_trainable(loaded.model, lambda n: False)
        prompter = PadPrompter(size, prompt_width(config, size), config.init_std)
        return PromptedModel(prompter, loaded.model)
