"""Load any transformers image classifier (Hub id or local folder) with its own transform."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from ..errors import ModelNotAvailableError
from ..transforms import from_hf_processor
from . import LoadedModel


def _revision_of(path: Path) -> str:
    weights = path / "model.safetensors"
    if weights.exists():
        return "sha256:" + hashlib.sha256(weights.read_bytes()).hexdigest()[:16]
    return ""


def load_hf_model(
    name_or_path: str,
    *,
    label_space: str | None = None,
    revision: str | None = None,
    display_name: str | None = None,
    **_: Any,
) -> LoadedModel:
    """`AutoModelForImageClassification` + `AutoImageProcessor` from a folder or the Hub."""
    from transformers import AutoImageProcessor, AutoModelForImageClassification

    try:
        model = AutoModelForImageClassification.from_pretrained(name_or_path, revision=revision)
        processor = AutoImageProcessor.from_pretrained(name_or_path, revision=revision)
    except OSError as err:
        offline = os.environ.get("HF_HUB_OFFLINE") == "1"
        hint = (
            "you are offline (HF_HUB_OFFLINE=1) and the weights are not in the local cache; "
            f"download them once online with `hf download {name_or_path}`, or pass a local folder"
            if offline
            else "check the model id / folder (it needs config.json, weights and "
            "preprocessor_config.json)"
        )
        raise ModelNotAvailableError(f"cannot load model {name_or_path!r}: {hint}") from err
    path = Path(name_or_path)
    space = (
        label_space
        or model.config.to_dict().get("rib_label_space")
        or ("imagenet-1k" if model.config.num_labels == 1000 else "")
    )
    return LoadedModel(
        name=display_name or name_or_path,
        model=model,
        transform=from_hf_processor(processor),
        label_space=space,
        revision=revision or (_revision_of(path) if path.exists() else ""),
        kind="hf",
    )
