"""Publish a converted dataset (or a Mini-RIB dataset) to a Hub namespace, with its card.

The repo holds the rows as Parquet shards with the images embedded, the holdout split
stored as the HF splits ``train`` and ``test`` (``data/train-*.parquet``,
``data/test-*.parquet``; ImageNet-C: ``data/<corruption>/<severity>/{train,test}-*``, one
config per set), so ``load_dataset("<namespace>/<name>", split="train")`` never holds a test
row; ``conversion.json`` (shard SHA-256s, so ``rib datasets verify <repo id>`` can check the
upload, and the split with its test mask) and ``README.md`` (the card, whose ``configs``
tell ``load_dataset`` where each split's shards are). Converted folders and Mini-RIB datasets
(a ``save_to_disk`` cache locally) are exported the same way (`export_folder`). The library
reads a published copy back with `load_published`: both splits, checked against the split
rule and put back in the source's row order, so every number is the one of the local copy.
Shards of an earlier push that the new one does not contain are deleted in the same commit
(otherwise ``data/**`` would load them twice).

Namespace: ``namespace=`` / ``--namespace``, else ``$IMAGENET_RIB_HUB_NAMESPACE``, else the
token's user. ObjectNet is never pushed: its licence forbids re-hosting its images.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ConfigError, DatasetError
from .published import encode_mask
from .specs import DatasetSpec, get_dataset_spec
from .splits import SplitConfig, split_indices

if TYPE_CHECKING:
    pass

logger = logging.getLogger(__name__)

NAMESPACE_ENV = "IMAGENET_RIB_HUB_NAMESPACE"
_UPLOAD_PATTERNS = ("data/", "conversion.json", "objectnet_to_imagenet_1k.json")


@dataclass(frozen=True)
class PushResult:
    name: str
    repo_id: str
    commit: str
    url: str
    files: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def default_namespace() -> str | None:
    return os.environ.get(NAMESPACE_ENV) or None


def resolve_repo_id(name: str, repo_id: str | None = None, namespace: str | None = None) -> str:
    """``repo_id`` as given, else ``<namespace>/<name>`` (namespace: option, env, token user)."""
    if repo_id:
        return repo_id
    namespace = namespace or default_namespace()
    if not namespace:
        from huggingface_hub import HfApi

        try:
            namespace = HfApi().whoami()["name"]
        except Exception as err:  # noqa: BLE001 - offline, no token: one actionable message
            raise ConfigError(
                f"no Hub namespace to push {name!r} to ({type(err).__name__}); pass "
                f"--namespace <user or org> or set {NAMESPACE_ENV}"
            ) from err
    return f"{namespace}/{name}"


def _prefixes(ds: Any, spec: DatasetSpec) -> list[str]:
    """The shard folder of every row: ``data/<corruption>/<severity>/`` for ImageNet-C-like
    datasets (one Hub config per set), else ``data/``; refuses rows not grouped by folder."""
    if "corruptions" not in spec.extra:
        return ["data/"] * len(ds)
    cols = ds.select_columns(["corruption", "severity"]).to_dict()
    out = [f"data/{c}/{s}/" for c, s in zip(cols["corruption"], cols["severity"])]
    blocks = [p for k, p in enumerate(out) if k == 0 or p != out[k - 1]]
    if blocks != sorted(set(blocks)):
        raise DatasetError(
            f"the rows of {spec.name} are not ordered by (corruption, severity) folder, so "
            f"the stored splits could not restore their order; re-convert it with "
            f"`rib datasets build {spec.name} --force`"
        )
    return out


def export_folder(
    name: str,
    out: Path,
    source: str | None = None,
    *,
    split: SplitConfig | None = None,
    shard_size: int = 1000,
    seed: int = 0,
) -> Path:
    """Write the rows of `name` at `out` in the published layout, its holdout split as HF splits.

    Shards ``data/[<c>/<s>/]{train,test}-KKKKK-of-NNNNN.parquet`` hold the rows of each side
    of `split` in their original relative order; ``conversion.json`` records the split and
    the (n,) test mask of the original row order, from which `load_published` restores the
    exact row order of the source (so paired per-image comparisons across copies hold).
    Rule ``none`` stores every row as ``train``.
    """
    import pyarrow.parquet as pq
    from datasets.table import embed_table_storage

    from .converters.engine import FORMAT_VERSION
    from .converters.shards import sha256_file
    from .imagenet import MAPPING_FILE
    from .loading import load_rib_dataset
    from .rows import MANIFEST, read_manifest

    split = split or SplitConfig()
    spec = get_dataset_spec(name)
    ds = load_rib_dataset(name, source, seed=seed)
    metadata = ds.features.arrow_schema.metadata
    meta = ds.select_columns(["label", "group"]).to_dict()
    is_test = np.zeros(len(ds), dtype=bool)
    if split.rule != "none":
        is_test[split_indices(meta["label"], meta["group"], split)["test"]] = True
    prefixes = _prefixes(ds, spec)
    groups: dict[tuple[str, str], list[int]] = {}
    for k, (prefix, test) in enumerate(zip(prefixes, is_test)):
        groups.setdefault((prefix, "test" if test else "train"), []).append(k)
    shards = {}
    for (prefix, part), rows in sorted(groups.items()):
        n = max(1, (len(rows) + shard_size - 1) // shard_size)
        for k in range(n):
            rel = f"{prefix}{part}-{k:05d}-of-{n:05d}.parquet"
            chunk = ds.select(rows[k * shard_size : (k + 1) * shard_size]).with_format("arrow")
            table = embed_table_storage(chunk[:])
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(table.replace_schema_metadata(metadata), out / rel, row_group_size=100)
            shards[f"#{len(shards)}"] = {
                "file": rel,
                "rows": table.num_rows,
                "sha256": sha256_file(out / rel),
                "skipped": [],
            }
    if spec.is_objectnet:
        (out / MAPPING_FILE).write_text(
            json.dumps(dict(spec.objectnet_mapping(source)), indent=2) + "\n"
        )
    converted = read_manifest(Path(source)) if source and Path(source).is_dir() else None
    manifest = {
        "format": FORMAT_VERSION,
        "name": name,
        "layout": spec.layout,
        "complete": True,
        "num_rows": len(ds),
        "shards": shards,
        "report": (converted or {}).get("report", {"skipped": []}),
        "split": {
            **split.to_dict(),
            "train_rows": int((~is_test).sum()),
            "test_rows": int(is_test.sum()),
            **({"test_mask": encode_mask(is_test)} if split.rule != "none" else {}),
        },
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return out


def _refuse(spec: DatasetSpec) -> None:
    if spec.requires_opt_in:
        raise DatasetError(
            f"{spec.name} cannot be pushed to the Hub: its licence forbids re-hosting its images "
            f"({spec.licence}). Keep the local conversion and point IMAGENET_RIB_DATA_{spec.name.upper()} at it"
        )
    if spec.parent:
        raise ConfigError(
            f"{spec.name!r} is one set of {spec.parent!r}; push the parent "
            f"(each set is a config of its repo)"
        )


def push_dataset(
    name: str,
    source: str | None = None,
    *,
    repo_id: str | None = None,
    namespace: str | None = None,
    private: bool = False,
    split: SplitConfig | None = None,
    verify_first: bool = True,
    expected: Any = None,
    seed: int = 0,
) -> PushResult:
    """Push dataset `name` (converted folder at `source`, or a Mini-RIB dataset) and its card.

    Verifies first (counts, classes, checksums) and refuses a copy that fails, unless
    ``verify_first=False``; `expected` overrides the registry's counts as in `verify`.
    """
    split = split or SplitConfig()
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi

    from .dataset_card import render_card
    from .sources import default_source
    from .verify import read_source, verify

    spec = get_dataset_spec(name)
    _refuse(spec)
    source = source or default_source(name)
    if source is None and spec.layout == "mini":  # generated on first use, as for loading
        from .mini import build_suite

        build_suite(seed)
    if verify_first:
        report = verify(name, source, expected=expected, seed=seed)
        if not report.ok:
            raise DatasetError(
                f"refusing to publish a copy that fails verification:\n{report.to_text()}\n"
                f"fix the copy, or pass --no-verify to publish it anyway"
            )
    repo_id = resolve_repo_id(name, repo_id, namespace)
    api = HfApi()
    with tempfile.TemporaryDirectory(prefix="rib-push-") as tmp:
        folder = export_folder(name, Path(tmp), source, split=split, seed=seed)
        meta, manifest = read_source(str(folder))
        stored = split.rule != "none"
        card = render_card(
            spec, meta, split, manifest=manifest, repo_id=repo_id, stored_split=stored
        )
        files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
        files = [
            f for f in files if f.startswith(_UPLOAD_PATTERNS) and not Path(f).name.startswith(".")
        ]
        ops: list[Any] = [CommitOperationAdd(f, str(folder / f)) for f in files]
        ops.append(CommitOperationAdd("README.md", str(card).encode()))
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        stale = [
            f
            for f in api.list_repo_files(repo_id, repo_type="dataset")
            if f.startswith("data/") and f not in files
        ]
        ops += [CommitOperationDelete(f) for f in stale]
        info = api.create_commit(
            repo_id, ops, commit_message=f"Upload {name} (imagenet-rib)", repo_type="dataset"
        )
    logger.info(
        "pushed %s to %s (%d files, %d stale shards removed)", name, repo_id, len(files), len(stale)
    )
    return PushResult(name, repo_id, info.oid, str(info.repo_url), tuple(files + ["README.md"]))
