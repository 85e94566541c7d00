"""Load a registered dataset (whole, or one side of its split) as an HF `datasets.Dataset`.

Where the rows come from: Mini-RIB datasets are generated on first use (and checked
against their build manifest); every other dataset is read from `source`, which is a local
folder written by ``rib datasets build`` or ``save_to_disk``, a folder of Parquet shards, a
folder of class folders (``imagefolder`` layout), or a Hub dataset id for
`datasets.load_dataset`. Where a dataset is read from, first match wins:
``--data NAME=FOLDER`` on the command line (the ``source`` argument here), the suite YAML's
``sources:``, ``IMAGENET_RIB_DATA_<NAME>`` (upper case, ``-`` as ``_``),
``$IMAGENET_RIB_DATA_DIR/<name>``.

Rows read from a source are mapped onto the dataset's label space by class NAME
(`data.conform`): an imagefolder tree's alphabetical class order, or rows of another label
space, can never be scored by integer position.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import CacheError, DatasetError
from .sources import default_source, source_env_var
from .specs import DatasetSpec, get_dataset_spec
from .splits import SplitConfig, split_indices

if TYPE_CHECKING:
    import datasets

    from .protocol import LabelProtocol

_MINI_CHECKED: dict[str, tuple] = {}  # dataset -> cache-file stamp whose content hash matched


def load_rib_dataset(name: str, source: str | None = None, *, seed: int = 0) -> datasets.Dataset:
    """All rows of dataset `name` in the shared schema."""
    spec = get_dataset_spec(name)
    if spec.parent:  # one set of a parent (imagenet-c/fog/3): the parent's rows of it
        return select_part(load_rib_dataset(spec.parent, source, seed=seed), spec)
    source = source or default_source(name)
    if source is None and spec.layout == "mini":
        from .mini import load_mini_dataset

        return _checked_mini(name, load_mini_dataset(name, seed=seed), seed)
    if source is None:
        env = source_env_var(name)
        raise DatasetError(
            f"no local copy of {name!r} is configured; convert the original download with "
            f"`rib datasets build {name} --src <download folder> --out <folder>`, then pass "
            f"--data {name}=<folder> (rib evaluate/finetune/run/otdd), list it under the suite "
            f"YAML's sources:, or set {env}=<folder> or IMAGENET_RIB_DATA_DIR=<parent folder>"
        )
    from .conform import conform
    from .labels import get_label_space

    return conform(_load_from(source, name), get_label_space(spec.label_space), name=name)


def _checked_mini(name: str, ds: datasets.Dataset, seed: int) -> datasets.Dataset:
    """`ds` if its content hash is the one its build recorded, else `CacheError`.

    A damaged cache (a flipped bit in an image) would otherwise surface as an image-decoding
    traceback deep inside an evaluation. The hash (about 0.1 s per Mini-RIB dataset) is
    computed once per process and cache file version.
    """
    import json

    from .mini.build import suite_root

    files = [Path(f["filename"]) for f in ds.cache_files]
    stamp = tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files)
    if _MINI_CHECKED.get(name) == stamp:
        return ds
    from .schema import content_hash

    manifest = suite_root(seed) / "manifest.json"
    fix = "rebuild it with `rib datasets build mini-rib --force` (which replaces it atomically)"
    try:
        expected = json.loads(manifest.read_text())["datasets"][name]["sha256"]
        actual = content_hash(ds)
    except Exception as err:  # noqa: BLE001 - any unreadable cache gets the same advice
        raise CacheError(
            f"the cached Mini-RIB dataset {name!r} ({manifest.parent}) is unreadable "
            f"({type(err).__name__}: {err}); {fix}"
        ) from err
    if actual != expected:
        raise CacheError(
            f"the cached Mini-RIB dataset {name!r} ({manifest.parent / name}) is damaged: its "
            f"content differs from the hash recorded when it was built; {fix}"
        )
    _MINI_CHECKED[name] = stamp
    return ds


def _load_class_tree(path: Path, name: str) -> datasets.Dataset:
    """A folder of class folders (``<class>/<image>``) through the ``imagefolder`` builder."""
    import datasets

    try:
        tree = datasets.load_dataset("imagefolder", data_dir=str(path))
    except (FileNotFoundError, ValueError) as err:
        raise DatasetError(
            f"{path} holds neither a save_to_disk folder, Parquet shards nor class folders of "
            f"images for {name!r} ({type(err).__name__}: {err})"
        ) from err
    if len(tree) != 1:
        raise DatasetError(
            f"{path} holds the splits {sorted(tree)}; point the source of {name!r} at one "
            f"split's folder (e.g. {path / sorted(tree)[0]})"
        )
    return next(iter(tree.values()))


def _load_from(source: str, name: str) -> datasets.Dataset:
    import datasets

    path = Path(source)
    if path.exists():
        if (path / "dataset_info.json").exists() or (path / "state.json").exists():
            return datasets.load_from_disk(str(path))
        if (path / "data").is_dir() or list(path.glob("*.parquet")):
            from .published import load_published
            from .rows import read_manifest

            return load_published(str(path), read_manifest(path))
        if path.is_dir() and any(d.is_dir() for d in path.iterdir()):
            return _load_class_tree(path, name)
        raise DatasetError(
            f"{path} holds neither a save_to_disk folder, Parquet shards nor class folders of "
            f"images for {name!r}"
        )
    if path.is_absolute() or source.startswith((".", "~")):  # a folder, not a Hub id
        raise DatasetError(
            f"the source of {name!r} is {source}, which does not exist; fix --data "
            f"{name}=<folder>, the suite YAML's sources: or IMAGENET_RIB_DATA_* accordingly"
        )
    from .published import load_published
    from .rows import hub_manifest

    return load_published(source, hub_manifest(source))


@dataclass(frozen=True)
class SplitPart:
    """One side of a dataset's split, with its label protocol applied."""

    name: str
    part: str
    dataset: datasets.Dataset
    targets: np.ndarray  # (N,) target index under `protocol`
    protocol: LabelProtocol
    spec: DatasetSpec
    split: SplitConfig

    def __len__(self) -> int:
        return len(self.targets)


