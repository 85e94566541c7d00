"""ImageNet-V2: ``imagenetv2-<variant>-format-val/<class index>/<hash>.jpeg``.

The folder name IS the class index in the standard sorted-wnid order: ``"10"`` is class 10,
although lexicographic folder order puts it before ``"2"`` (a classic mislabelling bug when
a generic image-folder loader numbers the folders itself).
"""

from __future__ import annotations

from pathlib import Path

from ..labels import get_label_space
from ..specs import DatasetSpec
from .base import Scan, ScanContext, SourceItem, class_folders, find_root, subdirs


def scan(src: Path, spec: DatasetSpec, ctx: ScanContext) -> Scan:
    space = get_label_space(spec.label_space)
    allowed = {str(i): i for i in range(space.num_classes)}  # canonical decimal names only
    root = find_root(
        src,
        lambda d: any(p.name in allowed for p in subdirs(d)),
        "an ImageNet-V2 download (folders 0..999)",
    )
    scan = Scan(items=[], expected_classes=space.wnids)

    def make(folder: Path, file: Path) -> SourceItem:
        label = allowed[folder.name]
        rid = f"{folder.name}/{file.name}"
        return SourceItem(str(file), rid, label, space.wnids[label], rid.rsplit(".", 1)[0])

    what = f"a class index 0..{space.num_classes - 1}"
    scan.items = class_folders(
        root,
        allowed,
        ctx,
        scan.ignored,
        what,
        "remove it or check that --src is an ImageNet-V2 download",
        make,
    )
    return scan
