"""Fixture trees in the real download layouts, with the truth recorded by the generator.

Each generator writes small random images into the exact folder layout users download
(docs/datasets.md) and returns a `Tree` whose ``truth`` maps every row id the converter
must produce to the label fields it must carry. Real ImageNet wnids are used (a few of the
1000), so the trees exercise the real label spaces, subsets and lemma strings.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imagenet_rib.data.labels import get_label_space, timm_subset
from imagenet_rib.data.specs import Expected


@dataclass
class Tree:
    name: str
    root: Path
    truth: dict[str, dict] = field(default_factory=dict)  # row id -> expected fields
    expected: Expected | None = None
    extra: dict = field(default_factory=dict)


def _rgb(rng: np.random.Generator, h: int = 12, w: int = 16) -> np.ndarray:
    return rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def write_jpeg(path: Path, rng: np.random.Generator, mode: str = "RGB") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.fromarray(_rgb(rng))
    (img.convert("L") if mode == "L" else img).save(path, format="JPEG", quality=90)


def truncate(path: Path) -> None:
    """Cut a file to half its size (an interrupted download)."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def space():
    return get_label_space("imagenet-1k")


def wnid_tree(
    root: Path, name: str, wnids: list[str], per_class: int = 3, seed: int = 0, ext: str = ".JPEG"
) -> Tree:
    """``root/<wnid>/<name>_<i><ext>`` (val, A, R, Sketch, Cartoon, Drawing)."""
    rng = np.random.default_rng(seed)
    tree = Tree(name, root)
    for w in wnids:
        for i in range(per_class):
            fname = f"ILSVRC2012_val_{i:08d}{ext}"
            write_jpeg(
                root / w / fname, rng, mode="L" if i == 0 else "RGB"
            )  # Sketch has grey images
            tree.truth[f"{w}/{fname}"] = {"label": space().index[w], "wnid": w, "class_name": w}
    (root / "README.txt").write_text("not an image\n")
    tree.expected = Expected(
        num_images=len(tree.truth), num_classes=len(wnids), classes=tuple(wnids)
    )
    return tree


def subset_wnids(subset: str, n: int = 3) -> list[str]:
    return list(timm_subset(subset)[:n])


V2_CLASSES = (0, 2, 10, 100, 999)  # sorted as strings: 0, 10, 100, 2, 999


def v2_tree(
    root: Path, classes: tuple[int, ...] = V2_CLASSES, per_class: int = 2, seed: int = 1
) -> Tree:
    """``imagenetv2-matched-frequency-format-val/<class index>/<hash>.jpeg``."""
    rng = np.random.default_rng(seed)
    base = root / "imagenetv2-matched-frequency-format-val"
    tree = Tree("imagenet-v2", root)
    for c in classes:
        for _ in range(per_class):
            fname = f"{rng.integers(1 << 60):x}.jpeg"
            write_jpeg(base / str(c) / fname, rng)
            tree.truth[f"{c}/{fname}"] = {
                "label": c,
                "wnid": space().wnids[c],
                "class_name": space().wnids[c],
            }
    tree.expected = Expected(
        num_images=len(tree.truth),
        num_classes=len(classes),
        classes=tuple(space().wnids[c] for c in classes),
    )
    return tree


def _lemma(wnid: str) -> str:
    return space().lemmas[space().index[wnid]]


#: The reference code's ids for the classes of `objectnet_tree` (see data/paper_compat.py):
#: "analog clock" is its short name 409; Chair's mapping contains "," so it is split on ", ",
#: no part is a short name, and it silently reuses the previous folder's id (Alarm clock's);
#: "maillot, tank suit" splits to "tank suit" = 639.
PAPER_COMPAT_IDS = {"Alarm clock": 409, "Chair": 409, "Swimming suit": 639}


