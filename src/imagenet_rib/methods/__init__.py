"""Fine-tuning methods: one small package per method, one registry (PROTOCOL.md section 6).

``get_method(name)`` returns a `Method` (see `base.py` for the contract). Names joined by
``+`` combine a training method with the regularisers of others, e.g. ``"ft+ewc+lwf"``
(or ``"ewc+lwf"``): the first method prepares and finalizes the module, every part adds its
regularisers; the combined config is ``{part name: part options}``.
"""

from __future__ import annotations

import importlib

from ..registry import Registry
from .base import KINDS, Method, MethodConfig, Regulariser, SetupContext, Stage

__all__ = [
    "KINDS",
    "METHODS",
    "Method",
    "MethodConfig",
    "Regulariser",
    "SetupContext",
    "Stage",
    "get_method",
    "register_method",
]

#: name -> Method instance
METHODS: Registry[Method] = Registry("method")

_BUILTIN = (
    "pretrained",
    "ft",
    "linear_probe",
    "lp_ft",
    "lora",
    "ewc",
    "l2sp",
    "lwf",
    "wise_ft",
    "soup",
    "visual_prompt",
)
_loaded = False


def register_method(cls: type[Method]) -> type[Method]:
    """Class decorator: register one instance of `cls` under ``cls.name``."""
    METHODS.register(cls.name, cls())
    return cls


def _load_builtin() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for module in _BUILTIN:
            importlib.import_module(f"{__name__}.{module}")


def get_method(name: str) -> Method:
    """The method registered as `name`, or a combination ``"a+b+..."`` (see module docstring)."""
    _load_builtin()
    if "+" in name:
        from .combined import CombinedMethod

        return CombinedMethod([METHODS.get(part.strip()) for part in name.split("+")])
    return METHODS.get(name)


def method_names() -> list[str]:
    _load_builtin()
    return METHODS.names()
