"""Run the ``rib`` CLI with a ``kill -9`` injected INSIDE a results-store transaction.

    python tests/fault_inject.py store-add run cfg.yaml --output-dir out --no-progress

Test helper only: the library has no fault hooks. The fault is injected from outside by
wrapping `sqlite3.connect`, so that the connection `ResultStore.add` opens SIGKILLs this
process right after its ``INSERT OR REPLACE INTO records`` ran in the open transaction and
before the transaction commits: the store must then hold none of that write.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import sys

#: fault point -> the SQL statement prefix after which the process is killed
POINTS = {"store-add": "INSERT OR REPLACE INTO records"}


def install(point: str) -> None:
    """Make the first statement of `point` in this process end with SIGKILL."""
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
