"""Shared helpers for config dataclasses: validation messages, type coercion, YAML reading.

Every options object of the library is a dataclass built on `ConfigBase`; the CLI parses
the same dataclasses (see `cli/_args.py`), so there is one source of truth per option.
Field help text lives in ``field(metadata={"help": ...})``.

Values read from YAML/JSON are checked against the field types BEFORE anything runs
(`coerce_fields`): PyYAML reads ``lr: 1e-3`` as the string "1e-3" and ``seeds: 0`` as a
scalar, so a string that spells a number becomes that number, a scalar given for a list
field becomes a one-element list, and anything else of the wrong type is refused with a
message naming the key (never split into letters, never a crash after hours of work).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
import types
import typing
from collections.abc import Iterable, Mapping
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


_INT = re.compile(r"^[+-]?\d+$")
_SCALARS = (str, int, float, bool)


_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
_PLURALS = {int: "integers", float: "numbers", str: "strings", bool: "booleans"}


def _type_name(tp: Any) -> str:
    origin, args = typing.get_origin(tp), [a for a in typing.get_args(tp) if a is not Ellipsis]
    if origin in (list, tuple, dict, Mapping):
        item = args[-1] if args else Any
        kind = "a list" if origin in (list, tuple) else "a mapping"
        return f"{kind} of {_PLURALS.get(item, 'values')}"
    if origin is typing.Literal:
        return f"one of {args}"
    return _NAMES.get(tp, getattr(tp, "__name__", str(tp)))


def coerce_value(where: str, value: Any, tp: Any) -> Any:
    """`value` as type `tp`, or `ConfigError` naming `where` (e.g. ``"TrainConfig.lr"``).

    Only unambiguous conversions are made: a string that spells a number for a number
    field ("1e-3" -> 0.001), an integral float for an int field (64.0 -> 64), a number for a
    string field, a scalar for a list field (``seeds: 0`` -> ``(0,)``), a list for a tuple
    field. Values that are already valid are returned unchanged (an int stays an int in a
    float field, so run ids hashed from configs do not change).
    """
    if tp is Any or isinstance(tp, (str, typing.TypeVar)):
        return value
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        arms = [a for a in args if a is not type(None)]
        errors = []
        for arm in arms:
            try:
                return coerce_value(where, value, arm)
            except ConfigError as err:
                errors.append(err)
        raise (
            errors[0]
            if len(arms) == 1
            else ConfigError(f"{where}={value!r} is not {' or '.join(_type_name(a) for a in arms)}")
        )
    if value is None:
        raise ConfigError(
            f"{where} is empty (null); give {_type_name(tp)}, or remove the key to use the default"
        )
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{where}={value!r} is not allowed; choose one of {list(args)}")
        return value
    if origin in (list, tuple) or tp in (list, tuple):
        item = args[0] if args else Any
        if isinstance(value, _SCALARS):
            value = [value]  # `models: mini-vit-clean` means one model, not 14 letters
        elif not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}={value!r} must be {_type_name(tp)}")
        items = [coerce_value(f"{where}[{i}]", v, item) for i, v in enumerate(value)]
        return tuple(items) if (origin or tp) is tuple else items
    if origin in (dict, Mapping) or tp in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise ConfigError(
                f"{where}={value!r} must be {_type_name(tp)} (key: value pairs), not "
                f"{type(value).__name__}"
            )
        k_tp, v_tp = args if args else (Any, Any)
        return {
            coerce_value(f"{where} key", k, k_tp): coerce_value(f"{where}[{k!r}]", v, v_tp)
            for k, v in value.items()
        }
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no"):
            return value.lower() in ("true", "yes")
        raise ConfigError(f"{where}={value!r} must be true or false")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and _INT.match(value.strip()):
            return int(value)
        raise ConfigError(f"{where}={value!r} must be an integer")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                number = math.nan
            if math.isfinite(number):
                return number  # PyYAML reads `1e-3` (no dot) as a string
        raise ConfigError(f"{where}={value!r} must be a number (e.g. 0.001)")
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{where}={value!r} must be a string")
    if dataclasses.is_dataclass(tp) and isinstance(value, Mapping) and hasattr(tp, "from_dict"):
        return tp.from_dict(dict(value))
    if isinstance(tp, type) and not isinstance(value, tp):
        raise ConfigError(f"{where}={value!r} must be {_type_name(tp)}")
    return value


@functools.cache
def _field_types(cls: type) -> dict[str, Any]:
    try:
        hints = typing.get_type_hints(cls)
    except (NameError, TypeError):  # an annotation only importable for type checkers
        hints = {}
    return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(cls) if f.init}


def coerce_fields(cls: type, data: Mapping[str, Any]) -> dict[str, Any]:
    """`data` with each value coerced to its field's type; unknown keys raise `ConfigError`."""
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"{cls.__name__} options must be a mapping (key: value pairs), got "
            f"{type(data).__name__} {data!r}"
        )
    types_ = _field_types(cls)
    unknown = sorted(set(data) - set(types_), key=str)
    if unknown:
        raise ConfigError(
            f"{cls.__name__} got unknown option(s) {unknown}; known options: {sorted(types_)}"
        )
    return {k: coerce_value(f"{cls.__name__}.{k}", v, types_[k]) for k, v in data.items()}


def coerce_in_place(obj: Any) -> None:
    """Coerce every field of a (frozen) dataclass instance; call first in `__post_init__`."""
    for name, tp in _field_types(type(obj)).items():
        value = getattr(obj, name)
        new = coerce_value(f"{type(obj).__name__}.{name}", value, tp)
        if new is not value:
            object.__setattr__(obj, name, new)


def read_yaml(path: str | Path, *, what: str) -> Any:
    """Parse the YAML (or JSON) file `path`; a syntax error raises `ConfigError` with its line."""
    import yaml

    path = Path(path)
    try:
        with path.open(encoding="utf-8") as f:  # a stream, so errors name the file
            return yaml.safe_load(f)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise ConfigError(
            f"{what} {path} cannot be parsed ({type(err).__name__}: {err}); fix the syntax "
            "at the position shown"
        ) from err


class ConfigBase:
    """Mixin for config dataclasses (frozen or not): `to_dict`, `from_dict`, `replace`.

    Subclasses are decorated with ``@dataclass`` themselves; `from_dict` rejects unknown
    keys so that a typo in a config file is an error, not a silently ignored option, and
    coerces or rejects each value by its field type (`coerce_fields`).
    """

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[C], data: Mapping[str, Any]) -> C:
        return cls(**coerce_fields(cls, data))

    def replace(self: C, **changes: Any) -> C:
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]
