"""Options of uniform model soups."""

from __future__ import annotations

from dataclasses import dataclass

from ...config import field
from ...errors import ConfigError
from ..base import MethodConfig


@dataclass(frozen=True)
class SoupConfig(MethodConfig):
    ingredients: tuple[str, ...] = field(
        ("ft", "ewc", "lwf"),
        help="training methods whose finished runs are averaged (registered methods; to "
        "name benchmark entries by their labels, set the entry's `sources:` instead)",
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "ingredients", tuple(self.ingredients))
        if not self.ingredients or len(set(self.ingredients)) != len(self.ingredients):
            raise ConfigError(
                f"SoupConfig.ingredients={list(self.ingredients)!r} must name at least one "
                f"training method, each once"
            )
        from .. import check_training_method

        for name in self.ingredients:
            check_training_method("SoupConfig", "ingredients", name)
