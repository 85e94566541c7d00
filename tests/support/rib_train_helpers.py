"""Shared fixtures of the fine-tuning tests: a tiny ViT folder and tiny datasets on disk.

Nothing here needs the Mini-RIB suite: datasets are a few dozen generated 32 x 32 images in
the shared row schema (class-dependent patterns, so a few steps already learn something),
saved with ``save_to_disk`` under one root that ``IMAGENET_RIB_DATA_DIR`` points to; the
registered Mini-RIB names give them their label protocol (mini-r: a 6-class subset).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

TINY = dict(hidden_size=32, num_hidden_layers=2, intermediate_size=64)
#: dataset name -> (classes present, images)
TINY_SETS = {
    "mini-sketch": (tuple(range(10)), 40),
    "mini-r": ((0, 1, 2, 3, 4, 7), 24),
    "mini-val": (tuple(range(10)), 30),
}


def make_model_dir(path: Path, seed: int = 0) -> Path:
    import torch
    from transformers import ViTForImageClassification

    from imagenet_rib.models.mini import image_processor, vit_config

    torch.manual_seed(seed)
    model = ViTForImageClassification(vit_config(**TINY))
    model.save_pretrained(path)
    image_processor().save_pretrained(path)
    return path


def make_dataset(path: Path, classes: tuple[int, ...], n: int, seed: int = 0) -> Path:
    import datasets
    from PIL import Image

    from imagenet_rib.data.labels import MINI_DIGITS
    from imagenet_rib.data.schema import features

    rng = np.random.default_rng(seed)
    rows = {
        k: []
        for k in ("image", "label", "wnid", "id", "group", "class_name", "corruption", "severity")
    }
    for i in range(n):
        c = classes[i % len(classes)]
        img = rng.integers(0, 60, size=(32, 32, 3), dtype=np.uint8)
        img[(c * 3) % 32 : (c * 3) % 32 + 6, :, c % 3] = 250  # a class-dependent bar
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="PNG")
        rows["image"].append({"bytes": buf.getvalue(), "path": None})
        rows["label"].append(c)
        rows["wnid"].append(MINI_DIGITS.wnids[c])
        rows["id"].append(f"{path.name}/{i}")
        rows["group"].append(f"{path.name}/{i}")
        rows["class_name"].append(MINI_DIGITS.wnids[c])
        rows["corruption"].append("")
        rows["severity"].append(0)
    datasets.Dataset.from_dict(rows, features=features(MINI_DIGITS)).save_to_disk(str(path))
    return path


def make_data_root(root: Path) -> Path:
    for name, (classes, n) in TINY_SETS.items():
        make_dataset(root / name, classes, n, seed=len(name))
    return root


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory) -> Path:
    """A session folder holding ``model/`` (tiny ViT) and ``data/<dataset>/`` folders."""
    root = tmp_path_factory.mktemp("rib-train")
    make_model_dir(root / "model")
    make_data_root(root / "data")
    return root


@pytest.fixture()
def tiny_env(tiny_root, monkeypatch) -> Path:
    """Point the dataset loader at the tiny datasets; return the session root."""
    monkeypatch.setenv("IMAGENET_RIB_DATA_DIR", str(tiny_root / "data"))
    return tiny_root


def tiny_loaded(root: Path):
    from imagenet_rib.models import load_model

    return load_model(str(root / "model"))


def quick_train(**over) -> dict:
    """A TrainConfig dict for a few fast steps (lr high enough to move every weight)."""
    cfg = dict(
        lr=0.05,
        warmup_steps=0,
        epochs=1,
        max_steps=3,
        batch_size=8,
        save_steps=0,
        logging_steps=1,
        scheduler="constant",
    )
    cfg.update(over)
    return cfg
