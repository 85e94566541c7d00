"""Streamed pre-logit feature extraction: the input of a classifier's head, batch by batch.

The OTDD embeds every image x as phi(x), the pretrained model's pre-logit features (as the
OTDD paper's code collects them): for a transformers `ViTForImageClassification`, the
normalised CLS token that enters `model.classifier`. A forward hook on the head copies its
input to CPU float32; images are never accumulated, so memory is O(n d) for n samples.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from ..errors import ConfigError

logger = logging.getLogger(__name__)

_HEAD_ATTRIBUTES = ("classifier", "head", "fc", "heads")


def find_head(model: Any) -> Any:
    """The classification head of `model`: `get_output_embeddings()`, timm's `get_classifier()`,
    or a `classifier` / `head` / `fc` / `heads` attribute, in that order."""
    import torch

    candidates = []
    for getter in ("get_output_embeddings", "get_classifier"):
        if callable(getattr(model, getter, None)):
            with contextlib.suppress(NotImplementedError, AttributeError):
                candidates.append(getattr(model, getter)())
    candidates += [getattr(model, name, None) for name in _HEAD_ATTRIBUTES]
    for head in candidates:
        if isinstance(head, torch.nn.Module):
            return head
    raise ConfigError(
        f"cannot find the classification head of {type(model).__name__}: it has no "
        f"get_output_embeddings()/get_classifier() module nor a {'/'.join(_HEAD_ATTRIBUTES)} "
        f"attribute; pass head=<the module whose input are the pre-logit features>"
    )


def _split(batch: Any) -> tuple[Any, Any]:
    if isinstance(batch, Mapping):
        images = batch.get("pixel_values")
        labels = batch.get("labels", batch.get("label"))
    elif isinstance(batch, (tuple, list)) and len(batch) >= 2:
        images, labels = batch[0], batch[1]
    else:
        images, labels = None, None
    if images is None or labels is None:
        raise ConfigError(
            "each batch must be a (images, labels) tuple or a dict with 'pixel_values' and "
            "'labels' (or 'label'); got " + type(batch).__name__
        )
    return images, labels


def extract_features(
    model: Any,
    batches: Iterable[Any],
    head: Any | None = None,
    device: str = "cpu",
    *,
    max_samples: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """phi(x) = input of the classification head, for every image of `batches`.

    Args:
        model: a torch.nn.Module classifier (transformers, timm or torchvision).
        batches: iterable of (images, labels) tuples or dicts with 'pixel_values'/'labels'.
        head: the head module to hook (default: `find_head(model)`).
        device: where the model runs (it is moved there; batches follow).
        max_samples: stop after this many samples.

    Returns:
        features (n, d) float32 and labels (n,) int64, on CPU as numpy arrays.
    """
    import torch

    head = find_head(model) if head is None else head
    captured: list[torch.Tensor] = []

    def hook(_module: Any, inputs: tuple, _output: Any) -> None:
        captured.append(inputs[0].detach().reshape(inputs[0].shape[0], -1).to("cpu", torch.float32))

    feats: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    was_training = model.training
    model.eval().to(device)
    handle = head.register_forward_hook(hook)
    n = 0
    try:
        with torch.inference_mode():
            for batch in batches:
                images, target = _split(batch)
                captured.clear()
                model(images.to(device))
                if len(captured) != 1:
                    raise ConfigError(
                        f"the head hook fired {len(captured)} times for one batch; pass the "
                        f"module whose input are the pre-logit features as head="
                    )
                feats.append(captured[0].numpy())
                labels.append(np.asarray(torch.as_tensor(target).cpu(), dtype=np.int64).reshape(-1))
                n += len(feats[-1])
                if max_samples is not None and n >= max_samples:
                    break
    finally:
        handle.remove()
        model.train(was_training)
    if not feats:
        raise ConfigError("no batches to extract features from")
    x, y = np.concatenate(feats), np.concatenate(labels)
    if max_samples is not None:
        x, y = x[:max_samples], y[:max_samples]
    logger.info("extracted %d pre-logit features of dimension %d", len(x), x.shape[1])
    return x, y
