"""The Mini-RIB pretrained models, shipped with the package (checksummed safetensors).

Two pretraining sources that differ in the richness of their data, as the paper's
ImageNet-1k vs LAION-2B models do:

- ``mini-vit-clean``: clean white-on-black digits (``mini-pretrain-clean``);
- ``mini-vit-rich``: the same digits under many renderings (``mini-pretrain-rich``).

Each is a `ViTForImageClassification` (32 x 32 input, 8 x 8 patches, width 64, depth 4,
~0.15 M parameters) saved with ``save_pretrained`` (safetensors, config, image processor)
in ``imagenet_rib/models/weights/<name>/``, so it loads like any Hub checkpoint and every
machine starts from the same bits. ``weights/checksums.json`` holds the SHA-256 of every
shipped file; loading verifies them. `scripts/train_mini_models.py` reproduces the weights
(`imagenet_rib.mini_pretraining`, the recipes in `SOURCES`): training is seeded and runs on
one torch thread (`determinism.torch_threads`), so on a CPU of the same instruction set it
gives the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from ..data.labels import MINI_DIGITS
from ..errors import ModelNotAvailableError
from . import MODELS, LoadedModel

logger = logging.getLogger(__name__)

#: the files of one shipped model, all covered by ``weights/checksums.json``
SHIPPED_FILES = (
    "config.json",
    "model.safetensors",
    "preprocessor_config.json",
    "rib_pretraining.json",
)
CHECKSUMS = "checksums.json"
REPRODUCE = "python scripts/train_mini_models.py"


@dataclass(frozen=True)
class MiniSource:
    pretrain_set: str
    epochs: int
    learning_rate: float = 3e-3
    batch_size: int = 64
    warmup_steps: int = 50


SOURCES = {
    # ~890 and ~1,500 AdamW steps. The rich set needs the gentler lr and longer warm-up:
    # at 3e-3 its ViT sits on the ln(10) loss plateau for epochs.
    "mini-vit-clean": MiniSource("mini-pretrain-clean", epochs=37),
    "mini-vit-rich": MiniSource(
        "mini-pretrain-rich", epochs=16, learning_rate=1e-3, warmup_steps=150
    ),
}


def vit_config(**overrides: Any):
    from transformers import ViTConfig

    kw = dict(
        image_size=32,
        patch_size=8,
        num_channels=3,
        hidden_size=64,
        num_hidden_layers=4,
        num_attention_heads=4,
        intermediate_size=128,
        num_labels=MINI_DIGITS.num_classes,
        id2label=dict(enumerate(MINI_DIGITS.wnids)),
        label2id={w: i for i, w in enumerate(MINI_DIGITS.wnids)},
        rib_label_space=MINI_DIGITS.name,
    )
    kw.update(overrides)
    return ViTConfig(**kw)


def image_processor():
    from transformers import ViTImageProcessor

    return ViTImageProcessor(
        size={"height": 32, "width": 32},
        resample=2,
        do_normalize=True,
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
    )


def weights_root() -> Path:
    """The package folder holding the shipped weights (``<name>/`` and ``checksums.json``)."""
    return Path(str(files(__package__) / "weights"))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def file_checksums(folder: Path) -> dict[str, str]:
    """``{file: sha256}`` of the `SHIPPED_FILES` in `folder`."""
    return {f: _sha256(Path(folder) / f) for f in SHIPPED_FILES}


def verify_shipped(name: str, root: Path | None = None) -> Path:
    """The folder of shipped model `name`, after checking every file against its checksum."""
    root = Path(root or weights_root())
    fix = (
        f"reinstall imagenet-rib (`pip install --force-reinstall imagenet-rib`), or, in a "
        f"checkout, restore the files with `git checkout -- {root}` or regenerate them with "
        f"`{REPRODUCE} --only {name}`"
    )
    try:
        expected = json.loads((root / CHECKSUMS).read_text())[name]
    except (OSError, ValueError, KeyError) as err:
        raise ModelNotAvailableError(
            f"no checksums for the shipped Mini-RIB model {name!r} in {root / CHECKSUMS} "
            f"({type(err).__name__}: {err}); {fix}"
        ) from err
    folder = root / name
    for f in SHIPPED_FILES:
        path = folder / f
        if not path.is_file():
            raise ModelNotAvailableError(f"the shipped model file {path} is missing; {fix}")
        got = _sha256(path)
        if got != expected.get(f):
            raise ModelNotAvailableError(
                f"the shipped model file {path} has SHA-256 {got[:16]}..., not the recorded "
                f"{str(expected.get(f))[:16]}... (modified or corrupt); {fix}"
            )
    return folder


def load_mini_model(name: str, *, root: Path | None = None, **_: Any) -> LoadedModel:
    """Load the shipped Mini-RIB model `name` (checksums verified); `root`: another weights root."""
    from .hf import load_hf_model

    folder = verify_shipped(name, root)
    loaded = load_hf_model(str(folder), label_space=MINI_DIGITS.name, display_name=name)
    loaded.info["pretraining"] = json.loads((folder / "rib_pretraining.json").read_text())
    return loaded


for _name in SOURCES:
    MODELS.register(_name, lambda _n=_name, **kw: load_mini_model(_n, **kw))
