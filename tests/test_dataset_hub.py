"""Publishing converted datasets to a (fake, local) Hub and loading them back."""

from __future__ import annotations

from dataclasses import replace

import pytest

from fake_hub import fake_hub  # noqa: F401
from imagenet_rib.data import imagenet
from imagenet_rib.data.converters import ConvertConfig, convert
from imagenet_rib.data.publish import push_dataset
from imagenet_rib.data.verify import verify
from imagenet_rib.errors import DatasetError
from layouts import imagenet_c_tree, objectnet_tree, subset_wnids, wnid_tree

pytestmark = pytest.mark.hub


@pytest.fixture
def hub(fake_hub):  # noqa: F811 - the fixture imported above
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


def test_push_then_load_dataset_round_trips(tmp_path, hub):
    import datasets
    from huggingface_hub import DatasetCard

    tree = wnid_tree(tmp_path / "src", "imagenet-r", subset_wnids("imagenet_r"))
    out = tmp_path / "imagenet-r"
    convert(
        "imagenet-r", tree.root, out, ConvertConfig(shard_size=4, **SERIAL), expected=tree.expected
    )
    result = push_dataset("imagenet-r", str(out), namespace="user", expected=tree.expected)
    assert result.repo_id == "user/imagenet-r"
    files = hub.files("dataset", "user/imagenet-r")
    assert {"README.md", "conversion.json"} <= set(files) and sum(
        f.endswith(".parquet") for f in files
    ) == 3

    local = datasets.load_dataset(str(out), split="train")
    remote = datasets.load_dataset("user/imagenet-r", split="train")
    assert remote.features == local.features and remote.features["label"].num_classes == 1000
    assert _rows(remote) == _rows(local) and len(remote) == len(tree.truth)
    card = DatasetCard.load("user/imagenet-r", repo_type="dataset")
    assert card.data.pretty_name == "ImageNet-R (renditions)" and card.data.license == "mit"
    assert card.data.imagenet_rib["split"]["rule"] == "holdout"
    assert 'load_dataset("user/imagenet-r"' in card.text
    assert files["README.md"].decode() == str(
        card
    )  # the card that was rendered is the card on the Hub

    report = verify(
        "imagenet-r", "user/imagenet-r", expected=tree.expected
    )  # LFS hashes vs conversion.json
    assert report.ok, report.to_text()

    # a re-push with other shards replaces the old ones instead of adding rows
    convert(
        "imagenet-r",
        tree.root,
        out,
        ConvertConfig(shard_size=2, force=True, **SERIAL),
        expected=tree.expected,
    )
    push_dataset("imagenet-r", str(out), repo_id="user/imagenet-r", expected=tree.expected)
    assert sum(f.endswith(".parquet") for f in hub.files("dataset", "user/imagenet-r")) == 5
    again = datasets.load_dataset(
        "user/imagenet-r", split="train", download_mode="force_redownload"
    )
    assert _rows(again) == _rows(local)
    assert hub.unhandled == []


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
    fog3 = datasets.load_dataset("org/imagenet-c", "fog-3", split="train")
    assert sorted(fog3["id"]) == sorted(i for i in tree.truth if i.startswith("fog/3/"))
    child = load_rib_dataset("imagenet-c/fog/1", "org/imagenet-c")
    assert sorted(child["id"]) == sorted(i for i in tree.truth if i.startswith("fog/1/"))


def test_objectnet_is_never_pushed(tmp_path, hub, monkeypatch):
    monkeypatch.setattr(imagenet, "_mapping_sources", [])
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

    from imagenet_rib.cli import main
    from imagenet_rib.data.loading import load_rib_dataset

    assert main(["datasets", "push", "mini-objectnet", "--namespace", "user"]) == 0
    assert "pushed mini-objectnet to user/mini-objectnet" in capsys.readouterr().out
    files = hub.files("dataset", "user/mini-objectnet")
    assert "objectnet_to_imagenet_1k.json" in files  # the mapping travels with the rows
    remote = datasets.load_dataset("user/mini-objectnet", split="train")
    local = load_rib_dataset("mini-objectnet")
    assert remote.features == local.features and _rows(remote) == _rows(local)
