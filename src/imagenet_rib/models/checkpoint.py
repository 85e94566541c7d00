"""Run folders as standard Hugging Face checkpoints (``transformers.pipeline`` loads them).

A finished run folder of a transformers model (`methods.weights.save_module`, format
``"transformers"``, no method wrapper) holds ``config.json`` + ``model.safetensors``; the
model's preprocessing (an `ImageTransform`) and label space are in ``rib_model.json``.
`hf_checkpoint_files` derives what the Hugging Face stack reads from them:

- ``preprocessor_config.json``: an image processor doing the transform (resize, center crop,
  x / 255, (x - mean) / std, the resampling filter): an exact resize without crop is a
  `ViTImageProcessor`, anything with a center crop a `CLIPImageProcessor`. The processor is
  read back with `transforms.from_hf_processor` and must give the same transform, or nothing
  is written;
- ``config.json``: ``id2label`` / ``label2id`` naming the label space's classes (kept when
  the head already names them) and ``rib_label_space``.

A timm model (transformers' timm wrapper) gets no processor file: transformers always
preprocesses it with timm's own transform from ``pretrained_cfg``, which centre-crops an odd
margin one pixel lower / further right than `ImageTransform` (round-half-even vs floor).

Not standard checkpoints (`standard_problem` says why; ``pipeline()`` is not supported and
no processor is written, so it fails instead of predicting something else): a torchvision
network (its own state-dict format) and a method wrapper (the visual prompt: config.json +
model.safetensors hold the frozen classifier, the prompt is in ``visual_prompt.safetensors``).
LoRA runs are plain weights (the adapters are merged before saving), as are WiSE-FT models.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..paths import atomic_write_text
from ..transforms import ImageTransform, from_hf_processor
from . import RUN_MODEL_FILE as MODEL_FILE

logger = logging.getLogger(__name__)

PROCESSOR_FILE = "preprocessor_config.json"
HF_CONFIG_FILE = "config.json"
_RESAMPLE = {"nearest": 0, "lanczos": 1, "bilinear": 2, "bicubic": 3}  # PIL codes


def processor_for(transform: ImageTransform) -> Any:
    """A transformers image processor doing `transform` (see the module docstring)."""
    from transformers import CLIPImageProcessor, ViTImageProcessor

    common = dict(
        resample=_RESAMPLE[transform.interpolation],
        do_rescale=True,
        rescale_factor=1 / 255,
        do_normalize=True,
        image_mean=list(transform.mean),
        image_std=list(transform.std),
    )
    if transform.resize_mode == "exact" and transform.crop == transform.resize:
        size = {"height": transform.resize, "width": transform.resize}
        processor = ViTImageProcessor(size=size, **common)
    else:
        size = (
            {"shortest_edge": transform.resize}
            if transform.resize_mode == "shortest_edge"
            else {"height": transform.resize, "width": transform.resize}
        )
        crop = {"height": transform.crop, "width": transform.crop}
        processor = CLIPImageProcessor(
            size=size, crop_size=crop, do_center_crop=True, do_convert_rgb=True, **common
        )
    back = from_hf_processor(processor)
    if back != transform:  # never publish a processor that preprocesses differently
        raise ConfigError(
            f"no transformers image processor reproduces the transform {transform}: it reads "
            f"back as {back}"
        )
    return processor


def class_names(space_name: str, current: Sequence[str] | None = None) -> list[str] | None:
    """``id2label`` names of label space `space_name`: `current` when it already names the
    space's classes in order, else the short lemma of every class (made unique with its wnid
    where two classes share it); None for a label space this process has not registered."""
    from ..data.labels import LABEL_SPACES, get_label_space
    from .hf import check_class_names

    if space_name not in LABEL_SPACES:
        return list(current) if current else None
    space = get_label_space(space_name)
    if current is not None and len(current) == space.num_classes:
        try:
            check_class_names(current, space_name, model="run folder")
            return list(current)
        except ConfigError:
            pass  # generic or other names: replace them with the space's own
    short = [lemma.split(",")[0].strip() or w for w, lemma in zip(space.wnids, space.lemmas)]
    seen: dict[str, int] = {}
    for s in short:
        seen[s] = seen.get(s, 0) + 1
    return [s if seen[s] == 1 else f"{s} ({w})" for s, w in zip(short, space.wnids)]


def read_meta(folder: str | Path) -> dict[str, Any]:
    path = Path(folder) / MODEL_FILE
    if not path.is_file():
        raise ConfigError(f"{folder} has no {MODEL_FILE}: it is not a run folder")
    return json.loads(path.read_text())


def standard_problem(folder: str | Path) -> str | None:
    """Why the run folder cannot be a standard transformers checkpoint, or None if it can."""
    meta = read_meta(folder)
    if meta.get("format") != "transformers":
        return (
            f"it holds a {meta.get('format')} network (architecture {meta.get('arch')!r}), not a "
            "transformers model"
        )
    wrapper = meta.get("wrapper")
    if wrapper:
        return (
            f"its model is wrapped by method {wrapper.get('type')!r}: config.json and "
            "model.safetensors hold only the wrapped classifier, whose predictions differ"
        )
    if not (Path(folder) / HF_CONFIG_FILE).is_file():
        return f"it has no {HF_CONFIG_FILE}"
    return None


def hf_checkpoint_files(folder: str | Path) -> dict[str, str]:
    """``{file name: text}`` of ``preprocessor_config.json`` and the updated ``config.json``
    of the run folder (see the module docstring); raises `ConfigError` naming why a folder
    cannot be a standard checkpoint."""
    folder = Path(folder)
    problem = standard_problem(folder)
    if problem:
        raise ConfigError(f"{folder} is not a standard transformers checkpoint: {problem}")
    meta = read_meta(folder)
    tr = {k: tuple(v) if isinstance(v, list) else v for k, v in meta["transform"].items()}
    processor = processor_for(ImageTransform(**tr))
    config = json.loads((folder / HF_CONFIG_FILE).read_text())
    space = meta.get("label_space") or config.get("rib_label_space") or ""
    id2label = config.get("id2label") or {}
    num = len(id2label) or int(config.get("num_labels") or 0)
    current = [str(id2label.get(str(i), id2label.get(i, f"LABEL_{i}"))) for i in range(num)]
    names = class_names(space, current) if space else None
    if names is not None:
        config["id2label"] = {str(i): n for i, n in enumerate(names)}
        config["label2id"] = {n: i for i, n in enumerate(names)}
    if space:
        config["rib_label_space"] = space
    files = {HF_CONFIG_FILE: json.dumps(config, indent=2, sort_keys=True) + "\n"}
    if config.get("model_type") != "timm_wrapper":
        # transformers preprocesses a timm checkpoint with timm's own transform, read from
        # config.json's pretrained_cfg, whatever a preprocessor_config.json says
        files[PROCESSOR_FILE] = processor.to_json_string()
    return files


def write_hf_checkpoint(folder: str | Path) -> list[str]:
    """Make the finished run folder a standard checkpoint in place (`hf_checkpoint_files`);
    returns the files written, none (logged at INFO) for a folder that cannot be one."""
    folder = Path(folder)
    problem = standard_problem(folder)
    if problem:
        logger.info(
            "%s is not a standard transformers checkpoint (%s): load it with "
            "imagenet_rib.finetune.load_run or `rib evaluate`; transformers.pipeline() is not "
            "supported for it",
            folder,
            problem,
        )
        return []
    files = hf_checkpoint_files(folder)
    for name, text in files.items():
        atomic_write_text(folder / name, text)
    return sorted(files)
