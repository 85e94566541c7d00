"""A learned additive border (Bahng et al., "Exploring Visual Prompts", 2022: PadPrompter).

    x' = x + P,   P = 0 inside the central (S - 2w) x (S - 2w) square, learned on the border

P is parametrised by four blocks: top/bottom (1, 3, w, S) and left/right (1, 3, S - 2w, w).
Device-agnostic (the reference prompter calls `.cuda()`).
"""

from __future__ import annotations

import torch
from torch import nn

from ...errors import ConfigError


class PadPrompter(nn.Module):
    def __init__(self, image_size: int, width: int, init_std: float = 1.0) -> None:
        super().__init__()
        if not 0 < 2 * width < image_size:
            raise ConfigError(
                f"prompt width {width} does not fit a {image_size} px input; use "
                f"0 < width < {image_size // 2}"
            )
        self.image_size, self.width = image_size, width
        inner = image_size - 2 * width
        self.pad_up = nn.Parameter(init_std * torch.randn(1, 3, width, image_size))
        self.pad_down = nn.Parameter(init_std * torch.randn(1, 3, width, image_size))
        self.pad_left = nn.Parameter(init_std * torch.randn(1, 3, inner, width))
        self.pad_right = nn.Parameter(init_std * torch.randn(1, 3, inner, width))

    def prompt(self) -> torch.Tensor:
        """(1, 3, S, S) additive prompt, zero in the centre."""
        inner = self.image_size - 2 * self.width
        centre = self.pad_left.new_zeros(1, 3, inner, inner)
        middle = torch.cat([self.pad_left, centre, self.pad_right], dim=3)
        return torch.cat([self.pad_up, middle, self.pad_down], dim=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, S, S)
        if x.shape[-1] != self.image_size or x.shape[-2] != self.image_size:
            raise ConfigError(
                f"prompt built for {self.image_size} px inputs got {tuple(x.shape[-2:])}"
            )
        return x + self.prompt().to(x.dtype)


class PromptedModel(nn.Module):
    """``model(pixel_values=prompter(x))``: the classifier with its learned prompt baked in."""

    def __init__(self, prompter: PadPrompter, model: nn.Module) -> None:
        super().__init__()
        self.prompter, self.model = prompter, model

    def forward(self, pixel_values: torch.Tensor, **kwargs):
        return self.model(pixel_values=self.prompter(pixel_values), **kwargs)
