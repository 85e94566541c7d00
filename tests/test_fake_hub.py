"""Round-trips through the fake Hub: datasets, model cards, folders, and auth checks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from support.fake_hub import FakeHub

pytestmark = pytest.mark.hub

TOKEN = "hf_dummy_token_for_tests"


def _images(n: int, size: int = 8, seed: int = 0):
    from PIL import Image

    rng = np.random.default_rng(seed)
    return [
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)) for _ in range(n)
    ]


def _image_dataset(n: int, seed: int = 0):
    import datasets

    features = datasets.Features(
        {"image": datasets.Image(), "label": datasets.ClassLabel(names=["cat", "dog", "fish"])}
    )
    return datasets.Dataset.from_dict(
        {"image": _images(n, seed=seed), "label": [i % 3 for i in range(n)]}, features=features
    )


def _assert_same_rows(expected, actual) -> None:
    assert actual.features == expected.features
    assert actual.num_rows == expected.num_rows
    for a, b in zip(expected, actual):
        assert a["label"] == b["label"]
        np.testing.assert_array_equal(np.asarray(a["image"]), np.asarray(b["image"]))


def test_fixture_points_libraries_at_the_fake_hub(fake_hub: FakeHub):
    import datasets.config
    from huggingface_hub import HfApi, constants

    assert fake_hub.url == constants.ENDPOINT
    assert constants.HF_HUB_OFFLINE is False
    assert fake_hub.url == datasets.config.HF_ENDPOINT
    assert datasets.config.HF_HUB_OFFLINE is False
    assert HfApi().whoami()["name"] == "user"


def test_dataset_push_and_load_roundtrip(fake_hub: FakeHub):
    import datasets

    ds = _image_dataset(6)
    ds.push_to_hub("user/ds")

    files = fake_hub.files("dataset", "user/ds")
    parquet = [p for p in files if p.endswith(".parquet")]
    assert parquet == ["data/train-00000-of-00001.parquet"]
    assert fake_hub.is_lfs("dataset", "user/ds", parquet[0])
    assert "README.md" in files

    loaded = datasets.load_dataset("user/ds", split="train")
    _assert_same_rows(ds, loaded)
    assert fake_hub.unhandled == []


def test_dataset_dict_two_configs_and_card(fake_hub: FakeHub):
    import datasets
    from huggingface_hub import DatasetCard, DatasetCardData, HfApi

    HfApi().create_repo("user/multi", repo_type="dataset")
    card = DatasetCard.from_template(
        DatasetCardData(license="mit", pretty_name="Fake multi-config dataset"),
        template_str="---\n{{ card_data }}\n---\n\n# Multi\n\nHand-written description.\n",
    )
    card.push_to_hub("user/multi")

    dd_a = datasets.DatasetDict(
        {"train": _image_dataset(4, seed=1), "test": _image_dataset(2, seed=2)}
    )
    dd_b = datasets.DatasetDict(
        {"train": _image_dataset(3, seed=3), "test": _image_dataset(5, seed=4)}
    )
    dd_a.push_to_hub("user/multi", config_name="alpha")
    dd_b.push_to_hub("user/multi", config_name="beta")

    for name, expected in [("alpha", dd_a), ("beta", dd_b)]:
        loaded = datasets.load_dataset("user/multi", name)
        assert set(loaded) == {"train", "test"}
        for split in ("train", "test"):
            _assert_same_rows(expected[split], loaded[split])

    loaded_card = DatasetCard.load("user/multi")
    assert "Hand-written description." in loaded_card.text
    assert loaded_card.data.license == "mit"
    assert loaded_card.data.pretty_name == "Fake multi-config dataset"
    assert {c["config_name"] for c in loaded_card.data.configs} == {"alpha", "beta"}
    assert fake_hub.unhandled == []


def test_model_card_roundtrip_and_metadata_update(fake_hub: FakeHub):
    from huggingface_hub import EvalResult, HfApi, ModelCard, ModelCardData, metadata_update

    HfApi().create_repo("user/model")
    data = ModelCardData(
        model_name="rib-resnet",
        license="apache-2.0",
        eval_results=[
            EvalResult(
                task_type="image-classification",
                dataset_type="imagenet-1k",
                dataset_name="ImageNet",
                metric_type="accuracy",
                metric_value=0.761,
            )
        ],
    )
    card = ModelCard.from_template(data, model_description="A test model.")
    card.push_to_hub("user/model")

    loaded = ModelCard.load("user/model")
    assert loaded.data.to_dict()["model-index"] == card.data.to_dict()["model-index"]
    assert loaded.data.model_name == "rib-resnet"
    assert loaded.data.eval_results[0].metric_value == pytest.approx(0.761)

    metadata_update("user/model", {"tags": ["robustness"], "license": "mit"}, overwrite=True)
    updated = ModelCard.load("user/model")
    assert updated.data.tags == ["robustness"]
    assert updated.data.license == "mit"
    assert updated.data.to_dict()["model-index"] == card.data.to_dict()["model-index"]
    assert len(fake_hub.commits("model", "user/model")) == 3  # initial + card + update
    assert fake_hub.unhandled == []


def test_upload_folder_regular_and_lfs_then_download(fake_hub: FakeHub, tmp_path):
    from huggingface_hub import HfApi, hf_hub_download
    from safetensors.numpy import save_file

    folder = tmp_path / "to_upload"
    (folder / "sub").mkdir(parents=True)
    save_file({"w": np.arange(2048, dtype=np.float32)}, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps({"num_classes": 3}))
    (folder / "sub" / "notes.txt").write_text("hello\n")
    fake_hub.lfs_threshold = 4096  # a text file above this size goes through LFS too
    (folder / "big.txt").write_text("x" * 10_000)

    api = HfApi()
    api.create_repo("user/folder")
    first_commit = fake_hub.commits("model", "user/folder")[-1]
    info = api.upload_folder(folder_path=folder, repo_id="user/folder")
    assert info.oid == fake_hub.commits("model", "user/folder")[-1]

    expected = {".gitattributes", "big.txt", "config.json", "model.safetensors", "sub/notes.txt"}
    assert set(api.list_repo_files("user/folder")) == expected
    assert fake_hub.is_lfs("model", "user/folder", "model.safetensors")
    assert fake_hub.is_lfs("model", "user/folder", "big.txt")
    assert not fake_hub.is_lfs("model", "user/folder", "config.json")
    assert fake_hub.requests_matching(r"^PUT /__fake_lfs__/upload/")

    for rel in ("model.safetensors", "config.json", "sub/notes.txt", "big.txt"):
        path = hf_hub_download("user/folder", rel)
        assert Path(path).read_bytes() == (folder / rel).read_bytes()

    api.upload_file(path_or_fileobj=b"v2", path_in_repo="sub/notes.txt", repo_id="user/folder")
    assert fake_hub.files("model", "user/folder")["sub/notes.txt"] == b"v2"
    old = hf_hub_download("user/folder", "sub/notes.txt", revision=info.oid)
    assert Path(old).read_bytes() == b"hello\n"
    assert "config.json" not in fake_hub.files("model", "user/folder", revision=first_commit)

    # The token is sent on every request and never ends up in the stored files.
    assert all(
        r.header("Authorization") == f"Bearer {TOKEN}" for r in fake_hub.requests_matching("/api/")
    )
    for content in fake_hub.files("model", "user/folder").values():
        assert TOKEN.encode() not in content
    assert fake_hub.unhandled == []


def test_write_routes_require_a_token(fake_hub: FakeHub, monkeypatch):
    from huggingface_hub import CommitOperationAdd, HfApi
    from huggingface_hub.errors import HfHubHTTPError

    fake_hub.add_files("user/public", {"README.md": "hello"})
    monkeypatch.delenv("HF_TOKEN")
    api = HfApi(token=False)

    with pytest.raises(HfHubHTTPError) as err:
        api.create_repo("user/anon")
    assert err.value.response.status_code == 401
    with pytest.raises(HfHubHTTPError) as err:
        api.create_commit(
            "user/public",
            operations=[CommitOperationAdd("a.txt", b"a")],
            commit_message="no token",
        )
    assert err.value.response.status_code == 401
    assert not fake_hub.repo_exists("model", "user/anon")
    assert set(fake_hub.files("model", "user/public")) == {".gitattributes", "README.md"}

    # Reads of public repos stay anonymous.
    assert api.list_repo_files("user/public") == [".gitattributes", "README.md"]
    assert all(r.header("Authorization") is None for r in fake_hub.requests)


def test_unknown_routes_are_logged(fake_hub: FakeHub):
    from huggingface_hub.utils import get_session

    response = get_session().get(f"{fake_hub.url}/api/does-not-exist")
    assert response.status_code == 404
    assert "error" in response.json()
    assert fake_hub.unhandled == ["GET /api/does-not-exist"]
