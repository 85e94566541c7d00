"""Where datasets are read from: ``--data NAME=FOLDER`` > the suite YAML's sources > the
environment, on every command that loads datasets; an accurate hint when none is given."""

from __future__ import annotations

import json
import shutil

import pytest

from imagenet_rib.cli import main
from imagenet_rib.cli._args import data_sources
from imagenet_rib.data.loading import load_split
from imagenet_rib.errors import ConfigError, DatasetError
from support.rib_tiny import make_suite


def test_data_option_parsing(tmp_path):
    (tmp_path / "r").mkdir()
    got = data_sources([f"imagenet-r={tmp_path / 'r'}", "imagenet-a=org/imagenet-a"])
    assert got == {"imagenet-r": str(tmp_path / "r"), "imagenet-a": "org/imagenet-a"}
    for bad in ("imagenet-r", "=x", "imagenet-r="):
        with pytest.raises(ConfigError, match="NAME=FOLDER"):
            data_sources([bad])
    with pytest.raises(ConfigError, match="two sources"):
        data_sources(["a=x", "a=y"])


def test_an_unconfigured_dataset_names_every_way_to_give_its_source():
    with pytest.raises(DatasetError) as err:
        load_split("imagenet-sketch", "test")
    msg = str(err.value)
    for hint in (
        "rib datasets build",
        "--data imagenet-sketch=",
        "sources:",
        "IMAGENET_RIB_DATA_IMAGENET_SKETCH",
        "IMAGENET_RIB_DATA_DIR",
    ):
        assert hint in msg


def _evaluate(tmp_path, suite, *extra) -> dict:
    out = tmp_path / "out.json"
    argv = [
        "evaluate",
        "--model",
        str(suite.parent / "tiny-model"),
        "--suite",
        str(suite),
        "--datasets",
        "tiny-a",
        "--split-rule",
        "none",
        "--num-workers",
        "0",
        "--json",
        str(out),
        *extra,
    ]
    assert main(argv) == 0
    return json.loads(out.read_text())


def test_data_overrides_the_suite_yaml_which_overrides_the_environment(tmp_path, monkeypatch):
    suite = make_suite(tmp_path / "tiny")
    # a second copy of tiny-a with fewer rows: where the rows came from shows in the count
    import datasets

    small = tmp_path / "small-a"
    datasets.load_from_disk(str(tmp_path / "tiny" / "tiny-a")).select(range(7)).save_to_disk(
        str(small)
    )
    monkeypatch.setenv("IMAGENET_RIB_DATA_TINY_A", str(small))
    (model,) = _evaluate(tmp_path, suite)
    assert _evaluate(tmp_path, suite)[model]["tiny-a"]["num_images"] == 30  # the YAML's
    got = _evaluate(tmp_path, suite, "--data", f"tiny-a={small}")
    assert got[model]["tiny-a"]["num_images"] == 7  # --data wins


def test_a_missing_yaml_source_is_fixed_by_data(tmp_path, capsys):
    suite = make_suite(tmp_path / "tiny")
    moved = tmp_path / "moved-a"
    shutil.move(str(tmp_path / "tiny" / "tiny-a"), moved)
    try:
        assert (
            main(
                [
                    "evaluate",
                    "--model",
                    str(suite.parent / "tiny-model"),
                    "--suite",
                    str(suite),
                    "--datasets",
                    "tiny-a",
                    "--split-rule",
                    "none",
                ]
            )
            == 2
        )
        got = _evaluate(tmp_path, suite, "--data", f"tiny-a={moved}")
        (model,) = got
        assert got[model]["tiny-a"]["num_images"] == 30
    finally:
        shutil.move(str(moved), tmp_path / "tiny" / "tiny-a")


@pytest.mark.parametrize("command", ["evaluate", "finetune", "run", "otdd"])
def test_every_dataset_command_takes_data(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    assert "--data NAME=FOLDER" in capsys.readouterr().out
