"""Bring any dataset onto a label space by class NAME, never by integer position.

A dataset of a user's own family may come from ``load_dataset("imagefolder")`` (columns
``image``, ``label``; the ``label`` feature is a ``ClassLabel`` whose names are the class
folders in ALPHABETICAL order), from ``save_to_disk``, Parquet shards or the Hub. Its
integer labels mean nothing by themselves: label 0 of an imagefolder tree of digits is
"eight". `conform` reads the class NAME of every label (the ``ClassLabel`` names, else the
``wnid`` column) and maps it onto the label space:

    name -> class k  if name is the wnid of k, or its lemma string ("tench, Tinca tinca"),
                     or one comma part of its lemma ("tench") that names no other class;

matching ignores case, and ``_``/``-`` count as spaces (folder names). A name that matches
no class, or several, is refused with the list of such names; so are rows labelled in
another label space (ImageNet-1k rows in a digits suite). The result has the shared row
schema (`schema.COLUMNS`); a dataset that already has it is returned unchanged.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..errors import DatasetError
from .labels import LabelSpace
from .schema import COLUMNS

if TYPE_CHECKING:
    import datasets


def _norm(name: str) -> str:
    return " ".join(str(name).replace("_", " ").replace("-", " ").lower().split())


@functools.lru_cache(maxsize=8)
def _name_index(space: LabelSpace) -> tuple[dict[str, set[int]], dict[str, set[int]]]:
    """(normalised wnid / full lemma -> classes, normalised lemma part -> classes)."""
    full: dict[str, set[int]] = defaultdict(set)
    parts: dict[str, set[int]] = defaultdict(set)
    for i, (wnid, lemma) in enumerate(zip(space.wnids, space.lemmas)):
        full[_norm(wnid)].add(i)
        full[_norm(lemma)].add(i)  # ImageNet has two classes whose lemma is "crane"
        for part in lemma.split(","):
            if part.strip():
                parts[_norm(part)].add(i)
    return dict(full), dict(parts)


def _short(values: Sequence[str], n: int = 8) -> str:
    values = list(values)
    return ", ".join(repr(v) for v in values[:n]) + (
        f" and {len(values) - n} more" if len(values) > n else ""
    )


def class_indices(names: Sequence[str], space: LabelSpace, *, dataset: str) -> list[int]:
    """Index in `space` of each class name (see module docstring); raises `DatasetError`."""
    full, parts = _name_index(space)
    out: list[int] = []
    unmatched: list[str] = []
    ambiguous: list[str] = []
    for name in names:
        key = _norm(name)
        candidates = full.get(key) or parts.get(key, set())
        hit = next(iter(candidates)) if len(candidates) == 1 else None
        if len(candidates) > 1:
            wnids = [space.wnids[c] for c in sorted(candidates)]
            ambiguous.append(f"{name!r} (classes {', '.join(wnids)})")
        elif not candidates:
            unmatched.append(name)
        out.append(-1 if hit is None else hit)
    if unmatched and len(unmatched) == len(names):
        raise DatasetError(
            f"dataset {dataset!r}: none of its {len(names)} class names ({_short(names)}) is a "
            f"class of label space {space.name!r} ({_short(space.wnids, 5)}): its rows are "
            f"labelled in another label space. Use it in a suite over its own label space, or "
            f"name its classes by the wnids / class names of {space.name!r}"
        )
    if unmatched or ambiguous:
        problems = []
        if unmatched:
            problems.append(f"class name(s) {_short(unmatched)} match no class")
        if ambiguous:
            problems.append(f"class name(s) {'; '.join(ambiguous)} match several classes")
        raise DatasetError(
            f"dataset {dataset!r} cannot be mapped onto label space {space.name!r}: "
            f"{' and '.join(problems)}. Rename those class folders / ClassLabel names to the "
            f"class's wnid (e.g. {space.wnids[0]!r}) or its name (e.g. {space.lemmas[0]!r})"
        )
    if len(set(out)) != len(out):
        dup = sorted({n for n, i in zip(names, out) if out.count(i) > 1})
        raise DatasetError(
            f"dataset {dataset!r}: class names {dup} all name the same class of "
            f"{space.name!r}; merge those classes or rename them"
        )
    return out


def _labels(ds: datasets.Dataset) -> np.ndarray:
    return np.asarray(ds.with_format("numpy", columns=["label"])["label"], dtype=np.int64)


def _strings(ds: datasets.Dataset, column: str) -> np.ndarray:
    return np.asarray(ds.select_columns([column]).to_dict()[column], dtype=object)


def conform(ds: datasets.Dataset, space: LabelSpace, *, name: str) -> datasets.Dataset:
    """`ds` in the shared schema with labels of `space`, mapped by class name."""
    import datasets

    cols = ds.column_names
    if "image" not in cols or "label" not in cols:
        raise DatasetError(
            f"dataset {name!r} has columns {cols}; a dataset needs at least 'image' and "
            f"'label' (as made by load_dataset('imagefolder', data_dir=<folder of class "
            f"folders>)) or the full row schema {list(COLUMNS)}"
        )
    feature = ds.features["label"]
    if isinstance(feature, datasets.ClassLabel):
        if list(feature.names) == list(space.wnids) and set(COLUMNS) <= set(cols):
            return ds if cols == list(COLUMNS) else ds.select_columns(list(COLUMNS))
        names = list(feature.names)
        old = _labels(ds)
        if len(old) and (old.min() < 0 or old.max() >= len(names)):
            raise DatasetError(
                f"dataset {name!r} has rows without a valid label (values outside "
                f"0..{len(names) - 1}, e.g. images outside any class folder); remove them"
            )
        index = np.asarray(class_indices(names, space, dataset=name), dtype=np.int64)
        new = index[old]
        row_names = np.asarray(names, dtype=object)[old]
        if "wnid" in cols:
            given = _strings(ds, "wnid")
            bad = np.flatnonzero(given != np.asarray(space.wnids, dtype=object)[new])
            if len(bad):
                raise DatasetError(
                    f"dataset {name!r}: {len(bad)} rows have a 'wnid' that disagrees with the "
                    f"class name of their label (row {int(bad[0])}: wnid {given[bad[0]]!r}, "
                    f"label {row_names[bad[0]]!r}); the dataset is inconsistent, rebuild it"
                )
    elif "wnid" in cols:  # integer labels without names: only the wnid column names classes
        given = _strings(ds, "wnid")
        uniq, inverse = np.unique(given.astype(str), return_inverse=True)
        index = np.asarray(class_indices(list(uniq), space, dataset=name), dtype=np.int64)
        new, row_names = index[inverse], given
    else:
        raise DatasetError(
            f"dataset {name!r}: its 'label' column holds bare integers ({feature}) with no class "
            f"names, so which class each integer means is unknown. Give it a ClassLabel feature "
            f"(ds.cast_column('label', datasets.ClassLabel(names=[...]))) or a 'wnid' column"
        )
    keep = [c for c in ("id", "group", "class_name", "corruption", "severity") if c in cols]
    out = ds.select_columns(["image", *keep])
    n = len(ds)
    out = out.add_column("label", new, feature=datasets.ClassLabel(names=list(space.wnids)))
    out = out.add_column("wnid", [space.wnids[k] for k in new])
    ids = _strings(ds, "id").tolist() if "id" in keep else [f"{name}/{i}" for i in range(n)]
    if "id" not in keep:  # row order of an imagefolder tree is its sorted file listing
        out = out.add_column("id", ids)
    if "group" not in keep:
        out = out.add_column("group", ids)
    if "class_name" not in keep:
        out = out.add_column("class_name", [str(v) for v in row_names])
    if "corruption" not in keep:
        out = out.add_column("corruption", [""] * n)
    if "severity" not in keep:
        out = out.add_column("severity", np.zeros(n, np.int8), feature=datasets.Value("int8"))
    return out.select_columns(list(COLUMNS))
