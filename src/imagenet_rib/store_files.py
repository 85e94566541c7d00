"""What a results-store path holds, found without changing it, and a read-only connection.

A store path may be missing, a RIB store, or some other file (an SQLite database of something
else, a text file): `probe_store` tells which from the file's header and tables, and
`open_read_only` opens a store so that reading never writes (no tables, no WAL switch).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from .errors import RIBError

SQLITE_MAGIC = b"SQLite format 3\x00"


def probe_store(path: Path) -> str:
    """``"new"`` (absent or empty), ``"store"`` (a results store) or why it is foreign.

    Reads the file through a read-only connection: nothing is written to it.
    """
    if not path.exists() or (path.is_file() and path.stat().st_size == 0):
        return "new"
    try:
        with open(path, "rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except OSError as err:
        return f"it cannot be read ({err})"
    if head != SQLITE_MAGIC:
        return "it is not an SQLite database"
    tables: list[str] | None = None
    # mode=ro writes nothing; a WAL database in a folder we cannot write needs immutable=1
    for flags in ("mode=ro", "immutable=1"):
        try:
            con = sqlite3.connect(f"{path.resolve().as_uri()}?{flags}", uri=True)
            try:
                rows = con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                tables = sorted(r[0] for r in rows)
            finally:
                con.close()
            break
        except sqlite3.DatabaseError as err:
            problem = f"SQLite cannot read it ({err})"
    if tables is None:
        return problem
    if "meta" not in tables or "records" not in tables:
        return f"it is an SQLite database of something else (tables: {tables or 'none'})"
    return "store"


def open_read_only(path: Path, timeout: float) -> sqlite3.Connection:
    """A connection that never writes `path` (and needs no write permission).

    Where the folder is writable, a ``query_only`` connection: it refuses every write
    statement, and on close SQLite removes the ``-wal``/``-shm`` companions it created, so
    nothing is left behind. Elsewhere a ``mode=ro`` connection (which needs an existing
    write-ahead log to be readable), else the file as it is on disk.
    """
    uri = path.resolve().as_uri()
    try:
        con = sqlite3.connect(f"{uri}?mode=rw", uri=True, timeout=timeout)
        con.execute("PRAGMA query_only = ON")
        con.execute("SELECT 1 FROM meta LIMIT 1")
        con.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        return con
    except sqlite3.OperationalError:
        pass  # no write permission on the file or its folder
    try:
        con = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=timeout)
        con.execute("SELECT 1 FROM meta LIMIT 1")
    except sqlite3.OperationalError as err:
        wal = path.with_name(path.name + "-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise RIBError(
                f"cannot read results store {path} ({err}): its write-ahead log {wal.name} "
                f"holds data that SQLite can only read from a writable folder; copy the store "
                f"and its -wal file to a writable folder and read the copy"
            ) from err
        # no log to replay (a cleanly closed store in a folder we cannot write): the file on
        # disk is the whole database; read it without locking
        con = sqlite3.connect(f"{uri}?immutable=1", uri=True, timeout=timeout)
    con.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
    return con
