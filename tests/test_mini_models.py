"""The shipped Mini-RIB models: checksums, recorded accuracies, no training on load, wheels."""

from __future__ import annotations

import json
import shutil

import pytest

from imagenet_rib.data.mini import MINI_VERSION
from imagenet_rib.errors import ModelNotAvailableError
from imagenet_rib.mini_pretraining import train_mini_model, validation_accuracy
from imagenet_rib.models import load_model
from imagenet_rib.models.mini import (
    CHECKSUMS,
    SHIPPED_FILES,
    SOURCES,
    file_checksums,
    load_mini_model,
    verify_shipped,
    weights_root,
)

NAMES = sorted(SOURCES)


@pytest.mark.parametrize("name", NAMES)
def test_shipped_files_match_their_checksums_and_stay_small(name):
    folder = verify_shipped(name)
    recorded = json.loads((weights_root() / CHECKSUMS).read_text())[name]
    assert recorded == file_checksums(folder)
    assert set(recorded) == set(SHIPPED_FILES)
    for f in SHIPPED_FILES:
        assert (folder / f).stat().st_size < 1_000_000, f


@pytest.mark.parametrize("name", NAMES)
def test_shipped_model_scores_its_recorded_mini_val_accuracy(name):
    """Computed fresh on today's suite: the weights and the suite belong together."""
    loaded = load_model(name)
    info = loaded.info["pretraining"]
    assert info["name"] == name and info["pretrain_set"] == SOURCES[name].pretrain_set
    assert info["suite_version"] == MINI_VERSION  # retrain after a suite change
    assert info["provenance"]["torch_threads"] == 1
    assert info["mini_val_accuracy"] > 80
    acc = validation_accuracy(loaded.model, loaded.transform)
    assert acc == info["mini_val_accuracy"]


def test_loading_never_trains_and_names_the_weights_revision(monkeypatch):
    import hashlib

    from imagenet_rib import mini_pretraining

    def fail(*_a, **_k):
        raise AssertionError("load_model must not train")

    monkeypatch.setattr(mini_pretraining, "train_mini_model", fail)
    loaded = load_model("mini-vit-clean")
    weights = (weights_root() / "mini-vit-clean" / "model.safetensors").read_bytes()
    assert loaded.revision == "sha256:" + hashlib.sha256(weights).hexdigest()[:16]
    assert loaded.label_space == "mini-digits" and loaded.transform.crop == 32


@pytest.mark.parametrize("damage", ["modified", "missing", "no-checksum"])
def test_damaged_weights_fail_with_the_fix(tmp_path, damage):
    root = tmp_path / "weights"
    shutil.copytree(weights_root(), root)
    target = root / "mini-vit-rich" / "model.safetensors"
    if damage == "modified":
        data = bytearray(target.read_bytes())
        data[-1] ^= 1
        target.write_bytes(bytes(data))
        match = "not the recorded"
    elif damage == "missing":
        target.unlink()
        match = "is missing"
    else:
        sums = json.loads((root / CHECKSUMS).read_text())
        del sums["mini-vit-rich"]
        (root / CHECKSUMS).write_text(json.dumps(sums))
        match = "no checksums"
    with pytest.raises(ModelNotAvailableError, match=match) as err:
        load_mini_model("mini-vit-rich", root=root)
    assert "train_mini_models.py --only mini-vit-rich" in str(err.value)
    load_mini_model("mini-vit-clean", root=root)  # the intact model still loads


@pytest.mark.slow
def test_pretraining_is_identical_under_1_and_2_torch_threads(tmp_path):
    """The reproduction path pins one thread, so the caller's thread count cannot matter."""
    import torch

    before = torch.get_num_threads()
    digests = []
    for threads in (2, 1):
        torch.set_num_threads(threads)
        out = tmp_path / f"t{threads}"
        info = train_mini_model("mini-vit-clean", out, max_steps=4)
        assert torch.get_num_threads() == threads  # restored afterwards
        assert info["steps"] == 4 and info["provenance"]["torch_threads"] == 1
        digests.append(file_checksums(out)["model.safetensors"])
    torch.set_num_threads(before)
    assert digests[0] == digests[1]


@pytest.mark.slow
def test_a_wheel_carries_the_shipped_models(tmp_path):
    import subprocess
    import sys
    import zipfile
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    src = tmp_path / "src-copy"  # build from a copy: setuptools writes build/ into the tree
    src.mkdir()
    for f in ("pyproject.toml", "README.md"):
        shutil.copy(repo / f, src / f)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for d in ("src", "hub_cards", "spaces"):
        shutil.copytree(repo / d, src / d, ignore=ignore)
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
        + ["--wheel-dir", str(tmp_path), str(src)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = tmp_path.glob("imagenet_rib-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert f"imagenet_rib/models/weights/{CHECKSUMS}" in names
    for name in NAMES:
        for f in SHIPPED_FILES:
            assert f"imagenet_rib/models/weights/{name}/{f}" in names, (name, f)
