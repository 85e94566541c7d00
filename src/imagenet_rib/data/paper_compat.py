"""ObjectNet ``paper-compat``: the reference code's class matching, a KNOWN DEFECT.

Offered only to compare with the published ImageNet-RIB numbers; never the default. The
reference code (FieteLab/ImageNet-RIB, ``prepare_labels`` in
``lib/dataset/objectnet_dataset.py``) walks ``folder_to_objectnet_label.json`` in file
order. For each folder whose ObjectNet class c is in ``objectnet_to_imagenet_1k.json``,
with v = the mapping string of c and S = its own list of 1000 short class names
(``data/reference/imagenet_class.json``), the class id of c is

- if v contains ",": S-index of the first part of ``v.split(", ")`` found in S;
- else if v contains ";": S-index of the first part of ``v.split("; ")`` found in S;
- else if v is in S: S-index of v;
- else: S-index of ``manual_converter[c]`` (six hand-written entries).

When a split finds no part in S, c silently keeps the PREVIOUS folder's class id; classes
sharing an id are scored as one ImageNet class. On the real ObjectNet 1.0 mapping files
this yields 105 distinct ImageNet classes (the reference's hard-coded ``objclasses``)
instead of 113, and 9 ObjectNet classes are scored against another ImageNet class than
under ``first-match``: chair -> computer keyboard, jeans -> teddy, trash bin -> digital
watch, swimming trunks -> wok, skirt -> hamper, binder (closed) -> bucket, iron (for
clothes) -> vacuum, weight scale -> Polaroid camera, wheel -> paddlewheel.

For a label space other than ImageNet-1k (Mini-RIB), S is the first comma part of each
lemma, there is no manual table, and the walk order is the mapping's own key order.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from importlib.resources import files

from ..errors import DatasetError
from .labels import LabelSpace

REFERENCE_SPACE = "imagenet-1k"


@functools.lru_cache(maxsize=1)
def reference_tables() -> tuple[tuple[str, ...], dict[str, str]]:
    """(the reference's 1000 short ImageNet names, its manual_converter table)."""
    root = files(__package__) / "reference"
    names = tuple(json.loads((root / "imagenet_class.json").read_text()))
    manual = json.loads((root / "objectnet_paper_compat.json").read_text())["manual_converter"]
    return names, dict(manual)


def _tables(space: LabelSpace) -> tuple[dict[str, int], dict[str, str]]:
    if space.name == REFERENCE_SPACE:
        names, manual = reference_tables()
        if len(names) != space.num_classes:
            raise DatasetError(
                f"the reference's short-name list has {len(names)} names but {space.name!r} has "
                f"{space.num_classes} classes; reinstall imagenet-rib (its data files are damaged)"
            )
    else:
        names, manual = tuple(lemma.split(", ")[0] for lemma in space.lemmas), {}
    # the reference builds {name: index}, so a duplicated name resolves to its last index
    return {name: i for i, name in enumerate(names)}, manual


def paper_compat_ids(
    space: LabelSpace, mapping: Mapping[str, str], order: Sequence[str] | None = None
) -> dict[str, int]:
    """``{ObjectNet class: pretraining index}`` as the reference code assigns them.

    Args:
        space: the pretraining label space (ImageNet-1k for real ObjectNet).
        mapping: ``{ObjectNet class: mapping string}`` (objectnet_to_imagenet_1k.json).
        order: the ObjectNet classes in the reference's walk order, i.e. the values of
            folder_to_objectnet_label.json in file order (classes outside `mapping` are
            skipped, as the reference does); None walks `mapping` in its own key order.
    """
    short, manual = _tables(space)
    walk = [c for c in (mapping if order is None else order) if c in mapping]
    ids: dict[str, int] = {}
    class_id: int | None = None
    for name in walk:
        value = mapping[name]
        sep = ", " if "," in value else "; " if ";" in value else None
        if sep is not None:
            hit = next((short[p] for p in value.split(sep) if p in short), None)
            class_id = class_id if hit is None else hit  # the defect: keep the previous id
        elif value in short:
            class_id = short[value]
        elif manual.get(name) in short:
            class_id = short[manual[name]]
        else:
            raise DatasetError(
                f"paper-compat cannot score ObjectNet class {name!r}: its mapping {value!r} is "
                f"no reference short name and the reference's manual table has no entry for it "
                f"(the reference code raises KeyError here); use --objectnet-rule first-match "
                f"or max-over-mapped"
            )
        if class_id is None:
            raise DatasetError(
                f"paper-compat cannot score ObjectNet class {name!r}, the first in walk order: "
                f"no part of {value!r} is a reference short name and there is no previous class "
                f"to reuse (the reference code fails here); use first-match or max-over-mapped"
            )
        ids[name] = class_id
    if not ids:
        raise DatasetError("paper-compat: the ObjectNet mapping names no class to score")
    return ids
