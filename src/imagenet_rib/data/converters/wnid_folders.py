"""``<root>/<wnid>/<image>``: ImageNet val, -A, -R, -Sketch, -Cartoon, -Drawing.

The folder name is the class: a wnid of the label space, and for a subset dataset (A, R) one
of the subset's wnids. Any other folder is an error (or a counted skip), never a guess.
"""

from __future__ import annotations

from pathlib import Path

from ..labels import get_label_space
from ..specs import DatasetSpec
from .base import Scan, ScanContext, SourceItem, class_folders, find_root, subdirs


def scan(src: Path, spec: DatasetSpec, ctx: ScanContext) -> Scan:
    space = get_label_space(spec.label_space)
    classes = tuple(spec.subset) if spec.subset else space.wnids
    allowed = {w: space.index[w] for w in classes}
    root = find_root(
        src,
        lambda d: any(p.name in space.index for p in subdirs(d)),
        f"a {spec.name} download (<wnid> class folders)",
    )
    what = f"a class of {spec.name}" + (
        f" ({len(classes)}-class subset)" if spec.subset else f" ({space.name} wnid)"
    )
    scan = Scan(items=[], expected_classes=classes)

    def make(folder: Path, file: Path) -> SourceItem:
        wnid = folder.name
        return SourceItem(
            str(file), f"{wnid}/{file.name}", allowed[wnid], wnid, f"{wnid}/{file.stem}"
        )

    scan.items = class_folders(
        root,
        allowed,
        ctx,
        scan.ignored,
        what,
        "remove it or check that --src is the right dataset",
        make,
    )
    return scan
