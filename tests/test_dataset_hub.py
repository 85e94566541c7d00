"""Publishing converted datasets to a (fake, local) Hub and loading them back."""

from __future__ import annotations

from dataclasses import replace

import pytest

from imagenet_rib.data.converters import ConvertConfig, convert
from imagenet_rib.data.dataset_card import dataset_card
from imagenet_rib.data.publish import push_dataset
from imagenet_rib.data.splits import SplitConfig, split_indices
from imagenet_rib.data.verify import verify
from imagenet_rib.errors import DatasetError
from support.layouts import imagenet_c_tree, objectnet_tree, subset_wnids, wnid_tree

pytestmark = pytest.mark.hub


@pytest.fixture
def hub(fake_hub):
    return fake_hub


SERIAL = dict(num_workers=0, progress=False)


def _rows(ds) -> list[tuple]:
    import datasets

    raw = ds.cast_column("image", datasets.Image(decode=False))
    return sorted(
        (
            r["id"],
            r["label"],
            r["wnid"],
            r["class_name"],
            r["corruption"],
            r["severity"],
            r["image"]["bytes"],
        )
        for r in raw
    )


def _parts(ds, split=None):
    """(train rows, test rows) of `ds` under the holdout split, in row order."""
    idx = split_indices(ds["label"], ds["group"], split or SplitConfig())
    return ds.select(idx["train"]), ds.select(idx["test"])


def _assert_round_trip(repo: str, local, card_split: dict) -> None:
    """`load_dataset(repo, split=...)` holds exactly the local copy's split parts, in order,
    and the library restores the local row order from the two splits."""
    import datasets

    train = datasets.load_dataset(repo, split="train", download_mode="force_redownload")
    test = datasets.load_dataset(repo, split="test", download_mode="force_redownload")
    assert (len(train), len(test)) == (card_split["train_rows"], card_split["test_rows"])
    assert len(train) + len(test) == len(local) and min(len(train), len(test)) > 0
    assert not set(train["id"]) & set(test["id"])  # `train` never holds a test row
    want_train, want_test = _parts(local)
    assert train.features == local.features
    assert _ordered(train) == _ordered(want_train) and _ordered(test) == _ordered(want_test)


def _ordered(ds) -> list[tuple]:
    import datasets

    raw = ds.cast_column("image", datasets.Image(decode=False))
    return [(r["id"], r["label"], r["wnid"], r["group"], r["image"]["bytes"]) for r in raw]


def test_push_then_load_dataset_round_trips(tmp_path, hub):
    import datasets
    from huggingface_hub import DatasetCard

    from imagenet_rib.data.loading import load_rib_dataset
    from imagenet_rib.data.schema import content_hash

    tree = wnid_tree(tmp_path / "src", "imagenet-r", subset_wnids("imagenet_r"))
    out = tmp_path / "imagenet-r"
    convert(
        "imagenet-r", tree.root, out, ConvertConfig(shard_size=4, **SERIAL), expected=tree.expected
    )
    result = push_dataset("imagenet-r", str(out), namespace="user", expected=tree.expected)
    assert result.repo_id == "user/imagenet-r"
    files = hub.files("dataset", "user/imagenet-r")
    assert {"README.md", "conversion.json"} <= set(files)
    assert sorted(f for f in files if f.endswith(".parquet")) == [
        "data/test-00000-of-00001.parquet",
        "data/train-00000-of-00001.parquet",
    ]

    local = datasets.load_dataset(str(out), split="train")  # the local conversion: every row
    card = DatasetCard.load("user/imagenet-r", repo_type="dataset")
    split = card.data.imagenet_rib["split"]
    assert (split["rule"], split["train_rows"], split["test_rows"]) == ("holdout", 6, 3)
    _assert_round_trip("user/imagenet-r", local, split)
    assert _rows(local) == sorted(
        _rows(datasets.load_dataset("user/imagenet-r", split="train"))
        + _rows(datasets.load_dataset("user/imagenet-r", split="test"))
    )
    # the library reads both splits back in the local row order: identical numbers
    remote = load_rib_dataset("imagenet-r", "user/imagenet-r")
    assert content_hash(remote) == content_hash(load_rib_dataset("imagenet-r", str(out)))
    assert card.data.pretty_name == "ImageNet-R (renditions)" and card.data.license == "mit"
    assert 'load_dataset("user/imagenet-r", split="test")' in card.text
    assert [c["data_files"] for c in card.data.configs] == [
        [
            {"split": "train", "path": "data/**/train-*.parquet"},
            {"split": "test", "path": "data/**/test-*.parquet"},
        ]
    ]
    assert files["README.md"].decode() == str(card)  # the card rendered is the card on the Hub
    again_card = dataset_card("imagenet-r", "user/imagenet-r", repo_id="user/imagenet-r")
    assert again_card.data.configs == card.data.configs  # a published copy's card: its splits

    report = verify(
        "imagenet-r", "user/imagenet-r", expected=tree.expected
    )  # LFS hashes vs conversion.json
    assert report.ok, report.to_text()

    # a re-push in paper mode (no split) replaces the old shards instead of adding rows
    push_dataset(
        "imagenet-r",
        str(out),
        repo_id="user/imagenet-r",
        expected=tree.expected,
        split=SplitConfig(rule="none"),
    )
    parquet = [f for f in hub.files("dataset", "user/imagenet-r") if f.endswith(".parquet")]
    assert parquet == ["data/train-00000-of-00001.parquet"]
    again = datasets.load_dataset(
        "user/imagenet-r", split="train", download_mode="force_redownload"
    )
    assert _ordered(again) == _ordered(local)
    assert hub.unhandled == []


