"""``visual-prompt``: only a learned additive border on the input is trained (see `prompter.py`).

The finalized model is a `PromptedModel` wrapper; `save_extra` / `load_extra` store its
prompt next to the wrapped classifier (``visual_prompt.safetensors``).
"""

from __future__ import annotations

from .. import register_method
from ..base import Method, set_trainable
from .config import VisualPromptConfig

REFERENCE_WIDTH, REFERENCE_SIZE = 30, 224
PROMPT_FILE = "visual_prompt.safetensors"


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

    def save_extra(self, module, folder):
        from .prompter import PromptedModel

        if not isinstance(module, PromptedModel):
            return None
        from safetensors.torch import save_file

        p = module.prompter
        state = {k: v.detach().contiguous().cpu() for k, v in p.state_dict().items()}
        save_file(state, str(folder / PROMPT_FILE))
        return module.model, {"image_size": p.image_size, "width": p.width}

    def load_extra(self, module, folder, meta):
        from safetensors.torch import load_file

        from .prompter import PadPrompter, PromptedModel

        prompter = PadPrompter(meta["image_size"], meta["width"])
        prompter.load_state_dict(load_file(str(folder / PROMPT_FILE)))
        return PromptedModel(prompter, module)
