"""ObjectNet 1.0: ``objectnet-1.0/images/<folder>/*.png`` + ``objectnet-1.0/mappings/*.json``.

- ``folder_to_objectnet_label.json`` names each image folder's ObjectNet class; a folder it
  does not name is an error (or a counted skip).
- ``objectnet_to_imagenet_1k.json`` maps the 113 ObjectNet classes that overlap ImageNet to
  ImageNet lemma strings joined by ``"; "``. Images of the other classes are dropped (by
  design, counted per class in the report). Both files are required: without them no label
  can be trusted, so a missing one always raises.
- Rows: ``class_name`` = the ObjectNet class (what every ObjectNet rule scores on);
  ``label``/``wnid`` = its first-match ImageNet class (informative; scoring goes through the
  protocol). Images are RGBA PNGs with a red border: converted to RGB, border cropped.
- The mapping files are stored with the converted rows (the ``objectnet`` registry entry
  reads its mapping from there).

Converting needs ``accept_objectnet_license``: ObjectNet's licence forbids tuning models on it.
"""

from __future__ import annotations

import json
from pathlib import Path

from ...errors import ConfigError, DatasetError
from ..imagenet import FOLDER_MAPPING_FILE, MAPPING_FILE
from ..labels import get_label_space
from ..protocol import objectnet_protocol
from ..specs import DatasetSpec
from .base import Prepare, Scan, ScanContext, SourceItem, find_root, list_images, subdirs


def _read_mapping(path: Path) -> tuple[dict[str, str], bytes]:
    if not path.is_file():
        raise DatasetError(
            f"ObjectNet mapping file {path} is missing; it ships with the ObjectNet download "
            f"(objectnet-1.0/mappings/) - re-extract the archive so that --src holds images/ and mappings/"
        )
    raw = path.read_bytes()
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as err:
        raise DatasetError(
            f"ObjectNet mapping file {path} is not valid JSON ({err}); re-extract it"
        ) from err
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise DatasetError(f"ObjectNet mapping file {path} must be a JSON object of strings")
    return data, raw


def scan(src: Path, spec: DatasetSpec, ctx: ScanContext) -> Scan:
    if not ctx.config.accept_objectnet_license:
        raise ConfigError(
            "ObjectNet's licence forbids using it to train or tune model parameters, which this "
            "benchmark does, and forbids re-hosting its images. Read https://objectnet.dev/download.html; "
            "to convert it anyway for local use, pass --i-accept-objectnet-license "
            "(ConvertConfig(accept_objectnet_license=True))"
        )
    root = find_root(
        src,
        lambda d: (d / "images").is_dir() or (d / "mappings").is_dir(),
        "an ObjectNet download (objectnet-1.0/ with images/ and mappings/)",
    )
    folders, folders_raw = _read_mapping(root / "mappings" / FOLDER_MAPPING_FILE)
    mapping, mapping_raw = _read_mapping(root / "mappings" / MAPPING_FILE)
    if not (root / "images").is_dir():
        raise DatasetError(f"{root / 'images'} is missing; re-extract the ObjectNet archive")
    space = get_label_space(spec.label_space)
    first = objectnet_protocol(space, mapping, "first-match")  # raises on an unknown lemma
    label_of = {name: first.groups[k][0] for name, k in first.target_index.items()}
    scan = Scan(
        items=[],
        prepare=Prepare(border_px=ctx.config.border_px, force_rgb=True),
        expected_classes=tuple(sorted(mapping)),
        class_key="class_name",
        side_files={MAPPING_FILE: mapping_raw, FOLDER_MAPPING_FILE: folders_raw},
    )
    for d in subdirs(root / "images"):
        if d.name not in folders:
            ctx.problem(
                "unknown-folder",
                d,
                f"folder {d.name!r} is not in {FOLDER_MAPPING_FILE}",
                "check that the images and mappings come from the same ObjectNet release",
            )
            continue
        name = folders[d.name]
        files = list_images(d, scan.ignored)
        if name not in mapping:
            scan.dropped[name] += len(files)
            continue
        if not files:
            ctx.problem(
                "empty-folder",
                d,
                "class folder holds no images",
                "re-download or re-extract this class",
            )
            continue
        label = label_of[name]
        for f in files:
            rid = f"{d.name}/{f.name}"
            scan.items.append(
                SourceItem(str(f), rid, label, space.wnids[label], rid, class_name=name)
            )
    return scan
