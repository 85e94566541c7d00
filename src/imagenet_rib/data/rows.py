"""The metadata columns of a dataset's rows, read from any source without decoding an image.

`read_source` reads a converted folder (Parquet shards + ``conversion.json``), a
``save_to_disk`` folder or a Hub dataset. With a `ReadReport` (``verify.VerifyReport`` is
one) it also checks the shards against their recorded SHA-256 and records every file it
cannot read (truncated, damaged) instead of raising, so ``rib datasets verify`` reports
WRONG, never a traceback.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import DatasetError

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    import datasets

META_COLUMNS = ("label", "wnid", "id", "group", "class_name", "corruption", "severity")
#: what reading a damaged Arrow / Parquet / JSON file raises (pyarrow's errors derive from these)
READ_ERRORS = (OSError, ValueError, KeyError, TypeError)


MANIFEST = "conversion.json"  # a converted folder's manifest: plan hash, shards, skips


class ReadReport(Protocol):
    """Where `read_source` records what it could not read or check, instead of raising."""

    checksum_errors: list[str]  # shards missing, foreign or unlike their recorded SHA-256
    unreadable: list[str]  # files that could not be read (their rows are left out)


@dataclass
class RowMeta:
    """The metadata columns of a dataset's rows (everything but the image)."""

    columns: dict[str, list]

    def __len__(self) -> int:
        return len(self.columns["label"])

    def __getitem__(self, key: str) -> list:
        return self.columns[key]

    @classmethod
    def from_items(cls, items: Iterable[Any]) -> RowMeta:
        rows = [item.row() for item in items]
        return cls({c: [r[i] for r in rows] for i, c in enumerate(META_COLUMNS)})

    @classmethod
    def from_dataset(cls, ds: datasets.Dataset) -> RowMeta:
        return cls(ds.select_columns(list(META_COLUMNS)).to_dict())

    def select(self, mask: Sequence[bool]) -> RowMeta:
        return RowMeta(
            {c: [v for v, m in zip(vals, mask) if m] for c, vals in self.columns.items()}
        )


def _parquet_files(folder: Path, manifest: dict | None) -> list[Path]:
    if manifest is not None:
        return sorted(folder / info["file"] for info in manifest["shards"].values())
    return sorted(folder.glob("data/**/*.parquet")) or sorted(folder.glob("*.parquet"))


def _check_local_shards(folder: Path, manifest: dict, report: ReadReport) -> None:
    from .converters.shards import sha256_file

    recorded = {info["file"]: info for info in manifest["shards"].values()}
    for rel, info in sorted(recorded.items()):
        path = folder / rel
        if not path.is_file():
            report.checksum_errors.append(f"shard {rel} is missing")
        elif sha256_file(path) != info["sha256"]:
            report.checksum_errors.append(
                f"shard {rel} does not match its recorded SHA-256 (modified or damaged)"
            )
    for path in sorted(folder.glob("data/**/*.parquet")):
        rel = path.relative_to(folder).as_posix()
        if rel not in recorded:
            report.checksum_errors.append(
                f"shard {rel} is not in {folder.name}/conversion.json (its rows would be counted twice or are foreign)"
            )


def _check_hub_shards(repo_id: str, manifest: dict, report: ReadReport) -> None:
    from huggingface_hub import HfApi

    recorded = {info["file"]: info for info in manifest["shards"].values()}
    infos = HfApi().get_paths_info(repo_id, list(recorded), repo_type="dataset")
    found = {i.path: i for i in infos}
    for rel, info in sorted(recorded.items()):
        remote = found.get(rel)
        sha = getattr(getattr(remote, "lfs", None), "sha256", None) if remote else None
        if remote is None:
            report.checksum_errors.append(f"shard {rel} is missing from {repo_id}")
        elif sha is not None and sha != info["sha256"]:
            report.checksum_errors.append(
                f"shard {rel} in {repo_id} does not match its recorded SHA-256"
            )


def _unreadable(what: str, err: Exception, report: ReadReport | None, fix: str) -> None:
    text = f"{what} is unreadable ({type(err).__name__}: {err}); {fix}"
    if report is None:
        raise DatasetError(text) from err
    report.unreadable.append(text)


def read_manifest(folder: Path) -> dict[str, Any] | None:
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise DatasetError(
            f"{path} is corrupt ({err}); re-run the conversion with --force"
        ) from err


def _empty_meta() -> RowMeta:
    return RowMeta({c: [] for c in META_COLUMNS})


def read_source(source: str, report: ReadReport | None = None) -> tuple[RowMeta, dict | None]:
    """Metadata columns + conversion manifest of a local folder or Hub dataset id.

    A file that cannot be read is recorded in ``report.unreadable`` (its rows are missing
    from the result), or raises `DatasetError` when no report is given.
    """

    path = Path(source)
    rebuild = "re-convert it with `rib datasets build <name> --force`"
    if path.exists():
        try:
            manifest = read_manifest(path)
        except DatasetError as err:
            if report is None:
                raise
            report.unreadable.append(str(err))
            manifest = None
        if (path / "dataset_info.json").exists() or (path / "state.json").exists():
            import datasets

            try:
                return RowMeta.from_dataset(datasets.load_from_disk(str(path))), manifest
            except READ_ERRORS as err:
                _unreadable(f"the dataset at {path}", err, report, "rebuild or re-save it")
                return _empty_meta(), manifest
        files = _parquet_files(path, manifest)
        if manifest is not None:  # read what load_dataset(path) reads: recorded AND foreign shards
            if report is not None:
                _check_local_shards(path, manifest, report)
            files = sorted({f for f in files if f.is_file()} | set(path.glob("data/**/*.parquet")))
        if not files:
            raise DatasetError(
                f"{path} holds no Parquet shards; convert the download with `rib datasets build`"
            )
        import pyarrow.parquet as pq

        tables = []
        for f in files:
            try:
                tables.append(pq.read_table(f, columns=list(META_COLUMNS)))
            except READ_ERRORS as err:
                _unreadable(f"shard {f.relative_to(path).as_posix()}", err, report, rebuild)
        return RowMeta(
            {c: [v for t in tables for v in t.column(c).to_pylist()] for c in META_COLUMNS}
        ), manifest
    from .published import load_published

    manifest = hub_manifest(source)
    if manifest is not None and report is not None:
        _check_hub_shards(source, manifest, report)
    return RowMeta.from_dataset(load_published(source, manifest)), manifest


def hub_manifest(repo_id: str) -> dict | None:
    """The ``conversion.json`` of Hub dataset `repo_id`, or None when it has none."""
    import json

    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError

    try:
        return json.loads(
            Path(hf_hub_download(repo_id, "conversion.json", repo_type="dataset")).read_text()
        )
    except EntryNotFoundError:
        return None
    except RepositoryNotFoundError as err:
        raise DatasetError(
            f"Hub dataset {repo_id!r} does not exist or is not accessible with your token "
            f"({type(err).__name__}); check the id (a local folder must exist), or log in "
            f"with `hf auth login`"
        ) from None
