"""Diagonal Fisher information of a pretrained classifier (Kirkpatrick et al., PNAS 2017).

    F_k = 1/N sum_n E_{y ~ p_theta(y | x_n)} [ (d log p_theta(y | x_n) / d theta_k)^2 ]

estimated with one sampled y per image ("sampled", the true Fisher) or with the image's
label ("empirical"), from per-sample gradients over N images of the pretraining reference
set. Cached under ``<cache>/fisher/<key>.safetensors``, keyed by the model revision, the
dataset, the sample count and the estimator.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import TYPE_CHECKING

import numpy as np

from ...paths import cache_dir

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)


def diagonal_fisher(
    model: torch.nn.Module,
    pixel_values: torch.Tensor,
    labels: torch.Tensor | None,
    *,
    kind: str = "sampled",
    seed: int = 0,
) -> dict[str, torch.Tensor]:
    """F over the trainable parameters from N images `pixel_values` (N, 3, H, W), normalised."""
    import torch

    from ...models import logits_of

    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    fisher = {n: torch.zeros_like(p, dtype=torch.float32) for n, p in params.items()}
    gen = torch.Generator().manual_seed(seed)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    for i in range(len(pixel_values)):
        logits = logits_of(model, pixel_values[i : i + 1].to(device)).float()  # (1, C)
        logp = torch.log_softmax(logits, dim=-1)[0]
        if kind == "sampled":
            y = int(torch.multinomial(logp.detach().exp().cpu(), 1, generator=gen))
        else:
            y = int(labels[i])
        grads = torch.autograd.grad(logp[y], list(params.values()), allow_unused=True)
        for (n, _), g in zip(params.items(), grads):
            if g is not None:
                fisher[n] += g.detach().float().pow(2)
    model.train(was_training)
    return {n: f / max(len(pixel_values), 1) for n, f in fisher.items()}


def fisher_key(
    revision: str, dataset: str, samples: int, kind: str, split: dict, names: list[str]
) -> str:
    text = json.dumps(
        {
            "revision": revision,
            "dataset": dataset,
            "samples": samples,
            "kind": kind,
            "split": split,
            "params": hashlib.sha256("|".join(names).encode()).hexdigest(),
        },
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def state_revision(model: torch.nn.Module) -> str:
    """Content hash of a module's parameters (when the loader gave no revision)."""
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(np.ascontiguousarray(t.detach().float().cpu().numpy()).tobytes())
    return "params:" + h.hexdigest()[:16]


def cached_fisher(
    model: torch.nn.Module,
    *,
    revision: str,
    dataset: str,
    samples: int,
    kind: str,
    split,
    transform,
    seed: int = 0,
) -> dict[str, torch.Tensor]:
    """The Fisher of `model` on `dataset` (train part of `split`), computed once and cached."""
    import torch
    from filelock import FileLock
    from safetensors.torch import load_file, save_file

    from ...data.loading import load_split
    from ...data.tensors import pixels

    names = [n for n, p in model.named_parameters() if p.requires_grad]
    key = fisher_key(
        revision or state_revision(model), dataset, samples, kind, split.to_dict(), names
    )
    path = cache_dir() / "fisher" / f"{key}.safetensors"
    path.parent.mkdir(parents=True, exist_ok=True)
    device = next(model.parameters()).device
    with FileLock(str(path) + ".lock"):
        if path.exists():
            try:
                return {n: t.to(device) for n, t in load_file(str(path)).items()}
            except Exception:  # noqa: BLE001 - a corrupt cache entry is rebuilt
                logger.warning("unreadable Fisher cache %s; recomputing it", path)
        part = load_split(dataset, "train", split, max_samples=samples)
        x = transform.normalize(torch.from_numpy(np.asarray(pixels(part.dataset, transform))))
        labels = torch.as_tensor(part.targets)
        logger.info("estimating the diagonal Fisher on %d images of %s", len(x), dataset)
        fisher = diagonal_fisher(model, x, labels, kind=kind, seed=seed)
        tmp = path.with_name(f".{path.name}.tmp")
        save_file({n: f.contiguous().cpu() for n, f in fisher.items()}, str(tmp))
        tmp.replace(path)
    return fisher
