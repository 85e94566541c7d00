"""Evaluate models on datasets under their label protocol: the one evaluation entry point.

For one dataset part with targets t_n and reduced logits z'_n (see `data/protocol.py`):

    correct_n = [argmax_k z'_{n,k} == t_n],    accuracy = 100 * mean_n correct_n

except ImageNet-C-style datasets, whose accuracy is the mean over their (corruption,
severity) sets (equal to the row mean when every set has the same images). Per-image
correctness is kept for bootstrap confidence intervals.

`evaluate` streams every part through ONE `torch.utils.data.DataLoader` (`data/stream.py`):
worker processes decode the stored bytes and apply the model's exact transform, batches
travel as uint8 (pinned, non-blocking copies on a GPU), normalisation runs on the device,
and every checkpoint of the call shares each batch (a WiSE-FT sweep is one pass). Under
``torchrun`` / ``accelerate launch``, rank r reads only its block of rows
(`distributed.shard_bounds`) and the predictions are gathered once per sample
(`distributed.gather_exact`). Memory is O(batch x workers x prefetch) plus one int64 per
prediction, never O(N images).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .config import ConfigBase, check_choice, check_range
from .config import field as option
from .errors import ConfigError

if TYPE_CHECKING:
    import torch

    from .data.loading import SplitPart
    from .transforms import ImageTransform

logger = logging.getLogger(__name__)

PRECISIONS = ("fp32", "bf16")
DECODERS = ("cpu", "gpu")
MAX_AUTO_WORKERS = 8


@dataclass(frozen=True)
class EvalConfig(ConfigBase):
    """How an evaluation runs (never what it measures: the label protocol is the dataset's)."""

    batch_size: int = option(256, help="images per forward pass (per process)")
    num_workers: int = option(
        -1,
        help=f"data-loader worker processes per process (-1: this process's share of the "
        f"available cores, at most {MAX_AUTO_WORKERS}; 0: decode in the main process)",
    )
    prefetch_factor: int = option(2, help="batches each worker prepares ahead")
    precision: str = option(
        "fp32", help="'fp32' (exact) or 'bf16' (autocast; CUDA or CPU), recorded with results"
    )
    allow_tf32: bool = option(
        False, help="let fp32 matmuls/convolutions use TF32 on CUDA (recorded with results)"
    )
    decode: str = option(
        "cpu",
        help="'cpu': PIL in the workers (the exact default); 'gpu': batched nvJPEG decode and "
        "resize/crop on the GPU (close to, not equal to, the CPU transform)",
    )
    device: str = option("", help="torch device ('' : cuda:LOCAL_RANK when available, else cpu)")
    pin_memory: bool | None = option(
        None, help="pin host batches (unset: pin on CUDA with decode='cpu')"
    )

    def __post_init__(self) -> None:
        owner = "EvalConfig"
        check_range(owner, "batch_size", self.batch_size, 1)
        check_range(owner, "num_workers", self.num_workers, -1)
        check_range(owner, "prefetch_factor", self.prefetch_factor, 1)
        check_choice(owner, "precision", self.precision, PRECISIONS)
        check_choice(owner, "decode", self.decode, DECODERS)

    def resolved_device(self) -> torch.device:
        """The evaluation device; raises if a CUDA-only option meets a machine without CUDA."""
        import torch

        from . import distributed

        try:
            device = torch.device(self.device) if self.device else distributed.device()
        except RuntimeError as err:
            raise ConfigError(
                f"EvalConfig.device={self.device!r} is not a device ({err})"
            ) from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError(
                f"EvalConfig.device={self.device!r} needs CUDA, which this machine lacks; "
                f"use device='' or 'cpu'"
            )
        if self.decode == "gpu" and device.type != "cuda":
            raise ConfigError(
                "EvalConfig.decode='gpu' decodes with nvJPEG and needs a CUDA device "
                f"(the evaluation device is {device}); use decode='cpu'"
            )
        return device

    def workers(self) -> int:
        from .data.stream import default_workers

        return default_workers(MAX_AUTO_WORKERS) if self.num_workers < 0 else self.num_workers

    def provenance(self, device: torch.device | None = None) -> dict[str, Any]:
        """What produced the numbers (recorded with every result)."""
        resolved = device if device is not None else self.resolved_device()
        return {
            "precision": self.precision,
            "allow_tf32": bool(self.allow_tf32 and resolved.type == "cuda"),
            "decode": self.decode,
            "device": resolved.type,
            "batch_size": self.batch_size,
        }


@dataclass
class DatasetEval:
    """Accuracy of one model on one dataset part."""

    dataset: str
    part: str
    protocol: str
    accuracy: float  # percent
    num_images: int
    correct: np.ndarray = field(repr=False)  # (N,) bool
    per_group: dict[str, float] = field(default_factory=dict)  # e.g. "fog/3" -> accuracy
    predictions: np.ndarray | None = field(default=None, repr=False)  # (N,) target index

    def to_dict(self, with_correct: bool = False) -> dict[str, Any]:
        out = {
            "dataset": self.dataset,
            "part": self.part,
            "protocol": self.protocol,
            "accuracy": self.accuracy,
            "num_images": self.num_images,
            "per_group": self.per_group,
        }
        if with_correct:
            out["correct"] = self.correct.astype(int).tolist()
        return out


def score(part: SplitPart, pred: np.ndarray) -> DatasetEval:
    """Accuracy (with the dataset's aggregation) from predictions over `part`."""
    correct = pred == part.targets
    acc, per_group = part.spec.accuracy(correct, part.dataset)
    return DatasetEval(
        part.name, part.part, part.protocol.rule, acc, len(correct), correct, per_group, pred
    )


@contextlib.contextmanager
def placed(models: Sequence[torch.nn.Module], device: torch.device) -> Iterator[None]:
    """Run `models` on `device` in eval mode, then put each back (device, train flag).

    The caller's modules are moved, not copied (a copy of every WiSE-FT variant would double
    host memory), and always moved back, so a cached pretrained model never stays on the GPU.
    """
    saved = []
    for m in models:
        first = next(itertools.chain(m.parameters(), m.buffers()), None)
        saved.append((m.training, None if first is None else first.device))
        m.eval().to(device)
    try:
        yield
    finally:
        for m, (training, original) in zip(models, saved):
            if original is not None:
                m.to(original)
            m.train(training)


@contextlib.contextmanager
def fp32_matmuls(allow_tf32: bool, device: torch.device) -> Iterator[None]:
    """On CUDA, fp32 matmuls and convolutions in TF32 or in IEEE fp32 as asked (restored
    afterwards: these are process-wide switches). Nothing to do elsewhere."""
    import torch

    if device.type != "cuda":
        yield
        return
    if hasattr(torch.backends.cuda.matmul, "fp32_precision"):  # torch >= 2.9
        switches = [
            (torch.backends.cuda.matmul, "fp32_precision"),
            (torch.backends.cudnn.conv, "fp32_precision"),
        ]
        value: object = "tf32" if allow_tf32 else "ieee"
    else:
        switches = [
            (torch.backends.cuda.matmul, "allow_tf32"),
            (torch.backends.cudnn, "allow_tf32"),
        ]
        value = allow_tf32
    saved = [getattr(obj, name) for obj, name in switches]
    for obj, name in switches:
        setattr(obj, name, value)
    try:
        yield
    finally:
        for (obj, name), old in zip(switches, saved):
            setattr(obj, name, old)


def autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast on `device` for ``precision='bf16'``, else nothing."""
    import torch

    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def evaluate(
    models: Sequence[torch.nn.Module],
    transform: ImageTransform,
    parts: Sequence[SplitPart],
    *,
    config: EvalConfig | None = None,
    progress: bool = False,
    local: bool = False,
) -> list[dict[str, DatasetEval]]:
    """Evaluate checkpoints sharing one `transform` on dataset parts (see module docstring).

    Returns, per model, ``{part.name: DatasetEval}``; every rank of a launch receives all of
    it. With ``local=True`` this process evaluates every row itself (no collective call:
    for code that runs on one rank only).
    """
    import torch

    from . import distributed
    from .data.stream import (
        PartBatches,
        check_device_transform,
        decode_on_device,
        loader_workers,
    )
    from .models import logits_of

    cfg = config or EvalConfig()
    device = cfg.resolved_device()
    if cfg.decode == "gpu":
        check_device_transform(transform)
    world, rank = (1, 0) if local else (distributed.world_size(), distributed.rank())
    bounds = [distributed.shard_bounds(len(p.dataset), world)[rank] for p in parts]
    batches = PartBatches(
        [(p.dataset, lo, hi) for p, (lo, hi) in zip(parts, bounds)],
        transform,
        cfg.batch_size,
        encoded=cfg.decode == "gpu",
    )
    rows = sum(hi - lo for lo, hi in bounds)
    workers = loader_workers(cfg.num_workers, min(cfg.workers(), len(batches)), rows)
    # nvJPEG copies the encoded bytes itself: pinning them would only cost time
    auto_pin = device.type == "cuda" and cfg.decode == "cpu"
    pin = auto_pin if cfg.pin_memory is None else cfg.pin_memory
    loader = torch.utils.data.DataLoader(
        batches,
        batch_size=None,  # items are whole batches
        shuffle=False,
        num_workers=workers,
        pin_memory=pin,
        prefetch_factor=cfg.prefetch_factor if workers else None,
    )
    # predictions stay on the device until the end: no host sync per batch
    preds = [
        torch.empty((len(models), hi - lo), dtype=torch.int64, device=device) for lo, hi in bounds
    ]
    bar = None
    if progress and (local or distributed.is_main_process()):
        from tqdm.auto import tqdm

        bar = tqdm(
            total=sum(hi - lo for lo, hi in bounds), desc="evaluate", unit="img", leave=False
        )
    with placed(models, device), fp32_matmuls(cfg.allow_tf32, device), torch.inference_mode():
        for batch in loader:
            if cfg.decode == "gpu":
                x = decode_on_device(batch, transform, device)
            else:
                x = batch["pixel_values"].to(device, non_blocking=True)
            x = transform.normalize(x)  # float32, (x / 255 - mean) / std
            p, off = batch["part"], batch["offset"]
            reduce = parts[p].protocol.reduce
            with autocast(cfg.precision, device):
                for k, m in enumerate(models):
                    preds[p][k, off : off + len(x)] = reduce(logits_of(m, x).float()).argmax(-1)
            if bar is not None:
                bar.update(len(x))
    if bar is not None:
        bar.close()
    out: list[dict[str, DatasetEval]] = [{} for _ in models]
    for part, local_preds in zip(parts, preds):
        host = local_preds.cpu().numpy()
        n = len(part.dataset)
        for k in range(len(models)):
            pred = host[k] if local else distributed.gather_exact(host[k], n)
            out[k][part.name] = score(part, pred)
    return out


def evaluate_split(
    model: torch.nn.Module,
    transform: ImageTransform,
    part: SplitPart,
    *,
    config: EvalConfig | None = None,
) -> DatasetEval:
    """One model on one part, all rows in this process (`evaluate` with ``local=True``)."""
    (evals,) = evaluate([model], transform, [part], config=config, local=True)
    return evals[part.name]
