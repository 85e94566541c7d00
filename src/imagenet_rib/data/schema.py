"""The one row schema shared by every dataset (ImageNet variants and Mini-RIB alike).

| column       | type                      | meaning                                              |
|--------------|---------------------------|------------------------------------------------------|
| `image`      | `datasets.Image()`        | the image, bytes embedded                            |
| `label`      | `ClassLabel(names=wnids)` | class in the pretraining label space                 |
| `wnid`       | string                    | the class id (wnid) of `label`                       |
| `id`         | string                    | stable unique row id (source path + variant)         |
| `group`      | string                    | rows sharing a source image (split unit)             |
| `class_name` | string                    | the dataset's own class name (ObjectNet's classes)   |
| `corruption` | string                    | ImageNet-C corruption, "" otherwise                  |
| `severity`   | int8                      | ImageNet-C severity 1..5, 0 otherwise                |
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from .labels import LabelSpace

if TYPE_CHECKING:
    import datasets

COLUMNS = ("image", "label", "wnid", "id", "group", "class_name", "corruption", "severity")


def features(space: LabelSpace) -> datasets.Features:
    import datasets

    return datasets.Features(
        {
            "image": datasets.Image(),
            "label": datasets.ClassLabel(names=list(space.wnids)),
            "wnid": datasets.Value("string"),
            "id": datasets.Value("string"),
            "group": datasets.Value("string"),
            "class_name": datasets.Value("string"),
            "corruption": datasets.Value("string"),
            "severity": datasets.Value("int8"),
        }
    )


def content_hash(ds: datasets.Dataset) -> str:
    """SHA-256 over every row's stored image bytes and metadata, in row order."""
    import datasets

    raw = ds.cast_column("image", datasets.Image(decode=False))
    h = hashlib.sha256()
    for batch in raw.iter(batch_size=1024):
        for i, img in enumerate(batch["image"]):
            h.update(img["bytes"] or b"")
            meta = "|".join(str(batch[c][i]) for c in COLUMNS[1:])
            h.update(meta.encode())
    return h.hexdigest()
