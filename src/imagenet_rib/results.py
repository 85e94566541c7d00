"""The results store: every measured accuracy with its full provenance, in one SQLite file.

Tables (schema version `SCHEMA_VERSION`):

- ``records``: one `ResultRecord` per row, unique on its key
  (run_id, variant, eval_dataset, eval_part); re-adding a key replaces the row, so
  re-running a crashed run can never duplicate a result;
- ``correct``: the per-image correctness vector of each record, as ``np.packbits`` bits
  plus its length (for bootstrap confidence intervals), keyed like the record;
- ``runs``: run status (``planned`` / ``done`` / ``failed``) with the run's spec and a JSON info blob.

Safety: the database runs in WAL mode with a busy timeout, and every write is ONE
transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``): several processes (accelerate ranks,
submitit jobs) on one machine may write concurrently, and a ``kill -9`` at any instant
leaves either the whole write or none of it. SQLite's locking is unreliable on network
file systems (NFS, Lustre): on a cluster, give each job a local store and `merge` them,
or put the store on a local disk of the node that runs the jobs.

Opening never harms a file that is not a results store: a file that is not SQLite, or a
SQLite database without this store's ``meta`` table, is refused before anything is written
(no tables added, journal mode unchanged). ``ResultStore(path, read_only=True)`` is for
readers (`rib report`): it needs no write permission and never writes.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ConfigError, RIBError
from .records import ResultRecord
from .store_files import open_read_only, probe_store

if TYPE_CHECKING:
    import pandas as pd

SCHEMA_VERSION = 2  # v2: records.provenance (v1 stores are upgraded in place on open)
KEY = ("run_id", "variant", "eval_dataset", "eval_part")
EXPORT_FORMATS = (".parquet", ".csv", ".jsonl")

_TYPES = {int: "INTEGER", float: "REAL", str: "TEXT"}


def _record_columns() -> list[tuple[str, str]]:
    import dataclasses
    import typing

    hints = typing.get_type_hints(ResultRecord)
    return [(f.name, _TYPES[hints[f.name]]) for f in dataclasses.fields(ResultRecord)]


def _schema() -> list[str]:
    cols = ", ".join(f"{name} {tp} NOT NULL" for name, tp in _record_columns())
    key = ", ".join(KEY)
    return [
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS records ({cols}, PRIMARY KEY ({key}))",
        "CREATE TABLE IF NOT EXISTS correct (run_id TEXT NOT NULL, variant TEXT NOT NULL, "
        "eval_dataset TEXT NOT NULL, eval_part TEXT NOT NULL, n INTEGER NOT NULL, "
        f"bits BLOB NOT NULL, PRIMARY KEY ({key}))",
        "CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY, status TEXT NOT NULL, "
        "spec TEXT NOT NULL, info TEXT NOT NULL, time REAL NOT NULL)",
    ]


def pack_correct(correct: np.ndarray) -> tuple[int, bytes]:
    """(N,) bool -> (N, packed bits); the inverse is `unpack_correct`."""
    arr = np.asarray(correct, dtype=bool).ravel()
    return len(arr), np.packbits(arr).tobytes()


def unpack_correct(n: int, bits: bytes) -> np.ndarray:
    return np.unpackbits(np.frombuffer(bits, dtype=np.uint8), count=n).astype(bool)


class ResultStore:
    """A crash- and concurrency-safe store of `ResultRecord`s (see module docstring).

    Example::

        store = ResultStore("results.sqlite")
        store.add(records, correct={rec.key: eval.correct for ...})
        store.mark_done(run_id, {"seconds": 12.3})
        df = store.to_dataframe()
        store.export("leaderboard.parquet")
    """

    def __init__(
        self, path: str | Path, *, timeout: float = 120.0, read_only: bool = False
    ) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self.read_only = read_only
        if self.path.exists() and self.path.is_dir():
            raise ConfigError(
                f"results store path {self.path} is a folder; give a file path such "
                f"as {self.path / 'results.sqlite'}"
            )
        state = probe_store(self.path)
        if state == "new" and read_only:
            raise ConfigError(
                f"there is no results store at {self.path}; give the path of an existing "
                f"results.sqlite (written by `rib run` or `rib evaluate --store`)"
            )
        if state not in ("new", "store"):
            raise RIBError(
                f"{self.path} is not an imagenet-rib results store: {state}. It was left "
                f"untouched; give the path of a results store, or a new file path to create one"
            )
        if state == "store":  # an older or newer store is refused before anything is written
            con = open_read_only(self.path, timeout)
            try:
                self._check_version(con)
            finally:
                con.close()
        if read_only:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._write() as con:
            for stmt in _schema():
                con.execute(stmt)
            row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is None:
                con.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            elif row[0] == "1":  # v1 had no provenance column; its records get "{}"
                con.execute("ALTER TABLE records ADD COLUMN provenance TEXT NOT NULL DEFAULT '{}'")
                con.execute(
                    "UPDATE meta SET value = ? WHERE key = 'schema_version'",
                    (str(SCHEMA_VERSION),),
                )
            self._check_version(con)

    def _check_version(self, con: sqlite3.Connection) -> None:
        row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is not None and row[0] == "1" and not self.read_only:
            return  # upgraded in place by the writable open that follows
        if row is not None and row[0] == "1":
            raise RIBError(
                f"{self.path} is a results store of schema v1 (no provenance column); open it "
                f"once for writing (`ResultStore(path)`, or any `rib run` / `rib evaluate "
                f"--store` on it) to upgrade it in place, then read it"
            )
        if row is None or row[0] != str(SCHEMA_VERSION):
            raise RIBError(
                f"{self.path} has results-store schema "
                f"{'v' + row[0] if row else 'without a version'}, this library reads "
                f"v{SCHEMA_VERSION}; export it with the library version that wrote it, or use "
                f"a new store path"
            )

    # -- connections ------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        if self.read_only:
            return open_read_only(self.path, self.timeout)
        con = sqlite3.connect(str(self.path), timeout=self.timeout, isolation_level=None)
        con.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
        con.execute("PRAGMA journal_mode = WAL")
        con.execute("PRAGMA synchronous = FULL")
        return con

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: all of it is committed, or none of it."""
        if self.read_only:
            raise RIBError(
                f"results store {self.path} was opened read-only; open it with "
                f"ResultStore(path) to write"
            )
        con = self._connect()
        try:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
        finally:
            con.close()

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        con = self._connect()
        try:
            yield con
        finally:
            con.close()

    # -- writing ----------------------------------------------------------------------
    def add(
        self,
        records: Iterable[ResultRecord],
        correct: Mapping[tuple[str, str, str, str], np.ndarray] | None = None,
        *,
        done: tuple[str, Mapping[str, Any]] | None = None,
    ) -> int:
        """Insert (or replace, by key) `records` and their correctness vectors atomically.

        `done=(run_id, info)` also marks the run done in the SAME transaction, so a crash
        can never leave a run marked done with missing results (or the reverse).
        Returns the number of records written.
        """
        records = list(records)
        names = ResultRecord.columns()
        insert = (
            f"INSERT OR REPLACE INTO records ({', '.join(names)}) "
            f"VALUES ({', '.join('?' * len(names))})"
        )
        with self._write() as con:
            con.executemany(insert, [tuple(getattr(r, n) for n in names) for r in records])
            for key, vec in (correct or {}).items():
                n, bits = pack_correct(vec)
                con.execute(
                    "INSERT OR REPLACE INTO correct VALUES (?, ?, ?, ?, ?, ?)", (*key, n, bits)
                )
            if done is not None:
                self._set_status(con, done[0], "done", info=done[1])
        return len(records)

    @staticmethod
    def _set_status(
        con: sqlite3.Connection,
        run_id: str,
        status: str,
        *,
        spec: Mapping[str, Any] | None = None,
        info: Mapping[str, Any] | None = None,
    ) -> None:
        old = con.execute("SELECT spec, info FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        spec_text = (
            json.dumps(spec, sort_keys=True, default=str)
            if spec is not None
            else (old[0] if old else "{}")
        )
        info_text = (
            json.dumps(info, sort_keys=True, default=str)
            if info is not None
            else (old[1] if old else "{}")
        )
        con.execute(
            "INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?)",
            (run_id, status, spec_text, info_text, time.time()),
        )

    def mark_planned(self, run_id: str, spec: Mapping[str, Any]) -> None:
        """Record a planned run (never downgrades a run already done)."""
        with self._write() as con:
            row = con.execute("SELECT status FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if row is None or row[0] != "done":
                self._set_status(con, run_id, "planned", spec=spec)

    def mark_done(self, run_id: str, info: Mapping[str, Any] | None = None) -> None:
        with self._write() as con:
            self._set_status(con, run_id, "done", info=info or {})

    def mark_failed(self, run_id: str, error: str) -> None:
        """Record that a run failed (e.g. diverged): it holds no records and is not done, so
        a re-run of the plan tries it again."""
        with self._write() as con:
            self._set_status(con, run_id, "failed", info={"error": error})

    def merge(self, other: str | Path | ResultStore) -> int:
        """Copy every record, correctness vector and done status of `other` into this store."""
        other = other if isinstance(other, ResultStore) else ResultStore(other, read_only=True)
        recs = other.records()
        correct = {r.key: other.correct(r.key) for r in recs}
        self.add(recs, {k: v for k, v in correct.items() if v is not None})
        for run_id, status in other.runs().items():
            if status["status"] == "done":
                self.mark_done(run_id, status["info"])
        return len(recs)

    # -- reading ----------------------------------------------------------------------
    def records(self, **filters: Any) -> list[ResultRecord]:
        """Records whose columns equal `filters` (e.g. ``model="mini-vit-clean"``), sorted by key."""
        names = ResultRecord.columns()
        unknown = sorted(set(filters) - set(names))
        if unknown:
            raise ConfigError(f"unknown record column(s) {unknown}; filter on one of {names}")
        where = " AND ".join(f"{k} = ?" for k in filters) or "1"
        sql = f"SELECT {', '.join(names)} FROM records WHERE {where} ORDER BY {', '.join(KEY)}"
        with self._read() as con:
            rows = con.execute(sql, tuple(filters.values())).fetchall()
        return [ResultRecord(**dict(zip(names, row))) for row in rows]

    def correct(self, key: tuple[str, str, str, str]) -> np.ndarray | None:
        """The (N,) bool correctness vector of a record key, or None if none was stored."""
        with self._read() as con:
            row = con.execute(
                f"SELECT n, bits FROM correct WHERE {' AND '.join(f'{k} = ?' for k in KEY)}",
                tuple(key),
            ).fetchone()
        return None if row is None else unpack_correct(row[0], row[1])

    def is_done(self, run_id: str) -> bool:
        with self._read() as con:
            row = con.execute("SELECT status FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return row is not None and row[0] == "done"

    def provenances(self) -> dict[str, list[str]]:
        """``{run_id: [provenance JSON, ...]}``: the distinct provenances of each run's records."""
        with self._read() as con:
            rows = con.execute("SELECT DISTINCT run_id, provenance FROM records").fetchall()
        out: dict[str, list[str]] = {}
        for run, prov in rows:
            out.setdefault(run, []).append(prov)
        return out

    def runs(self) -> dict[str, dict[str, Any]]:
        """``{run_id: {"status", "spec", "info", "time"}}`` for every known run."""
        with self._read() as con:
            rows = con.execute("SELECT run_id, status, spec, info, time FROM runs").fetchall()
        return {
            r[0]: {"status": r[1], "spec": json.loads(r[2]), "info": json.loads(r[3]), "time": r[4]}
            for r in rows
        }

    def __len__(self) -> int:
        with self._read() as con:
            return int(con.execute("SELECT COUNT(*) FROM records").fetchone()[0])

    def to_dataframe(self, **filters: Any) -> pd.DataFrame:
        """All (or filtered) records as a DataFrame with `ResultRecord.columns()`."""
        import pandas as pd

        recs = self.records(**filters)
        return pd.DataFrame([r.to_dict() for r in recs], columns=ResultRecord.columns())

    def export(self, path: str | Path, **filters: Any) -> Path:
        """Write the records to ``.parquet``, ``.csv`` or ``.jsonl`` (atomically)."""
        import os
        import uuid

        path = Path(path)
        if path.suffix not in EXPORT_FORMATS:
            raise ConfigError(
                f"cannot export to {path.name!r}: the file name must end in one of "
                f"{list(EXPORT_FORMATS)}"
            )
        df = self.to_dataframe(**filters)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:8]}.tmp"
        if path.suffix == ".parquet":
            df.to_parquet(tmp, index=False)
        elif path.suffix == ".csv":
            df.to_csv(tmp, index=False)
        else:
            df.to_json(tmp, orient="records", lines=True)
        os.replace(tmp, path)
        return path
