"""Options of WiSE-FT."""

from __future__ import annotations

from dataclasses import dataclass

from ...config import check_range, field
from ...errors import ConfigError
from ..base import MethodConfig

ALPHAS = tuple(round(0.1 * i, 1) for i in range(11))


@dataclass(frozen=True)
class WiseFTConfig(MethodConfig):
    alphas: tuple[float, ...] = field(
        ALPHAS, help="interpolation coefficients a (0: pretrained, 1: fine-tuned)"
    )
    base_method: str = field(
        "ft",
        help="the training method whose run is interpolated (a registered method; to name "
        "a benchmark entry by its label, set the entry's `sources:` instead)",
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "alphas", tuple(float(a) for a in self.alphas))
        if not self.alphas:
            raise ConfigError("WiseFTConfig.alphas is empty; give at least one a in [0, 1]")
        for a in self.alphas:
            check_range("WiseFTConfig", "alphas", a, 0.0, 1.0)
        from .. import check_training_method

        check_training_method("WiseFTConfig", "base_method", self.base_method)
