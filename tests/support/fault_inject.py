"""Run the ``rib`` CLI with a ``kill -9`` injected INSIDE a write that must be all or nothing.

    python tests/support/fault_inject.py store-add run cfg.yaml --output-dir out --no-progress
    python tests/support/fault_inject.py checkpoint-write:4 finetune ... --save-steps 2

Test helper only: the library has no fault hooks. The fault is injected from outside:

- ``store-add`` wraps `sqlite3.connect`, so that the connection `ResultStore.add` opens
  SIGKILLs this process right after its ``INSERT OR REPLACE INTO records`` ran in the open
  transaction and before the transaction commits: the store must then hold none of that write.
- ``checkpoint-write:N`` wraps `torch.save`, so that writing the optimizer state of the
  step-N checkpoint SIGKILLs this process: the model weights of that checkpoint are on
  disk, its optimizer, scheduler, RNG and trainer state are not.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import sys

#: fault point -> the SQL statement prefix after which the process is killed
POINTS = {"store-add": "INSERT OR REPLACE INTO records"}


def install_checkpoint_kill(step: int) -> None:
    """SIGKILL this process when it writes the optimizer state of checkpoint `step`."""
    import torch

    real_save = torch.save

    def save(obj, f, *args, **kwargs):
        name = os.fspath(f) if isinstance(f, (str, os.PathLike)) else ""
        if name.endswith("optimizer.pt") and f"checkpoint-{step}" in name:
            os.kill(os.getpid(), signal.SIGKILL)
        return real_save(obj, f, *args, **kwargs)

    torch.save = save


def install(point: str) -> None:
    """Make the first statement of `point` in this process end with SIGKILL."""
    if point.startswith("checkpoint-write:"):
        install_checkpoint_kill(int(point.split(":")[1]))
        return
    prefix = POINTS[point]

    class KillingConnection(sqlite3.Connection):
        def executemany(self, sql, *args, **kwargs):
            cursor = super().executemany(sql, *args, **kwargs)
            if sql.startswith(prefix) and self.in_transaction:
                os.kill(os.getpid(), signal.SIGKILL)
            return cursor

    real_connect = sqlite3.connect

    def connect(*args, **kwargs):
        kwargs.setdefault("factory", KillingConnection)
        return real_connect(*args, **kwargs)

    sqlite3.connect = connect


if __name__ == "__main__":
    install(sys.argv[1])
    from imagenet_rib.cli import main

    sys.exit(main(sys.argv[2:]))