def objectnet_tree(root: Path, per_class: int = 2, seed: int = 2, border: int = 2) -> Tree:
    """``objectnet-1.0/images/<folder>/*.png`` (RGBA, red border) + ``mappings/*.json``.

    Classes: one mapped to a single ImageNet class, one to THREE (max-over-mapped and
    first-match differ; paper-compat reuses the previous folder's class for it), one
    mapped to "maillot, tank suit", and one class absent from the ImageNet mapping (dropped).
    """
    rng = np.random.default_rng(seed)
    sp = space()
    top = root / "objectnet-1.0"
    chairs = ["n02791124", "n03376595", "n04099969"]  # barber chair, folding chair, rocking chair
    mapping = {
        "Alarm clock": _lemma("n02708093"),  # analog clock
        "Chair": "; ".join(_lemma(w) for w in chairs),
        "Swimming suit": _lemma("n03710721"),  # maillot, tank suit
    }
    folders = {
        "alarm_clock": "Alarm clock",
        "chair": "Chair",
        "swimming_suit": "Swimming suit",
        "air_freshener": "Air freshener",
    }  # the last is not in the ImageNet mapping
    (top / "mappings").mkdir(parents=True)
    (top / "mappings" / "folder_to_objectnet_label.json").write_text(json.dumps(folders, indent=1))
    (top / "mappings" / "objectnet_to_imagenet_1k.json").write_text(json.dumps(mapping, indent=1))
    tree = Tree("objectnet", root, extra={"mapping": mapping, "inner": {}, "border": border})
    lemma_index = {lemma: i for i, lemma in enumerate(sp.lemmas)}
    groups = {}
    for on_class, value in mapping.items():
        idx = [lemma_index[p] for p in value.split("; ")]
        groups[on_class] = {
            "max-over-mapped": tuple(idx),
            "first-match": (idx[0],),
            "paper-compat": (PAPER_COMPAT_IDS[on_class],),
        }
    tree.extra["groups"] = groups
    for folder, on_class in folders.items():
        for i in range(per_class):
            inner = _rgb(rng)
            inner[..., 0] //= 2  # never pure red inside
            h, w = inner.shape[:2]
            rgba = np.zeros((h + 2 * border, w + 2 * border, 4), dtype=np.uint8)
            rgba[..., 0], rgba[..., 3] = 255, 255
            rgba[border : border + h, border : border + w, :3] = inner
            path = top / "images" / folder / f"{i:04x}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rgba, mode="RGBA").save(path)
            if on_class in mapping:
                rid = f"{folder}/{path.name}"
                first = groups[on_class]["first-match"][0]
                tree.truth[rid] = {"label": first, "wnid": sp.wnids[first], "class_name": on_class}
                tree.extra["inner"][rid] = inner
    tree.expected = Expected(
        num_images=len(tree.truth),
        num_classes=len(mapping),
        classes=tuple(sorted(mapping)),
        class_key="class_name",
    )
    return tree


def imagenet_c_tree(
    root: Path,
    corruptions: tuple[str, ...] = ("fog", "snow"),
    severities: tuple[int, ...] = (1, 3),
    wnids: tuple[str, ...] = ("n01440764", "n01443537"),
    per_class: int = 2,
    seed: int = 3,
) -> Tree:
    """``<corruption>/<severity>/<wnid>/*.JPEG`` plus an "extra" corruption (ignored)."""
    rng = np.random.default_rng(seed)
    tree = Tree("imagenet-c", root)
    for c in corruptions:
        for s in severities:
            for w in wnids:
                for i in range(per_class):
                    fname = f"ILSVRC2012_val_{i:08d}.JPEG"
                    write_jpeg(root / c / str(s) / w / fname, rng)
                    tree.truth[f"{c}/{s}/{w}/{fname}"] = {
                        "label": space().index[w],
                        "wnid": w,
                        "class_name": w,
                        "corruption": c,
                        "severity": s,
                    }
    write_jpeg(root / "spatter" / "1" / wnids[0] / "x.JPEG", rng)
    tree.expected = Expected(
        num_images=len(tree.truth),
        num_classes=len(wnids),
        classes=tuple(wnids),
        sets=tuple((c, s) for c in corruptions for s in severities),
    )
    return tree


def decode(image: dict | Image.Image) -> np.ndarray:
    if isinstance(image, dict):
        image = Image.open(io.BytesIO(image["bytes"]))
    return np.asarray(image)


@pytest.fixture
def hf_cache(tmp_path, monkeypatch):
    """A throw-away `datasets` cache (load_dataset of a local folder copies it there)."""
    import datasets.config

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf-datasets"))
    return tmp_path / "hf-datasets"
