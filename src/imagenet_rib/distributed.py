"""Process-group helpers for ``accelerate launch`` / ``torchrun``: each sample exactly once.

With W processes and N rows, rank r handles the contiguous block

    rows [b_r, b_{r+1}),    b_r = floor(r * N / W)

(`shard_bounds`; blocks differ in length by at most one row) and reads only those rows.
`gather_exact` pads every block to the longest length L = max_r (b_{r+1} - b_r),
``all_gather``-s (W, L), and keeps the first b_{r+1} - b_r entries of each rank's row: no
padding sample and no duplicate ever reaches an accuracy, unlike a ``DistributedSampler``
that repeats samples to even out the shards. Every rank receives the full result; by
convention rank 0 writes results (`is_main_process`), the others wait at `barrier`.
`evaluation.evaluate` builds on these (this module sits below it and never imports it).

Without a process group (a plain ``python`` run) everything degrades to one process.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

logger = logging.getLogger(__name__)


def _launched() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init() -> None:
    """Initialise the default process group if launched with several processes (idempotent)."""
    if not _launched():
        return
    import torch
    import torch.distributed as dist

    if dist.is_available() and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend=backend)
        logger.info("process group: rank %d of %d (%s)", rank(), world_size(), backend)


def _group_ready() -> bool:
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    if not _launched():
        return 1
    import torch.distributed as dist

    return dist.get_world_size() if _group_ready() else int(os.environ["WORLD_SIZE"])


def rank() -> int:
    if not _launched():
        return 0
    import torch.distributed as dist

    return dist.get_rank() if _group_ready() else int(os.environ.get("RANK", "0"))


def is_main_process() -> bool:
    return rank() == 0


def barrier() -> None:
    if _launched() and _group_ready():
        import torch.distributed as dist

        dist.barrier()


def device() -> torch.device:
    import torch

    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return torch.device("cpu")


def shard_bounds(n: int, world: int) -> list[tuple[int, int]]:
    """Contiguous [lo, hi) blocks covering range(n) once; sizes differ by at most one."""
    return [(r * n // world, (r + 1) * n // world) for r in range(world)]


def gather_exact(local: np.ndarray, n: int) -> np.ndarray:
    """Concatenate every rank's block of predictions, in rank order, dropping the padding."""
    import torch
    import torch.distributed as dist

    world = world_size()
    if world == 1:
        return local
    bounds = shard_bounds(n, world)
    width = max(hi - lo for lo, hi in bounds)
    # NCCL collectives take CUDA tensors only; the other backends (gloo) get CPU ones
    target = device() if dist.get_backend() == "nccl" else torch.device("cpu")
    buf = torch.full((width,), -1, dtype=torch.int64, device=target)
    buf[: len(local)] = torch.from_numpy(np.asarray(local, dtype=np.int64)).to(target)
    out = [torch.empty_like(buf) for _ in range(world)]
    dist.all_gather(out, buf)
    parts = [o[: hi - lo].cpu().numpy() for o, (lo, hi) in zip(out, bounds)]
    full = np.concatenate(parts)
    assert len(full) == n, (len(full), n)
    return full
