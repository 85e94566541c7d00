"""Options of uniform model soups."""

from __future__ import annotations

from dataclasses import dataclass

from ...config import field
from ..base import MethodConfig


@dataclass(frozen=True)
class SoupConfig(MethodConfig):
    ingredients: tuple[str, ...] = field(
        ("ft", "ewc", "lwf"), help="methods whose finished runs are averaged"
    )
