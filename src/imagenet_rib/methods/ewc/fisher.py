"""Diagonal Fisher information of a pretrained classifier (Kirkpatrick et al., PNAS 2017).

    F_k = 1/N sum_n E_{y ~ p_theta(y | x_n)} [ (d log p_theta(y | x_n) / d theta_k)^2 ]

estimated with one sampled y per image ("sampled", the true Fisher) or with the image's
label ("empirical"), over N images of the pretraining reference set. The per-sample
gradients g_n = d log p_theta(y_n | x_n) / d theta are batched,

    G = vmap(grad(log p_theta(y | x)))(theta, X_chunk, Y_chunk),    G: (chunk, *theta.shape)

(``torch.func``: `functional_call` + `vmap` + `grad`) over chunks of images on the model's
device, and F = 1/N sum_n g_n^2 is accumulated in float32. Memory: chunk x parameters
floats, the chunk sized to the device. Under mixed-precision training the forward passes
run in the training precision (autocast), like the training steps.

Sampled labels come from uniforms u_n drawn once from ``numpy.random.default_rng(seed)``:
y_n = the first class whose cumulative probability reaches u_n, so they depend neither on
the chunking nor on the device. The reference images stream from their source (the
suite's or ``--data``'s) through the loader workers. The result is cached under
``<cache>/fisher/<key>.safetensors``, keyed by the model revision, the dataset (name and
content fingerprint), the sample count, the estimator and the precision.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from ...paths import cache_dir
from ...state import state_checksum

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)

MAX_CHUNK = 256
CPU_BUDGET = 1 << 30  # bytes of per-sample gradients at once on a CPU


def _autocast(mixed_precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """Autocast of a `TrainConfig.mixed_precision` ('no', 'fp16', 'bf16')."""
    import torch

    dtypes = {"bf16": torch.bfloat16, "fp16": torch.float16}
    if mixed_precision in dtypes:
        return torch.autocast(device.type, dtype=dtypes[mixed_precision])
    return contextlib.nullcontext()


def chunk_size(num_params: int, device: torch.device) -> int:
    """Images per vmap call: per-sample gradients (and their squares, a temporary) in about a
    quarter of the free GPU memory, or `CPU_BUDGET` on a CPU."""
    import torch

    budget = CPU_BUDGET
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        budget = free // 4
    return int(max(1, min(MAX_CHUNK, budget // (12 * max(num_params, 1)))))


def _logits(out) -> torch.Tensor:
    return out if not hasattr(out, "logits") else out.logits


def sample_labels(model: torch.nn.Module, x: torch.Tensor, u: np.ndarray) -> torch.Tensor:
    """y_n ~ p(y | x_n) by inversion of uniforms `u` (B,): (B, 3, H, W) -> (B,) int64."""
    import torch

    from ...models import logits_of

    with torch.no_grad():
        p = torch.softmax(logits_of(model, x).double(), dim=-1).cpu().numpy()  # (B, C)
    cdf = np.cumsum(p, axis=1)
    y = (cdf < u[:, None] * cdf[:, -1:]).sum(axis=1)
    return torch.as_tensor(np.minimum(y, p.shape[1] - 1), device=x.device)


def fisher_from_batches(
    model: torch.nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor | None]],
    *,
    total: int,
    kind: str = "sampled",
    seed: int = 0,
    chunk: int | None = None,
    mixed_precision: str = "no",
) -> dict[str, torch.Tensor]:
    """F over the trainable parameters of `model` from `batches` of (normalised images
    (B, 3, H, W), labels (B,) or None for "sampled"), `total` images in all."""
    import torch
    from torch.func import functional_call, grad, vmap
    from torch.nn.attention import SDPBackend, sdpa_kernel

    named = list(model.named_parameters())
    params = {n: p.detach() for n, p in named if p.requires_grad}
    frozen = {n: p.detach() for n, p in named if not p.requires_grad}
    frozen.update(dict(model.named_buffers()))
    device = next(iter(params.values())).device
    chunk = chunk or chunk_size(sum(p.numel() for p in params.values()), device)
    u = np.random.default_rng(seed).random(total)

    def log_p(theta: dict, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        out = functional_call(model, {**theta, **frozen}, (), {"pixel_values": x[None]})
        logp = torch.log_softmax(_logits(out).float(), dim=-1)[0]  # (C,)
        return logp.gather(0, y.reshape(1))[0]  # indexing by a tensor cannot be vmapped

    per_sample = vmap(grad(log_p), in_dims=(None, 0, 0))
    fisher = {n: torch.zeros_like(p, dtype=torch.float32) for n, p in params.items()}
    seen = 0
    was_training = model.training
    model.eval()
    try:
        for x, labels in batches:
            x = x.to(device)
            for s in range(0, len(x), chunk):
                xc = x[s : s + chunk]
                with _autocast(mixed_precision, device):
                    if kind == "sampled":
                        yc = sample_labels(model, xc, u[seen : seen + len(xc)])
                    else:
                        yc = torch.as_tensor(labels[s : s + chunk], device=device)
                    # the fused attention kernels have no vmap batching rule (a slow
                    # per-sample fallback); the math kernel is plain matmuls
                    with sdpa_kernel(SDPBackend.MATH):
                        g = per_sample(params, xc, yc)
                for n, f in fisher.items():
                    f += g[n].float().pow(2).sum(dim=0)
                seen += len(xc)
    finally:
        model.train(was_training)
    if seen != total:
        raise ValueError(f"the Fisher batches held {seen} images, not total={total}")
    return {n: f / max(seen, 1) for n, f in fisher.items()}


def diagonal_fisher(
    model: torch.nn.Module,
    pixel_values: torch.Tensor,
    labels: torch.Tensor | None,
    *,
    kind: str = "sampled",
    seed: int = 0,
    chunk: int | None = None,
    mixed_precision: str = "no",
) -> dict[str, torch.Tensor]:
    """F from N images already in memory, `pixel_values` (N, 3, H, W) normalised."""
    return fisher_from_batches(
        model,
        [(pixel_values, labels)],
        total=len(pixel_values),
        kind=kind,
        seed=seed,
        chunk=chunk,
        mixed_precision=mixed_precision,
    )


def fisher_key(
    revision: str,
    dataset: str,
    samples: int,
    kind: str,
    split: dict,
    names: list[str],
    *,
    data: str = "",
    precision: str = "no",
) -> str:
    text = json.dumps(
        {
            "revision": revision,
            "dataset": dataset,
            "data": data,
            "samples": samples,
            "kind": kind,
            "split": split,
            "precision": precision,
            "params": hashlib.sha256("|".join(names).encode()).hexdigest(),
        },
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:24]


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
    source: str | None = None,
    mixed_precision: str = "no",
    num_workers: int = 0,
) -> dict[str, torch.Tensor]:
    """The Fisher of `model` on `dataset` (train part of `split`, read from `source`),
    computed once and cached."""
    from filelock import FileLock
    from safetensors.torch import load_file, save_file

    from ...data.loading import load_split
    from ...data.stream import ImageRows, make_loader

    names = [n for n, p in model.named_parameters() if p.requires_grad]
    part = load_split(dataset, "train", split, max_samples=samples, source=source)
    key = fisher_key(
        revision or "params:" + state_checksum(model),
        dataset,
        samples,
        kind,
        split.to_dict(),
        names,
        data=part.dataset._fingerprint,
        precision=mixed_precision,
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
        chunk = chunk_size(sum(p.numel() for p in model.parameters() if p.requires_grad), device)
        loader = make_loader(
            ImageRows(part.dataset, transform, part.targets),
            batch_size=chunk,
            num_workers=num_workers,
            pin_memory=device.type == "cuda",
        )
        batches = (
            (transform.normalize(b["pixel_values"].to(device, non_blocking=True)), b["labels"])
            for b in loader
        )
        logger.info("estimating the diagonal Fisher on %d images of %s", len(part), dataset)
        fisher = fisher_from_batches(
            model,
            batches,
            total=len(part),
            kind=kind,
            seed=seed,
            chunk=chunk,
            mixed_precision=mixed_precision,
        )
        tmp = path.with_name(f".{path.name}.tmp")
        save_file({n: f.contiguous().cpu() for n, f in fisher.items()}, str(tmp))
        tmp.replace(path)
    return fisher
