"""Tiny fixtures for the runner tests: a ~40 k-parameter ViT folder, small generated datasets
in the shared schema (``save_to_disk``) and a user suite YAML pointing at them.

Nothing here needs the Mini-RIB suite or the network; everything is deterministic.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: dataset -> (rows, style); "tiny-val" is the suite's reference set
DATASETS = {
    "tiny-val": (37, "clean"),
    "tiny-a": (30, "invert"),
    "tiny-b": (36, "noise"),
    "tiny-c": (30, "shift"),
}
SUITE_YAML = """\
# A user suite: three related datasets + a reference, each a local save_to_disk folder.
name: tiny-suite
label_space: mini-digits
reference: {{name: tiny-val, source: ./tiny-val, title: Tiny reference}}
datasets:
  - {{name: tiny-a, source: ./tiny-a, title: Tiny inverted}}
  - {{name: tiny-b, source: ./tiny-b, title: Tiny noisy, subset: [zero, one, two, three, four, five]}}
  - {{name: tiny-c, source: ./tiny-c, title: Tiny shifted}}
"""


def _image(label: int, style: str, rng: np.random.Generator) -> np.ndarray:
    img = rng.integers(0, 40, (32, 32, 3)).astype(np.int32)
    row = 2 + 3 * label
    img[row : row + 3, 4:28] += 200  # the class is the height of a bright bar
    if style == "invert":
        img = 255 - img
    elif style == "noise":
        img += rng.integers(0, 90, img.shape)
    elif style == "shift":
        img = np.roll(img, 5, axis=1)
    return np.clip(img, 0, 255).astype(np.uint8)


def make_dataset(
    name: str, n: int, style: str, out: Path, labels: tuple[int, ...] = tuple(range(10))
):
    import datasets
    from PIL import Image

    from imagenet_rib.data.labels import MINI_DIGITS
    from imagenet_rib.data.schema import features

    rng = np.random.default_rng(sum(map(ord, name)))
    cols: dict[str, list] = {
        k: []
        for k in ("image", "label", "wnid", "id", "group", "class_name", "corruption", "severity")
    }
    for i in range(n):
        lab = labels[i % len(labels)]
        wnid = MINI_DIGITS.wnids[lab]
        for key, value in (
            ("image", Image.fromarray(_image(lab, style, rng))),
            ("label", lab),
            ("wnid", wnid),
            ("id", f"{name}/{i}"),
            ("group", f"{name}/{i}"),
            ("class_name", wnid),
            ("corruption", ""),
            ("severity", 0),
        ):
            cols[key].append(value)
    ds = datasets.Dataset.from_dict(cols, features=features(MINI_DIGITS))
    ds.save_to_disk(str(out))
    return ds


def make_model(out: Path, seed: int = 0) -> Path:
    import torch
    from transformers import ViTForImageClassification

    from imagenet_rib.models.mini import image_processor, vit_config

    torch.manual_seed(seed)
    model = ViTForImageClassification(
        vit_config(hidden_size=32, num_hidden_layers=2, intermediate_size=64)
    )
    model.save_pretrained(out)
    image_processor().save_pretrained(out)
    return out


def make_suite(root: Path) -> Path:
    """Write the tiny datasets, the model and the suite YAML under `root`; return the YAML."""
    root.mkdir(parents=True, exist_ok=True)
    for name, (n, style) in DATASETS.items():
        if not (root / name).exists():
            labels = tuple(range(6)) if name == "tiny-b" else tuple(range(10))
            make_dataset(name, n, style, root / name, labels)
    if not (root / "tiny-model").exists():
        make_model(root / "tiny-model")
    path = root / "tiny-suite.yaml"
    path.write_text(SUITE_YAML.format())
    return path
