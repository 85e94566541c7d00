"""Options of visual prompting."""

from __future__ import annotations

from dataclasses import dataclass

from ...config import check_range, field
from ...errors import ConfigError
from ..base import MethodConfig


@dataclass(frozen=True)
class VisualPromptConfig(MethodConfig):
    width: int | None = field(
        None,
        help="border width in pixels (default: 30 on 224 px, scaled to the model's input size)",
    )
    init_std: float = field(1.0, help="std of the Gaussian initialisation of the prompt")

    def __post_init__(self) -> None:
        if self.width is not None and (not isinstance(self.width, int) or self.width < 1):
            raise ConfigError(
                f"VisualPromptConfig.width={self.width!r} is invalid; use a positive "
                f"integer or None (30 px on 224 px inputs)"
            )
        check_range("VisualPromptConfig", "init_std", self.init_std, 0)
