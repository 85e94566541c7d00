"""Options of full fine-tuning."""

from __future__ import annotations

from dataclasses import dataclass

from ...config import field
from ..base import MethodConfig


@dataclass(frozen=True)
class FTConfig(MethodConfig):
    freeze_patch_embedding: bool = field(False, help="keep the patch / stem embedding frozen")
