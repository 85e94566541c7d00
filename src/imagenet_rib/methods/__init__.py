"""Fine-tuning methods: one small package per method, one registry.

``get_method(name)`` returns a `Method` (see `base.py` for the contract). Every subpackage
of this package is one method that registers itself with ``@register_method``; the registry
imports them all on its first lookup (nothing lists them a second time), then the plugins
of the ``imagenet_rib.methods`` group (see `plugins.py`, ``docs/extending.md``). Names joined
by ``+`` combine a training method with the regularisers of others, e.g. ``"ft+ewc+lwf"``
(or ``"ewc+lwf"``): the first method prepares and finalizes the module, every part adds its
regularisers; the combined config is ``{part name: part options}``.
"""

from __future__ import annotations

import importlib
import pkgutil

from ..errors import ConfigError
from ..registry import Registry
from .base import (
    KINDS,
    Anchor,
    Method,
    MethodConfig,
    Regulariser,
    SetupContext,
    Stage,
    head_prefix,
    is_head,
    set_trainable,
)

__all__ = [
    "KINDS",
    "METHODS",
    "Anchor",
    "Method",
    "MethodConfig",
    "Regulariser",
    "SetupContext",
    "Stage",
    "check_training_method",
    "get_method",
    "head_prefix",
    "is_head",
    "register_method",
    "set_trainable",
]


def _load_builtin() -> None:
    """Import every method subpackage (each registers itself), then the plugins."""
    from ..plugins import load_plugins

    for info in pkgutil.iter_modules(__path__):
        if info.ispkg:
            importlib.import_module(f"{__name__}.{info.name}")
    load_plugins("imagenet_rib.methods")


#: name -> Method instance
METHODS: Registry[Method] = Registry("method", loader=_load_builtin)


def register_method(cls: type[Method]) -> type[Method]:
    """Class decorator: register one instance of `cls` under ``cls.name``."""
    where = f"{cls.__module__}.{cls.__qualname__}"
    if not cls.name or "+" in cls.name:
        raise ConfigError(f"{where}: set `name` to a method name without '+'")
    if cls.kind not in KINDS:
        raise ConfigError(f"{where}.kind={cls.kind!r} is not one of {list(KINDS)}")
    if not (isinstance(cls.Config, type) and issubclass(cls.Config, MethodConfig)):
        raise ConfigError(f"{where}.Config must be a MethodConfig dataclass")
    if not cls.description or "\n" in cls.description:
        raise ConfigError(
            f"{where}: set `description` to one line (shown by `rib methods` and "
            f"`rib finetune --help`)"
        )
    METHODS.register(cls.name, cls())
    return cls


def get_method(name: str) -> Method:
    """The method registered as `name`, or a combination ``"a+b+..."`` (see module docstring)."""
    if "+" in name:
        from .combined import CombinedMethod

        return CombinedMethod([METHODS.get(part.strip()) for part in name.split("+")])
    return METHODS.get(name)


def check_training_method(owner: str, field_name: str, name: str) -> None:
    """Raise `ConfigError` unless `name` is a registered training method (or a '+'
    combination of them): what a derived method's `sources` may name."""
    from ..errors import UnknownNameError

    try:
        kind = get_method(name).kind
    except (UnknownNameError, ConfigError) as err:
        raise ConfigError(
            f"{owner}.{field_name}={name!r} is not a training method: {err}"
        ) from None
    if kind != "train":
        known = sorted(n for n, m in METHODS.items() if m.kind == "train")
        raise ConfigError(
            f"{owner}.{field_name}={name!r} is a method of kind {kind!r}; name a training "
            f"method (one of {known}, or a '+' combination)"
        )
