"""``"a+b"``: the first method's module with every part's regularisers (e.g. ft+ewc+lwf)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError
from .base import Method, MethodConfig, SetupContext, Stage


@dataclass(frozen=True)
class CombinedConfig(MethodConfig):
    parts: tuple[tuple[str, MethodConfig], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {name: cfg.to_dict() for name, cfg in self.parts}


class CombinedMethod(Method):
    kind = "train"

    def __init__(self, parts: list[Method]) -> None:
        bad = [m.name for m in parts if m.kind != "train"]
        if bad:
            raise ConfigError(
                f"only training methods combine with '+'; {bad} are not; use them on their own"
            )
        if len({m.name for m in parts}) != len(parts):
            raise ConfigError(
                f"method {'+'.join(m.name for m in parts)!r} repeats a part; name each once"
            )
        if len(parts[0].stages(parts[0].make_config())) > 1:
            raise ConfigError(f"{parts[0].name!r} has several stages and cannot lead a combination")
        self.parts = parts
        self.name = "+".join(m.name for m in parts)  # type: ignore[misc]

    def make_config(self, data: Any = None) -> CombinedConfig:
        if isinstance(data, CombinedConfig):
            return data
        data = dict(data or {})
        names = [m.name for m in self.parts]
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise ConfigError(
                f"method {self.name!r} got options for {unknown}; give "
                f"{{part: options}} with parts {names}"
            )
        return CombinedConfig(tuple((m.name, m.make_config(data.get(m.name))) for m in self.parts))

    def prepare(self, loaded, config):
        return self.parts[0].prepare(loaded, config.parts[0][1])

    def regularisers(self, loaded, config, context: SetupContext):
        return [
            r
            for m, (_, cfg) in zip(self.parts, config.parts)
            for r in m.regularisers(loaded, cfg, context)
        ]

    def finalize(self, module, config):
        return self.parts[0].finalize(module, config.parts[0][1])

    def stages(self, config):
        return [Stage(self.name, self, config)]
