"""``soup``: the uniform average of the weights of several finished runs (Wortsman et al.,
"Model soups", ICML 2022):  theta = 1/M sum_m theta_m."""

from __future__ import annotations

from ...errors import ConfigError
from .. import register_method
from ..base import Method
from ..weights import average, module_with_state
from .config import SoupConfig


@register_method
class Soup(Method):
    name = "soup"
    kind = "derived"
    Config = SoupConfig
    description = "uniform average of finished runs"

    def sources(self, config: SoupConfig) -> tuple[str, ...]:
        return config.ingredients

    def derive(self, pretrained, runs, config: SoupConfig):
        if not runs:
            raise ConfigError(
                "a soup needs at least one finished run; fine-tune the ingredients first"
            )
        return [("", module_with_state(runs[0], average([r.state_dict() for r in runs])))]