def test_a_published_split_that_disagrees_with_its_rule_is_refused(tmp_path, hub):
    """A copy whose `train` holds rows the recorded split puts in test is never read."""
    import json

    from huggingface_hub import HfApi

    from imagenet_rib.data.loading import load_rib_dataset

    tree = wnid_tree(tmp_path / "src", "imagenet-r", subset_wnids("imagenet_r"))
    out = tmp_path / "imagenet-r"
    convert("imagenet-r", tree.root, out, ConvertConfig(**SERIAL), expected=tree.expected)
    push_dataset("imagenet-r", str(out), repo_id="user/r", expected=tree.expected)
    manifest = json.loads(hub.files("dataset", "user/r")["conversion.json"])
    manifest["split"]["seed"] = 1  # the stored rows are seed 0's split
    HfApi().upload_file(
        path_or_fileobj=json.dumps(manifest).encode(),
        path_in_repo="conversion.json",
        repo_id="user/r",
        repo_type="dataset",
    )
    with pytest.raises(DatasetError, match=r"are not the holdout split \(seed 1"):
        load_rib_dataset("imagenet-r", "user/r")


def test_imagenet_c_sets_are_hub_configs(tmp_path, hub, monkeypatch):
    import datasets

    from imagenet_rib.data.loading import load_rib_dataset

    monkeypatch.setenv("IMAGENET_RIB_HUB_NAMESPACE", "org")
    tree = imagenet_c_tree(tmp_path / "src", corruptions=("fog",), severities=(1, 3))
    convert(
        "imagenet-c", tree.root, tmp_path / "c", ConvertConfig(**SERIAL), expected=tree.expected
    )
    assert (
        push_dataset("imagenet-c", str(tmp_path / "c"), expected=tree.expected).repo_id
        == "org/imagenet-c"
    )
    fog3 = datasets.concatenate_datasets(
        [datasets.load_dataset("org/imagenet-c", "fog-3", split=p) for p in ("train", "test")]
    )
    assert sorted(fog3["id"]) == sorted(i for i in tree.truth if i.startswith("fog/3/"))
    fog3_test = datasets.load_dataset("org/imagenet-c", "fog-3", split="test")
    assert 0 < len(fog3_test) < len(fog3)
    child = load_rib_dataset("imagenet-c/fog/1", "org/imagenet-c")
    assert sorted(child["id"]) == sorted(i for i in tree.truth if i.startswith("fog/1/"))


def test_objectnet_is_never_pushed(tmp_path, hub):
    tree = objectnet_tree(tmp_path / "src")
    convert(
        "objectnet",
        tree.root,
        tmp_path / "o",
        ConvertConfig(accept_objectnet_license=True, **SERIAL),
        expected=tree.expected,
    )
    with pytest.raises(DatasetError, match="licence forbids re-hosting"):
        push_dataset("objectnet", str(tmp_path / "o"), namespace="user", verify_first=False)
    assert not hub.repo_exists("dataset", "user/objectnet")


def test_a_copy_that_fails_verification_is_not_pushed(tmp_path, hub):
    tree = wnid_tree(tmp_path / "src", "imagenet-a", subset_wnids("imagenet_a"))
    convert(
        "imagenet-a", tree.root, tmp_path / "a", ConvertConfig(**SERIAL), expected=tree.expected
    )
    with pytest.raises(DatasetError, match="fails verification"):
        push_dataset(
            "imagenet-a",
            str(tmp_path / "a"),
            namespace="user",
            expected=replace(tree.expected, num_images=7500),
        )
    assert not hub.repo_exists("dataset", "user/imagenet-a")


def test_cli_push_of_a_mini_dataset(hub, capsys):
    import datasets
    from huggingface_hub import DatasetCard

    from imagenet_rib.cli import main
    from imagenet_rib.data.loading import load_rib_dataset
    from imagenet_rib.data.schema import content_hash

    assert main(["datasets", "push", "mini-objectnet", "--namespace", "user"]) == 0
    assert "pushed mini-objectnet to user/mini-objectnet" in capsys.readouterr().out
    files = hub.files("dataset", "user/mini-objectnet")
    assert "objectnet_to_imagenet_1k.json" in files  # the mapping travels with the rows
    local = load_rib_dataset("mini-objectnet")  # the local save_to_disk cache
    card = DatasetCard.load("user/mini-objectnet", repo_type="dataset")
    _assert_round_trip("user/mini-objectnet", local, card.data.imagenet_rib["split"])
    remote = datasets.load_dataset("user/mini-objectnet", split="train")
    assert remote.features == local.features
    # read back through the library: the same rows in the same order as the demo's cache
    assert content_hash(load_rib_dataset("mini-objectnet", "user/mini-objectnet")) == (
        content_hash(local)
    )
