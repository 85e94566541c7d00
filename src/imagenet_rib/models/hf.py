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
from ..transforms import from_hf_processor
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
    allow_label_mismatch: bool = False,
    **_: Any,
) -> LoadedModel:
    """`AutoModelForImageClassification` + `AutoImageProcessor` from a folder or the Hub.

    The label space is `label_space`, else the config's ``rib_label_space``, else
    ImageNet-1k for a 1000-way head; the head's ``id2label`` must agree with it
    (`check_class_names`).
    """
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
        transform=from_hf_processor(processor),
        label_space=space,
        revision=revision or (_revision_of(path) if path.exists() else ""),
        kind="hf",
    )
