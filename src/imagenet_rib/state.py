"""What identifies a module's weights: a checksum of its state dict.

Equal weights give equal checksums (up to hash collisions); floating tensors are hashed as
float64, so a checksum does not depend on the dtype the weights happen to be held in.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


def state_checksum(module: torch.nn.Module) -> str:
    """16 hex digits of SHA-256 over the sorted (name, tensor bytes) of `module.state_dict()`."""
    h = hashlib.sha256()
    for name, t in sorted(module.state_dict().items()):
        h.update(name.encode())
        t = t.detach().cpu()
        h.update((t.double() if t.is_floating_point() else t).contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def revision_of(loaded: Any) -> str:
    """The revision of a `LoadedModel`: its loader's (content hash of a folder's weights, Hub
    snapshot, weights file), else a checksum of its loaded state."""
    if loaded.revision:
        return loaded.revision
    return "state:" + state_checksum(loaded.model)
