"""Datasets of a user's own family: mapped onto the label space by class NAME, never position.

The acceptance test writes a dataset out as an ``imagefolder`` tree (class folders named by
class; ``load_dataset("imagefolder")`` numbers them alphabetically), loads it through a
suite YAML whose entry has only a name and a source, and checks that a model scores exactly
what it scores on the original rows.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch

from imagenet_rib.data.conform import class_indices, conform
from imagenet_rib.data.labels import MINI_DIGITS, imagenet_1k
from imagenet_rib.data.splits import SplitConfig
from imagenet_rib.errors import DatasetError
from support.rib_train_helpers import make_dataset

ALL = SplitConfig(rule="none")


class BarOracle(torch.nn.Module):
    """Reads the class-dependent bar of `rib_train_helpers.make_dataset` images: logit c is
    the mean of rows (3c mod 32)..+6 of channel c mod 3 (a near-perfect classifier)."""

    def forward(self, pixel_values: torch.Tensor, **_) -> torch.Tensor:  # (B, 3, 32, 32)
        logits = []
        for c in range(10):
            row = (c * 3) % 32
            logits.append(pixel_values[:, c % 3, row : row + 6, :].mean(dim=(1, 2)))
        return torch.stack(logits, dim=1)  # (B, 10)


def write_imagefolder(ds, root: Path) -> Path:
    """One PNG per row under ``root/<class name>/<row id>.png`` (the original bytes)."""
    import datasets

    raw = ds.cast_column("image", datasets.Image(decode=False))
    for row in raw:
        path = root / MINI_DIGITS.wnids[row["label"]] / f"{row['id'].replace('/', '_')}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(row["image"]["bytes"])
    return root


def _evaluate(part, transform):
    from imagenet_rib.evaluation import EvalConfig, evaluate_split

    return evaluate_split(BarOracle(), transform, part, config=EvalConfig(batch_size=16))


def _by_image(part, values) -> dict[bytes, int]:
    import datasets

    raw = part.dataset.cast_column("image", datasets.Image(decode=False))
    # an imagefolder row refers to its file instead of embedding the bytes
    images = [r["image"]["bytes"] or Path(r["image"]["path"]).read_bytes() for r in raw]
    return {img: int(v) for img, v in zip(images, values)}


def test_imagefolder_suite_scores_like_the_original_rows(tmp_path):
    import datasets

    from imagenet_rib.models.mini import image_processor
    from imagenet_rib.suites import load_suite
    from imagenet_rib.transforms import from_hf_processor

    original = make_dataset(tmp_path / "rows", tuple(range(10)), 60, seed=3)
    ds = datasets.load_from_disk(str(original))
    write_imagefolder(ds, tmp_path / "tree")
    (tmp_path / "suite.yaml").write_text(
        "name: own-family\nlabel_space: mini-digits\ndatasets:\n"
        "  - {name: own-rows, source: ./rows, title: The original rows}\n"
        "  - {name: own-tree, source: ./tree}\n"  # no title: defined all the same
    )
    suite = load_suite(tmp_path / "suite.yaml")
    rows, tree = suite.part("own-rows", "test", ALL), suite.part("own-tree", "test", ALL)
    # imagefolder numbers the folders alphabetically: label 0 is "eight", not "zero"
    loaded = datasets.load_dataset("imagefolder", data_dir=str(tmp_path / "tree"), split="train")
    assert loaded.features["label"].names[0] == "eight" != MINI_DIGITS.wnids[0]
    assert tree.dataset.features["label"].names == list(MINI_DIGITS.wnids)
    assert _by_image(tree, tree.targets) == _by_image(
        rows, rows.targets
    )  # the same class per image
    transform = from_hf_processor(image_processor())
    a, b = _evaluate(rows, transform), _evaluate(tree, transform)
    assert a.accuracy > 90.0 and b.accuracy == a.accuracy and b.num_images == a.num_images == 60
    assert _by_image(tree, b.correct) == _by_image(rows, a.correct)
    # scored by position, the same images would have been a different (wrong) benchmark
    by_position = np.asarray(loaded["label"][:])
    assert (by_position != np.asarray(tree.targets)).mean() > 0.5


@pytest.mark.slow
def test_imagefolder_mini_val_scores_like_the_builtin_dataset(tmp_path):
    """The acceptance check on the real Mini-RIB suite and model (builds and trains them)."""
    from imagenet_rib.data.loading import load_rib_dataset, load_split
    from imagenet_rib.evaluation import evaluate_split
    from imagenet_rib.models import load_model
    from imagenet_rib.suites import load_suite

    write_imagefolder(load_rib_dataset("mini-val"), tmp_path / "val")
    (tmp_path / "suite.yaml").write_text(
        "name: val-copy\nlabel_space: mini-digits\ndatasets:\n"
        "  - mini-val\n  - {name: my-val-tree, source: ./val}\n"
    )
    suite = load_suite(tmp_path / "suite.yaml")
    model = load_model("mini-vit-clean")
    builtin = evaluate_split(model.model, model.transform, load_split("mini-val", "test", ALL))
    mine = evaluate_split(model.model, model.transform, suite.part("my-val-tree", "test", ALL))
    assert mine.accuracy == builtin.accuracy and mine.num_images == builtin.num_images > 0
    assert builtin.accuracy > 80.0  # far above chance (10 %): a label mix-up would show


def test_class_names_resolve_by_wnid_lemma_or_unique_part():
    space = imagenet_1k()
    names = ["n01440764", "goldfish, Carassius auratus", "great_white_shark", "Tiger-Shark"]
    assert class_indices(names, space, dataset="x") == [0, 1, 2, 3]
    with pytest.raises(DatasetError, match=r"'crane' \(classes n02012849, n03126707\)"):
        class_indices(["crane"], space, dataset="x")
    with pytest.raises(DatasetError, match="all name the same class"):
        class_indices(["zero", "nought"], MINI_DIGITS, dataset="x")
    with pytest.raises(DatasetError, match=r"'ten' match no class"):
        class_indices(["zero", "ten"], MINI_DIGITS, dataset="x")


def test_conform_keeps_schema_datasets_and_remaps_reordered_class_labels(tmp_path):
    import datasets

    ds = datasets.load_from_disk(str(make_dataset(tmp_path / "rows", tuple(range(10)), 20)))
    assert conform(ds, MINI_DIGITS, name="rows") is ds  # already in the schema: untouched
    reversed_names = list(reversed(MINI_DIGITS.wnids))
    relabelled = ds.cast_column("label", datasets.Value("int64")).map(
        lambda r: {"label": 9 - r["label"]}, keep_in_memory=True
    )
    relabelled = relabelled.cast_column("label", datasets.ClassLabel(names=reversed_names))
    out = conform(relabelled, MINI_DIGITS, name="rows")
    assert out["label"][:] == ds["label"][:] and out["wnid"][:] == ds["wnid"][:]


def test_integer_labels_are_named_by_the_wnid_column(tmp_path):
    import datasets
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(buf, format="PNG")
    ds = datasets.Dataset.from_dict(
        {"image": [{"bytes": buf.getvalue(), "path": None}] * 3, "label": [7, 7, 7],
         "wnid": ["two", "nine", "two"]},
        features=datasets.Features(
            {"image": datasets.Image(), "label": datasets.Value("int64"),
             "wnid": datasets.Value("string")}
        ),
    )  # fmt: skip
    out = conform(ds, MINI_DIGITS, name="ints")
    assert out["label"][:] == [2, 9, 2] and out["class_name"][:] == ["two", "nine", "two"]
    assert out["id"][:] == ["ints/0", "ints/1", "ints/2"] and out["group"][:] == out["id"][:]
