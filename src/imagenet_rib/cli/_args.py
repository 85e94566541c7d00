"""Turn config dataclasses into argparse options and back (one source of truth per option).

``add_dataclass_arguments(parser, Cfg)`` adds ``--field-name`` for every field with the
field's help text; ``dataclass_from_args(Cfg, args)`` builds the dataclass, so
`__post_init__` validation runs exactly as for Python callers. A ``prefix`` names both the
flag and its destination: ``SplitConfig`` with ``prefix="split_"`` is ``--split-rule``,
``--split-test-fraction``, ``--split-seed`` on every command that splits.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from typing import Any


def _base_type(tp: Any) -> tuple[Any, bool]:
    """Return (scalar type, is_list) for the annotations used in our configs."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _base_type(args[0])
    if origin in (list, tuple):
        args = typing.get_args(tp)
        return (args[0] if args else str), True
    if origin is typing.Literal:
        return type(typing.get_args(tp)[0]), False
    return tp, False


def parse_bool(text: str) -> bool:
    low = text.lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def add_dataclass_arguments(
    parser: argparse.ArgumentParser, cls: type, *, prefix: str = "", skip: tuple[str, ...] = ()
) -> None:
    hints = typing.get_type_hints(cls)
    group = parser.add_argument_group(f"{cls.__name__} options")
    for f in dataclasses.fields(cls):
        if f.name in skip or not f.init:
            continue
        tp, is_list = _base_type(hints[f.name])
        kwargs: dict[str, Any] = {"help": f.metadata.get("help", ""), "dest": prefix + f.name}
        if tp is bool:
            kwargs.update(type=parse_bool, metavar="{true,false}")
        elif tp in (int, float, str):
            kwargs["type"] = tp
        else:
            kwargs["type"] = str
        if is_list:
            kwargs["nargs"] = "+"
        if typing.get_origin(hints[f.name]) is typing.Literal:
            kwargs["choices"] = list(typing.get_args(hints[f.name]))
        if f.default is not dataclasses.MISSING:
            kwargs["default"] = f.default
            kwargs["help"] += f" (default: {f.default!r})"
        elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            kwargs["default"] = f.default_factory()  # type: ignore[misc]
            kwargs["help"] += f" (default: {kwargs['default']!r})"
        else:
            kwargs["required"] = True
        group.add_argument("--" + (prefix + f.name).replace("_", "-"), **kwargs)


SPLIT_PREFIX = "split_"  # SplitConfig.rule -> --split-rule (dest split_rule)


def add_split_arguments(parser: argparse.ArgumentParser) -> None:
    """``--split-rule``, ``--split-test-fraction``, ``--split-seed``: the holdout split."""
    from ..data.splits import SplitConfig

    add_dataclass_arguments(parser, SplitConfig, prefix=SPLIT_PREFIX)


def split_from_args(args: argparse.Namespace):
    """The `SplitConfig` of `add_split_arguments`' options (validated by the dataclass)."""
    from ..data.splits import SplitConfig

    return dataclass_from_args(SplitConfig, args, prefix=SPLIT_PREFIX)


def dataclass_from_args(
    cls: type, args: argparse.Namespace, *, prefix: str = "", **extra: Any
) -> Any:
    values = {}
    for f in dataclasses.fields(cls):
        key = prefix + f.name
        if f.init and hasattr(args, key):
            value = getattr(args, key)
            values[f.name] = (
                tuple(value) if isinstance(value, list) and isinstance(f.default, tuple) else value
            )
    values.update(extra)
    return cls(**values)


DATA_HELP = (
    "where dataset NAME is read from: a folder written by `rib datasets build` (or a Hub "
    "id); repeatable. Precedence: --data, then the suite YAML's sources:, then "
    "IMAGENET_RIB_DATA_<NAME> and $IMAGENET_RIB_DATA_DIR/<name>"
)


def add_data_argument(parser: argparse.ArgumentParser) -> None:
    """``--data NAME=FOLDER`` (repeatable): dataset sources, the suite YAML's ``sources:``."""
    parser.add_argument(
        "--data", action="append", default=[], metavar="NAME=FOLDER", help=DATA_HELP
    )


def data_sources(items: list[str]) -> dict[str, str]:
    """``["imagenet-r=~/rib-data/imagenet-r", ...]`` -> ``{"imagenet-r": "/home/.../imagenet-r"}``."""
    import os

    from ..errors import ConfigError

    out: dict[str, str] = {}
    for item in items or []:
        name, sep, folder = item.partition("=")
        if not sep or not name.strip() or not folder.strip():
            raise ConfigError(f"--data {item!r} is not NAME=FOLDER; e.g. --data imagenet-r=./in-r")
        name, folder = name.strip(), os.path.expanduser(folder.strip())
        if os.path.exists(folder):  # a local folder, made absolute; otherwise a Hub id
            folder = os.path.abspath(folder)
        if out.get(name, folder) != folder:
            raise ConfigError(
                f"--data gives two sources for {name!r}: {out[name]!r} and {folder!r}"
            )
        out[name] = folder
    return out
