"""ImageNet-C: ``<root>/<corruption>/<severity 1..5>/<wnid>/<image>``.

The 15 benchmark corruptions are converted; the 4 "extra" ones (a separate download) are
ignored and counted. Rows of every (corruption, severity) set are written under
``data/<corruption>/<severity>/`` so each set is its own Hub config. The ``group`` of a row
is its source image (``<wnid>/<file stem>``), shared by its 75 versions, so a holdout split
never puts one version of an image in train and another in test.
"""

from __future__ import annotations

from pathlib import Path

from ..imagenet import C_EXTRA_CORRUPTIONS, CORRUPTIONS, SEVERITIES
from ..labels import get_label_space
from ..specs import DatasetSpec
from .base import Scan, ScanContext, SourceItem, class_folders, find_root, subdirs


def scan(src: Path, spec: DatasetSpec, ctx: ScanContext) -> Scan:
    space = get_label_space(spec.label_space)
    allowed = dict(space.index)
    known = set(CORRUPTIONS) | set(C_EXTRA_CORRUPTIONS)
    root = find_root(
        src,
        lambda d: any(p.name in known for p in subdirs(d)),
        "an ImageNet-C download (<corruption>/<severity>/<wnid>/ folders)",
    )
    scan = Scan(items=[], expected_classes=space.wnids)
    for cdir in subdirs(root):
        if cdir.name in C_EXTRA_CORRUPTIONS:
            scan.ignored[f"extra corruption {cdir.name} (not in the benchmark)"] += 1
            continue
        if cdir.name not in CORRUPTIONS:
            ctx.problem(
                "unknown-folder",
                cdir,
                f"{cdir.name!r} is not an ImageNet-C corruption "
                f"(expected one of {list(CORRUPTIONS)})",
                "remove it",
            )
            continue
        for sdir in subdirs(cdir):
            if sdir.name not in {str(s) for s in SEVERITIES}:
                ctx.problem(
                    "unknown-folder", sdir, f"{sdir.name!r} is not a severity 1..5", "remove it"
                )
                continue
            corruption, severity = cdir.name, int(sdir.name)

            def make(
                folder: Path, file: Path, c: str = corruption, s: int = severity
            ) -> SourceItem:
                wnid = folder.name
                return SourceItem(
                    str(file),
                    f"{c}/{s}/{wnid}/{file.name}",
                    allowed[wnid],
                    wnid,
                    f"{wnid}/{file.stem}",
                    corruption=c,
                    severity=s,
                )

            scan.items.extend(
                class_folders(
                    sdir,
                    allowed,
                    ctx,
                    scan.ignored,
                    f"an {space.name} wnid",
                    "remove it or check the download",
                    make,
                )
            )
    return scan
