"""Where the leaderboard's results come from: a results store, an export, or a Hub dataset.

Every source yields the same `Results`: a table with the `records.ResultRecord` columns (plus
``model_repo`` where known) and, for a results store only, the per-image correctness vectors
that the bootstrap intervals over images need.

A results store is opened READ-ONLY (SQLite ``mode=ro``): the leaderboard never writes to it,
never creates its schema and never checkpoints its write-ahead log, so serving a store while
`rib run` is still writing to it is safe. (SQLite may create the ``-wal`` / ``-shm`` siblings
a WAL database needs for reading; the database file itself is not touched.)
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ConfigError, RIBError
from ..hub.push import LEADERBOARD_FILE, REPO_COLUMN
from ..records import ResultRecord
from ..results import EXPORT_FORMATS, KEY, SCHEMA_VERSION, unpack_correct

if TYPE_CHECKING:
    import pandas as pd

Key = tuple[str, str, str, str]
CorrectGetter = Callable[[Key], "np.ndarray | None"]


@dataclass
class Results:
    """Result rows (``ResultRecord`` columns + ``model_repo``), their per-image correctness
    getter (None when the source has none) and a human-readable description of the source."""

    frame: pd.DataFrame
    correct: CorrectGetter | None
    origin: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": len(self.frame),
            "has_correctness": self.correct is not None,
            "origin": self.origin,
        }


def normalise_frame(df: pd.DataFrame, where: str) -> pd.DataFrame:
    """Check the columns and fill what exports lose (empty strings read back as NaN)."""
    missing = sorted(set(ResultRecord.columns()) - set(df.columns))
    if missing:
        raise ConfigError(
            f"{where} lacks column(s) {missing}: it is not an ImageNet-RIB results table; pass a "
            "results store (results.sqlite), its export (`ResultStore.export`) or a leaderboard "
            "dataset written by `rib push --leaderboard`"
        )
    df = df.copy()
    if REPO_COLUMN not in df.columns:
        df[REPO_COLUMN] = ""
    for col in ("variant", "finetune_dataset", "model_revision", REPO_COLUMN):
        df[col] = df[col].fillna("").astype(str)
    return df


@contextlib.contextmanager
def _read_only(path: Path) -> Iterator[sqlite3.Connection]:
    uri = f"{path.resolve().as_uri()}?mode=ro"
    try:
        con = sqlite3.connect(uri, uri=True, timeout=30.0)
    except sqlite3.OperationalError as err:
        raise RIBError(f"cannot open results store {path} read-only: {err}") from None
    try:
        yield con
    finally:
        con.close()


def read_store(path: str | Path) -> Results:
    """The records and correctness vectors of a `results.ResultStore` file, opened read-only."""
    import pandas as pd

    path = Path(path)
    names = ResultRecord.columns()
    with _read_only(path) as con:
        try:
            version = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            rows = con.execute(
                f"SELECT {', '.join(names)} FROM records ORDER BY {', '.join(KEY)}"
            ).fetchall()
            bits = con.execute(f"SELECT {', '.join(KEY)}, n, bits FROM correct").fetchall()
        except sqlite3.DatabaseError as err:
            raise ConfigError(
                f"{path} is not an ImageNet-RIB results store ({err}); pass the results.sqlite "
                "that `rib run` printed, or an export (.parquet, .csv, .jsonl)"
            ) from None
    if version is None or int(version[0]) != SCHEMA_VERSION:
        raise RIBError(
            f"{path} has results-store schema {version[0] if version else 'unknown'}, this library "
            f"reads v{SCHEMA_VERSION}; export it with the library version that wrote it"
        )
    packed: dict[Key, tuple[int, bytes]] = {tuple(r[:4]): (r[4], r[5]) for r in bits}

    def correct(key: Key) -> np.ndarray | None:
        item = packed.get(tuple(key))
        return None if item is None else unpack_correct(*item)

    frame = normalise_frame(pd.DataFrame(rows, columns=names), str(path))
    return Results(frame, correct if packed else None, f"results store {path}")


def read_export(path: str | Path) -> Results:
    """An export of a results store (``.parquet``, ``.csv``, ``.jsonl``); no correctness."""
    import pandas as pd

    path = Path(path)
    readers = {
        ".parquet": pd.read_parquet,
        ".csv": lambda p: pd.read_csv(p, keep_default_na=False, na_values=[""]),
        ".jsonl": lambda p: pd.read_json(p, lines=True, dtype=False),
    }
    if path.suffix not in readers:
        raise ConfigError(f"cannot read {path.name!r}: an export ends in one of {EXPORT_FORMATS}")
    return Results(normalise_frame(readers[path.suffix](path), str(path)), None, f"export {path}")


def read_hub_dataset(repo_id: str, revision: str | None = None) -> Results:
    """The rows of a leaderboard dataset on the Hub (``data/results.parquet``, written by
    `rib push --leaderboard`)."""
    import pandas as pd
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError

    try:
        path = hf_hub_download(repo_id, LEADERBOARD_FILE, repo_type="dataset", revision=revision)
    except RepositoryNotFoundError:
        raise ConfigError(
            f"leaderboard dataset {repo_id} does not exist (or is private: log in with "
            "`hf auth login`); create it with `rib push RUN --leaderboard ORG/NAME`"
        ) from None
    except EntryNotFoundError:
        raise ConfigError(
            f"dataset {repo_id} holds no {LEADERBOARD_FILE}: it is not an ImageNet-RIB leaderboard "
            "yet; append results with `rib push RUN --leaderboard ORG/NAME`"
        ) from None
    where = f"{repo_id}/{LEADERBOARD_FILE}"
    at = f" at {revision}" if revision else ""
    return Results(
        normalise_frame(pd.read_parquet(path), where), None, f"Hub dataset {repo_id}{at}"
    )


def load_results(
    store: str | Path | None = None,
    *,
    parquet: str | Path | None = None,
    dataset: str | None = None,
    revision: str | None = None,
) -> Results:
    """Exactly one source: `store` (a results store, or an export by its suffix), `parquet`
    (an export) or `dataset` (a Hub leaderboard dataset id, at `revision`)."""
    given = [
        name for name, v in (("store", store), ("parquet", parquet), ("dataset", dataset)) if v
    ]
    if len(given) != 1:
        raise ConfigError(
            f"give exactly one results source (store, parquet or dataset), got {given or 'none'}: "
            "e.g. --store rib-runs/results.sqlite, --parquet export.parquet or --dataset ORG/NAME"
        )
    if dataset:
        return read_hub_dataset(dataset, revision)
    path = Path(store or parquet)  # type: ignore[arg-type]
    if not path.is_file():
        raise ConfigError(
            f"results file {path} does not exist; run `rib run CONFIG` first, or pass the store "
            "path it printed"
        )
    return read_export(path) if path.suffix in EXPORT_FORMATS else read_store(path)
