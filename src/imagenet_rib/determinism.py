"""Bit-identical CPU results: a fixed intra-op thread count, and what else decides the bits.

CPU float reductions (matmuls, layer norms, softmax sums) are split across torch's intra-op
threads, and the split changes the rounding: the same fine-tuning run under 1 and 2 threads
ends with different weights after a few steps, and a few test predictions flip.
`torch_threads(n)` fixes the thread count for a block (the Mini-RIB models are trained and
the demo runs under one thread, so its numbers do not depend on the machine's core count);
`compute_provenance()` records the remaining factors - torch version, thread count and the
CPU instruction set torch dispatches to (e.g. AVX2 vs AVX512 kernels round differently).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from .errors import ConfigError


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(n)``, restoring the previous count after."""
    import torch

    if not isinstance(n, int) or n < 1:
        raise ConfigError(f"torch thread count must be a positive integer, got {n!r}")
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def compute_provenance() -> dict[str, Any]:
    """What, besides the inputs and seeds, decides a result's floating-point bits."""
    import torch

    cuda = torch.cuda.is_available()
    return {
        "torch_version": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "device": torch.cuda.get_device_name(0) if cuda else "cpu",
    }
