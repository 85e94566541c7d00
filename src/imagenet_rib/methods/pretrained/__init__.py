"""``pretrained``: no training; the model as loaded is the baseline A_pre."""

from __future__ import annotations

from .. import register_method
from ..base import Method


@register_method
class Pretrained(Method):
    name = "pretrained"
    kind = "baseline"
    description = "no training: the baseline A_pre"
