"""Shared helpers for config dataclasses: validation messages and JSON round-trips.

Every options object of the library is a dataclass built on `ConfigBase`; the CLI parses
the same dataclasses (see `cli/_args.py`), so there is one source of truth per option.
Field help text lives in ``field(metadata={"help": ...})``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

from .errors import ConfigError

C = TypeVar("C", bound="ConfigBase")


def check_choice(owner: str, name: str, value: Any, allowed: Iterable[Any]) -> None:
    allowed = list(allowed)
    if value not in allowed:
        raise ConfigError(f"{owner}.{name}={value!r} is not allowed; choose one of {allowed}")


def check_range(
    owner: str,
    name: str,
    value: float,
    lo: float | None = None,
    hi: float | None = None,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
) -> None:
    bad = (lo is not None and (value <= lo if lo_open else value < lo)) or (
        hi is not None and (value >= hi if hi_open else value > hi)
    )
    if bad:
        left = "(" if lo_open else "["
        right = ")" if hi_open else "]"
        lo_s = "-inf" if lo is None else lo
        hi_s = "inf" if hi is None else hi
        raise ConfigError(
            f"{owner}.{name}={value!r} is out of range; it must lie in {left}{lo_s}, {hi_s}{right}"
        )


def field(default: Any = dataclasses.MISSING, *, help: str, **kwargs: Any) -> Any:  # noqa: A002
    """`dataclasses.field` with a mandatory help string (shown by ``rib ... --help``)."""
    metadata = {"help": help, **kwargs.pop("metadata", {})}
    if default is dataclasses.MISSING:
        return dataclasses.field(metadata=metadata, **kwargs)
    if isinstance(default, (list, dict, set)):
        return dataclasses.field(
            default_factory=lambda d=default: type(d)(d), metadata=metadata, **kwargs
        )
    return dataclasses.field(default=default, metadata=metadata, **kwargs)


class ConfigBase:
    """Mixin for config dataclasses (frozen or not): `to_dict`, `from_dict`, JSON round-trips.

    Subclasses are decorated with ``@dataclass`` themselves; `from_dict` rejects unknown
    keys so that a typo in a config file is an error, not a silently ignored option.
    """

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[C], data: dict[str, Any]) -> C:
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(
                f"{cls.__name__} got unknown option(s) {unknown}; known options: {sorted(names)}"
            )
        return cls(**data)

    def to_json(self, path: str | Path | None = None) -> str:
        text = json.dumps(self.to_dict(), indent=2, sort_keys=True, default=str)
        if path is not None:
            Path(path).write_text(text + "\n")
        return text

    @classmethod
    def from_json(cls: type[C], path: str | Path) -> C:
        return cls.from_dict(json.loads(Path(path).read_text()))

    def replace(self: C, **changes: Any) -> C:
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]