def load_split(
    name: str,
    part: str,
    split: SplitConfig = SplitConfig(),
    *,
    rule: str | None = None,
    source: str | None = None,
    max_samples: int | None = None,
    seed: int = 0,
) -> SplitPart:
    """Rows of `part` ("train" or "test") of dataset `name` with their protocol targets.

    `max_samples` draws a seeded subsample (e.g. to fine-tune on ImageNet-C's 3.75 M rows).
    """
    if part not in ("train", "test"):
        raise DatasetError(f"part must be 'train' or 'test', got {part!r}")
    spec = get_dataset_spec(name)
    ds = load_rib_dataset(name, source, seed=seed)
    meta = ds.select_columns(["label", "group", "class_name"]).to_dict()
    labels, groups = meta["label"], meta["group"]
    idx = split_indices(labels, groups, split)[part]
    if max_samples is not None and len(idx) > max_samples:
        rng = np.random.default_rng([split.seed, 7919])
        idx = np.sort(rng.choice(idx, size=max_samples, replace=False))
    protocol = spec.protocol(rule, source=source)  # ObjectNet: the rows' own mapping
    names = meta["class_name"]
    targets = protocol.targets([labels[i] for i in idx], [names[i] for i in idx])
    return SplitPart(name, part, ds.select(idx), targets, protocol, spec, split)


def select_part(ds: datasets.Dataset, spec: DatasetSpec) -> datasets.Dataset:
    """Rows of `ds` (the parent dataset) that belong to the child entry `spec`."""
    corruption, severity = spec.corruption, spec.severity
    cols = ds.select_columns(["corruption", "severity"]).to_dict()
    mask = (np.asarray(cols["corruption"]) == corruption) & (
        np.asarray(cols["severity"]) == severity
    )
    idx = np.flatnonzero(mask)
    if len(idx) == 0:
        raise DatasetError(
            f"the {spec.parent} rows hold no {corruption!r} severity {severity} images; "
            f"the conversion is incomplete - run `rib datasets verify {spec.parent}`"
        )
    return ds.select(idx)
