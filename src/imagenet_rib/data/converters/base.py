"""What a layout module produces, and the shared options and problem policy of a conversion.

A layout module's ``scan(src, spec, ctx) -> Scan`` walks the original download WITHOUT
decoding images and returns one `SourceItem` per image (its label already resolved), plus
what it skipped, ignored or dropped. The engine (`engine.py`) decodes, converts and writes.

Problem policy (`ConvertConfig.on_error`): ``"raise"`` stops at the first problem with an
error naming the file and the fix; ``"skip"`` skips the offending image or folder and counts
it in the report. A problem is never silently ignored, and nothing is ever relabelled.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ...config import ConfigBase, check_choice, check_range
from ...config import field as cfield
from ...errors import DatasetError

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff"})
ON_ERROR = ("raise", "skip")


@dataclass(frozen=True)
class ConvertConfig(ConfigBase):
    on_error: str = cfield(
        "raise",
        help="on a bad image/folder: 'raise' (stop) or 'skip' (skip it, count it in the report)",
    )
    num_workers: int = cfield(
        -1, help="worker processes; -1: one per CPU core (at most 8); 0: convert in this process"
    )
    shard_size: int = cfield(1000, help="images per Parquet shard (also the unit of resumption)")
    border_px: int = cfield(
        2, help="ObjectNet: pixels of red border cropped on every side (the reference crops 2)"
    )
    accept_objectnet_license: bool = cfield(
        False, help="required to convert ObjectNet (its licence forbids tuning models on it)"
    )
    allow_count_mismatch: bool = cfield(
        False,
        help="convert even if the image count differs from the registry (verify will still flag it)",
    )
    force: bool = cfield(
        False, help="discard a partial or finished conversion at --out and start over"
    )
    progress: bool = cfield(True, help="show progress bars")

    def __post_init__(self) -> None:
        check_choice("ConvertConfig", "on_error", self.on_error, ON_ERROR)
        check_range("ConvertConfig", "num_workers", self.num_workers, -1)
        check_range("ConvertConfig", "shard_size", self.shard_size, 1)
        check_range("ConvertConfig", "border_px", self.border_px, 0)

    @property
    def workers(self) -> int:
        return min(os.cpu_count() or 1, 8) if self.num_workers < 0 else self.num_workers


@dataclass(frozen=True)
class SourceItem:
    """One image of the download, with its row fields (the shared schema, minus the image)."""

    path: str  # absolute path of the source file
    id: str  # path relative to the dataset root, posix: stable across machines
    label: int
    wnid: str
    group: str
    class_name: str = ""
    corruption: str = ""
    severity: int = 0

    @property
    def set_key(self) -> str:
        """Sub-folder of the output shards: ``"<corruption>/<severity>"`` for ImageNet-C."""
        return f"{self.corruption}/{self.severity}" if self.corruption else ""

    def row(self) -> tuple:
        """Values of the schema's columns after ``image`` (`schema.COLUMNS[1:]`), in order."""
        class_name = self.class_name or self.wnid  # the dataset's own class name, as Mini-RIB rows
        return (
            self.label,
            self.wnid,
            self.id,
            self.group,
            class_name,
            self.corruption,
            self.severity,
        )


@dataclass(frozen=True)
class Prepare:
    """Pixel changes a layout needs: crop a border (ObjectNet), force RGB (RGBA PNGs)."""

    border_px: int = 0
    force_rgb: bool = False


@dataclass(frozen=True)
class Problem:
    """A counted problem: ``kind`` in corrupt-image, unknown-folder, empty-folder, count-mismatch."""

    kind: str
    path: str
    detail: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass
class Scan:
    items: list[SourceItem]
    prepare: Prepare = Prepare()
    problems: list[Problem] = field(default_factory=list)  # skipped folders (skip policy)
    ignored: Counter = field(default_factory=Counter)  # not images / not part of the benchmark
    dropped: Counter = field(
        default_factory=Counter
    )  # by design (ObjectNet classes outside ImageNet)
    side_files: dict[str, bytes] = field(default_factory=dict)  # copied next to the shards
    expected_classes: tuple[str, ...] | None = None  # class ids the download should cover
    class_key: str = "wnid"  # row field the class set is checked on ("class_name" for ObjectNet)


class ScanContext:
    """The problem policy while scanning: raise, or record a counted skip."""

    def __init__(self, config: ConvertConfig) -> None:
        self.config = config
        self.problems: list[Problem] = []

    def problem(self, kind: str, path: Path | str, detail: str, fix: str) -> None:
        if self.config.on_error == "raise":
            raise DatasetError(
                f"{path}: {detail}; {fix}, or pass --on-error skip to skip it (counted in the report)"
            )
        self.problems.append(Problem(kind, str(path), detail))


def subdirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def list_images(folder: Path, ignored: Counter) -> list[Path]:
    """Image files of `folder` (sorted); anything else is counted in `ignored`."""
    out = []
    for p in sorted(folder.iterdir()):
        if p.name.startswith("."):
            continue
        if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS:
            out.append(p)
        else:
            ignored[
                "sub-folder inside a class folder"
                if p.is_dir()
                else f"non-image file ({p.suffix or 'no extension'})"
            ] += 1
    return out


def find_root(src: Path, looks_right: Callable[[Path], bool], what: str) -> Path:
    """`src`, or its single sub-folder if that is where the layout starts (an extra archive level)."""
    src = Path(src)
    if not src.is_dir():
        raise DatasetError(
            f"source folder {src} does not exist; pass the folder of the extracted download"
        )
    if looks_right(src):
        return src
    dirs = subdirs(src)
    if len(dirs) == 1 and looks_right(dirs[0]):
        return dirs[0]
    raise DatasetError(f"{src} does not look like {what}; pass the folder that holds it")


def class_folders(
    root: Path,
    allowed: dict[str, int],
    ctx: ScanContext,
    ignored: Counter,
    what: str,
    fix: str,
    make: Callable[[Path, Path], SourceItem],
) -> list[SourceItem]:
    """Items of ``root/<class folder>/<image>`` for folders named in `allowed` (name -> label)."""
    items = []
    for d in subdirs(root):
        if d.name not in allowed:
            ctx.problem("unknown-folder", d, f"folder {d.name!r} is not {what}", fix)
            continue
        files = list_images(d, ignored)
        if not files:
            ctx.problem(
                "empty-folder",
                d,
                "class folder holds no images",
                "re-download or re-extract this class",
            )
            continue
        items.extend(make(d, f) for f in files)
    for p in root.iterdir():
        if p.is_file() and not p.name.startswith("."):
            ignored["file next to the class folders"] += 1
    return items


def summary(counter: Counter) -> dict[str, Any]:
    return dict(sorted(counter.items()))
