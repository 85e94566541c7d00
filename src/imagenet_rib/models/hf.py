"""Load any transformers image classifier (Hub id or local folder) with its own transform.

A head is only trusted over a label space if its class names say so: logit i must name
class i of the space (its wnid, its lemma, or one comma part of the lemma, as in
``id2label``). A head with other names, or generic ones (``LABEL_0``, ``"0"``: the order
is unknown), is refused by `check_class_names` unless the caller passes
``allow_label_mismatch=True`` (CLI: ``--allow-label-mismatch``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError, ModelNotAvailableError
from ..transforms import ImageTransform, from_hf_processor, from_timm_config
from . import LoadedModel

logger = logging.getLogger(__name__)

_GENERIC = re.compile(r"^(label|class|cls)?[ _-]?\d+$", re.IGNORECASE)


def _norm(name: str) -> str:
    return " ".join(str(name).replace("_", " ").replace("-", " ").lower().split())


def _names_class(name: str, wnid: str, lemma: str) -> bool:
    key = _norm(name)
    parts = [_norm(p) for p in lemma.split(",") if p.strip()]
    # torchvision disambiguates duplicated names with a suffix ("crane bird")
    return key in (_norm(wnid), _norm(lemma), *parts) or any(key.startswith(p + " ") for p in parts)


def check_class_names(
    names: Sequence[str], space_name: str, *, model: str, allow: bool = False
) -> None:
    """Refuse a head whose class names (logit order) disagree with label space `space_name`.

    Raises `ConfigError` naming the first disagreeing logits, unless `allow` (then warns).
    A head of another size is left to the label protocol, which refuses it when used.
    """
    from ..data.labels import get_label_space

    space = get_label_space(space_name)
    names = [str(n) for n in names]
    override = (
        "If you know the head follows this order, pass allow_label_mismatch=True to "
        "load_model (CLI: --allow-label-mismatch)"
    )
    if len(names) != space.num_classes:
        return  # a head of another size is refused by the label protocol ("10-way head")
    if all(_GENERIC.match(n) for n in names):
        problem = (
            f"names its classes generically ({names[0]!r}, {names[1 % len(names)]!r}, ...), so "
            f"which logit is which class of {space.name!r} is unknown"
        )
    else:
        bad = [
            i
            for i, (n, w, lemma) in enumerate(zip(names, space.wnids, space.lemmas))
            if not _names_class(n, w, lemma)
        ]
        if not bad:
            return
        shown = "; ".join(
            f"logit {i} is {names[i]!r} but class {i} is {space.wnids[i]!r} ({space.lemmas[i]!r})"
            for i in bad[:3]
        )
        problem = (
            f"disagrees with label space {space.name!r} on {len(bad)} of {len(names)} classes "
            f"({shown})"
        )
    message = f"model {model!r}: its head (id2label) {problem}"
    if allow:
        logger.warning("%s; accepted because allow_label_mismatch=True", message)
        return
    raise ConfigError(f"{message}. Scores under that label space would be wrong. {override}")


_WEIGHTS = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)


def _revision_of(path: Path) -> str:
    for name in ("model.safetensors", "pytorch_model.bin"):
        weights = path / name
        if weights.exists():
            return "sha256:" + hashlib.sha256(weights.read_bytes()).hexdigest()[:16]
    return ""


def _is_timm_config(config: dict[str, Any]) -> bool:
    """A timm checkpoint's config.json: timm's own (``architecture`` + ``pretrained_cfg``) or
    transformers' timm wrapper's (model_type ``timm_wrapper``)."""
    if config.get("model_type") == "timm_wrapper":
        return True
    return "model_type" not in config and "pretrained_cfg" in config and "architecture" in config


def _check_folder(path: Path) -> dict[str, Any]:
    """The config.json of local checkpoint folder `path`; raises naming what it lacks."""
    import json

    what = (
        "a transformers or timm checkpoint folder needs config.json and model.safetensors (or "
        "pytorch_model.bin), and a transformers one preprocessor_config.json"
    )
    if not path.is_dir():
        raise ModelNotAvailableError(f"model {str(path)!r} is a file, not a folder: {what}")
    if not (path / "config.json").is_file():
        raise ModelNotAvailableError(
            f"folder {str(path)!r} has no config.json, so it is neither a run folder (no "
            f"rib_model.json) nor a checkpoint: {what}"
        )
    try:
        config = json.loads((path / "config.json").read_text())
    except ValueError as err:
        raise ModelNotAvailableError(f"{path / 'config.json'} is not valid JSON ({err})") from None
    if not any((path / w).is_file() for w in _WEIGHTS):
        raise ModelNotAvailableError(f"folder {str(path)!r} has no weights: {what}")
    if not _is_timm_config(config) and not (path / "preprocessor_config.json").is_file():
        raise ModelNotAvailableError(
            f"folder {str(path)!r} has no preprocessor_config.json, so its preprocessing is "
            f"unknown; save the image processor of the model it came from there "
            f"(`AutoImageProcessor.from_pretrained(<base model>).save_pretrained(folder)`)"
        )
    return config


def _hub_commit(repo_id: str, revision: str | None) -> str:
    """The commit a Hub model was loaded from: the snapshot folder of its cached config
    (a branch such as ``main`` moves; its commit does not); `revision` if not cached."""
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(repo_id, "config.json", revision=revision)
    if isinstance(cached, str):  # .../models--org--name/snapshots/<commit>/config.json
        return Path(cached).parent.name
    return revision or ""


def hub_run_folder(repo_id: str, revision: str | None = None) -> Path | None:
    """The local snapshot of Hub repo `repo_id` if it holds a pushed run (``rib_model.json``,
    see `hub.push`), else None (also when the Hub cannot be asked: `load_hf_model` then says
    why the model does not load)."""
    from huggingface_hub import hf_hub_download, snapshot_download
    from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError, LocalEntryNotFoundError

    from ..console import library_output
    from . import RUN_MODEL_FILE

    try:
        with library_output():
            hf_hub_download(repo_id, RUN_MODEL_FILE, revision=revision)
            return Path(snapshot_download(repo_id, revision=revision))
    except (EntryNotFoundError, LocalEntryNotFoundError, HfHubHTTPError, OSError, ValueError):
        return None


def transform_of(processor: Any) -> ImageTransform:
    """The `ImageTransform` of a transformers image processor, timm's wrapper included
    (its ``data_config``: input size, crop_pct, interpolation, mean, std)."""
    data_config = getattr(processor, "data_config", None)
    if data_config is None:
        return from_hf_processor(processor)
    mode = data_config.get("crop_mode", "center")
    if mode != "center":
        raise ConfigError(
            f"the timm checkpoint crops with crop_mode={mode!r}; imagenet-rib's transform is "
            "a center crop, so its preprocessing cannot be reproduced"
        )
    return from_timm_config(dict(data_config))


def _from_pretrained(name_or_path: str, revision: str | None) -> tuple[Any, Any]:
    from transformers import AutoConfig, AutoImageProcessor, AutoModelForImageClassification

    config = AutoConfig.from_pretrained(name_or_path, revision=revision)
    if isinstance(getattr(config, "model_args", None), dict) and "num_classes" in config.model_args:
        # timm >= 1.0.2x records num_classes in model_args; transformers' wrapper passes it
        # again (num_labels): drop the duplicate, the head size is the same
        config.model_args = {k: v for k, v in config.model_args.items() if k != "num_classes"}
    model = AutoModelForImageClassification.from_pretrained(
        name_or_path, revision=revision, config=config
    )
    processor = AutoImageProcessor.from_pretrained(name_or_path, revision=revision)
    return model, processor


def load_hf_model(
    name_or_path: str,
    *,
    label_space: str | None = None,
    revision: str | None = None,
    display_name: str | None = None,
    allow_label_mismatch: bool = False,
    default_label_space: str | None = None,
    **_: Any,
) -> LoadedModel:
    """`AutoModelForImageClassification` + `AutoImageProcessor` from a folder or the Hub
    (transformers checkpoints and timm ones, whose transform comes from ``pretrained_cfg``).

    The label space is `label_space`, else the config's ``rib_label_space``, else
    ImageNet-1k for a 1000-way head, else `default_label_space`; the head's ``id2label``
    must agree with it (`check_class_names`).
    """
    from ..console import library_output

    path = Path(name_or_path)
    local = path.exists()
    if local:
        _check_folder(path)
    elif name_or_path.startswith(("/", "./", "../", "~")) or "\\" in name_or_path:
        raise ModelNotAvailableError(
            f"cannot load model {name_or_path!r}: there is no such folder (and it is not a "
            "Hub id, which reads 'org/name'); check the path"
        )
    try:
        with library_output():
            model, processor = _from_pretrained(name_or_path, revision)
    except OSError as err:
        offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")
        if local:
            hint = f"the folder's files do not load ({err})"
        elif offline:
            hint = (
                "it is not a local folder, you are offline (HF_HUB_OFFLINE=1) and it is not in "
                f"the local Hugging Face cache; download it once online with `hf download "
                f"{name_or_path}`, or pass a local folder"
            )
        else:
            hint = f"no such local folder, and the Hub does not serve it ({err})"
        raise ModelNotAvailableError(f"cannot load model {name_or_path!r}: {hint}") from err
    space = (
        label_space
        or model.config.to_dict().get("rib_label_space")
        or ("imagenet-1k" if model.config.num_labels == 1000 else "")
        or default_label_space
        or ""
    )
    if space:
        from ..data.labels import LABEL_SPACES

        id2label = model.config.id2label or {}
        names = [id2label.get(i, f"LABEL_{i}") for i in range(model.config.num_labels)]
        if space in LABEL_SPACES:
            check_class_names(
                names, space, model=display_name or name_or_path, allow=allow_label_mismatch
            )
        else:  # a suite's own label space, not loaded in this process
            logger.warning(
                "label space %r of %s is not registered: head not checked", space, name_or_path
            )
    return LoadedModel(
        name=display_name or name_or_path,
        model=model,
        transform=transform_of(processor),
        label_space=space,
        revision=_revision_of(path) if local else _hub_commit(name_or_path, revision),
        kind="hf",
    )
