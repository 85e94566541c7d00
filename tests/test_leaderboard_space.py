"""The leaderboard against the fake Hub: rows read from the leaderboard dataset that `rib push`
appends to (with links to the runs' model repos), `rib leaderboard push` creating and updating
the Space, the Space's own app.py, and the CLI's errors."""

from __future__ import annotations

import os
import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from imagenet_rib.cli import main
from imagenet_rib.errors import ConfigError
from imagenet_rib.hub import append_leaderboard, push_run
from imagenet_rib.leaderboard import (
    build_leaderboard,
    display,
    load_results,
)
from imagenet_rib.leaderboard.space import (
    CONFIG_FILE,
    DATASET_ENV,
    push_space,
    space_dataset,
    space_files,
    space_folder,
)
from support.fake_hub import FakeHub
from support.report_data import make_run_dir, synthetic_results, toy_suite

ROOT = Path(__file__).resolve().parents[1]
SPACE = ROOT / "spaces" / "leaderboard"


def _front_matter(text: str) -> dict:
    match = re.match(r"^---\n(.*?)\n---\n", text, re.S)
    assert match, "README.md has no YAML front matter"
    return yaml.safe_load(match.group(1))


@pytest.fixture(scope="module")
def df():
    return synthetic_results()[0]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return make_run_dir(tmp_path_factory.mktemp("run") / "run")


def test_space_folder_is_deployable_and_pinned_like_the_lock():
    assert space_folder() == SPACE
    meta = _front_matter((SPACE / "README.md").read_text())
    assert meta["sdk"] == "gradio" and meta["app_file"] == "app.py" and meta["title"]
    assert len(meta["short_description"]) <= 60  # the Hub's limit
    pins = dict(
        line.split("==", 1)
        for line in (SPACE / "requirements.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    lock = dict(
        line.split("==", 1)
        for line in (ROOT / "requirements" / "lock.txt").read_text().splitlines()
        if "==" in line
    )
    assert pins["gradio"] == str(meta["sdk_version"]) == lock["gradio"]
    from imagenet_rib import __version__

    assert pins["imagenet-rib[leaderboard]"] == __version__


@pytest.mark.hub
def test_leaderboard_dataset_rows_link_their_model_repos(fake_hub: FakeHub, df, run_dir):
    push_run(run_dir, "user/src-a-ft-d1", df, leaderboard_repo="user/lb", suite=toy_suite())
    results = load_results(dataset="user/lb")
    assert results.correct is None and results.origin == "Hub dataset user/lb"
    (row,) = build_leaderboard(results.frame, suites=[toy_suite()], n_boot=50)
    # only the run fine-tuned on d1 was pushed: 1 of 3 fine-tuning sets
    assert (row.model, row.method, row.repos) == ("src-a", "ft", ("user/src-a-ft-d1",))
    assert display.mri_cell(row) == "incomplete (1 of 3 sets)"
    assert display.repo_cell(row) == f"[user/src-a-ft-d1]({fake_hub.url}/user/src-a-ft-d1)"
    assert f"({fake_hub.url}/user/src-a-ft-d1)" in display.detail_markdown(row)


@pytest.mark.hub
def test_push_creates_then_updates_the_space(fake_hub: FakeHub, df):
    append_leaderboard("user/lb", df)
    res = push_space("user/rib-board", "user/lb")
    files = fake_hub.files("space", "user/rib-board")
    assert {"app.py", "requirements.txt", "README.md", CONFIG_FILE} <= set(files)
    assert files["app.py"] == (SPACE / "app.py").read_bytes()
    assert files["requirements.txt"] == (SPACE / "requirements.txt").read_bytes()
    meta = _front_matter(files["README.md"].decode())
    assert meta["datasets"] == ["user/lb"] and meta["sdk"] == "gradio"
    assert yaml.safe_load(files[CONFIG_FILE]) == {"dataset": "user/lb", "revision": None}
    assert res.commit == fake_hub.commits("space", "user/rib-board")[-1]
    assert res.url == f"{fake_hub.url}/spaces/user/rib-board"
    assert len(fake_hub.commits("space", "user/rib-board")) == 2  # initial + ONE push

    # update: another dataset and a git requirement, through the CLI
    append_leaderboard("user/lb2", df)
    spec = "imagenet-rib[leaderboard] @ git+https://example.org/imagenet-rib@v0.1.0"
    args = ["leaderboard", "push", "--repo-id", "user/rib-board", "--leaderboard", "user/lb2"]
    assert main([*args, "--requirement", spec]) == 0
    files = fake_hub.files("space", "user/rib-board")
    assert _front_matter(files["README.md"].decode())["datasets"] == ["user/lb2"]
    assert spec in files["requirements.txt"].decode().splitlines()
    assert "imagenet-rib[leaderboard]==" not in files["requirements.txt"].decode()
    assert len(fake_hub.commits("space", "user/rib-board")) == 3
    assert fake_hub.unhandled == []


@pytest.mark.hub
def test_push_refuses_a_dataset_that_is_not_a_leaderboard(fake_hub: FakeHub, capsys):
    args = ["leaderboard", "push", "--repo-id", "user/board", "--leaderboard", "user/missing"]
    assert main(args) == 2
    assert "leaderboard dataset user/missing does not exist" in capsys.readouterr().err
    fake_hub.add_files("user/empty", {"notes.txt": "hello"}, "dataset")
    with pytest.raises(ConfigError, match="holds no data/results.parquet"):
        push_space("user/board", "user/empty")
    with pytest.raises(ConfigError, match="must look like ORG/NAME"):
        space_files("not a repo id")
    assert not fake_hub.repo_exists("space", "user/board")  # nothing created on failure


def test_space_reads_its_dataset_from_the_variable_or_its_config(tmp_path, monkeypatch):
    monkeypatch.delenv(DATASET_ENV, raising=False)
    with pytest.raises(ConfigError, match=DATASET_ENV):
        space_dataset(tmp_path)
    (tmp_path / CONFIG_FILE).write_bytes(space_files("org/lb", revision="abc")[CONFIG_FILE])
    assert space_dataset(tmp_path) == ("org/lb", "abc")
    monkeypatch.setenv(DATASET_ENV, "org/other")
    assert space_dataset(tmp_path) == ("org/other", None)


@pytest.mark.hub
def test_the_space_app_builds_its_demo(fake_hub: FakeHub, df, tmp_path):
    gr = pytest.importorskip(
        "gradio", reason="gradio is an optional extra: imagenet-rib[leaderboard]"
    )
    append_leaderboard("user/lb", df)
    for name, data in space_files("user/lb", folder=SPACE).items():
        (tmp_path / name).write_bytes(data)
    namespace = runpy.run_path(str(tmp_path / "app.py"), run_name="space_app")  # no launch
    assert isinstance(namespace["demo"], gr.Blocks)
    config = namespace["demo"].get_config_file()
    texts = [str(c.get("props", {}).get("value")) for c in config["components"]]
    assert any("6 rows from Hub dataset user/lb" in t for t in texts)
    # the Space knows only the built-in suites: the toy suite's rows say so instead of scoring
    assert any("unknown suite (see details)" in t for t in texts)


def test_cli_help_and_missing_gradio(capsys, monkeypatch, tmp_path):
    with pytest.raises(SystemExit):
        main(["leaderboard", "--help"])
    assert "serve" in capsys.readouterr().out
    monkeypatch.setitem(sys.modules, "gradio", None)  # as if gradio were not installed
    store = tmp_path / "results.sqlite"
    store.write_bytes(b"")
    assert main(["leaderboard", "serve", "--store", str(store)]) == 2
    err = capsys.readouterr().err
    assert "rib leaderboard: error:" in err and "pip install 'imagenet-rib[leaderboard]'" in err


def test_core_imports_stay_free_of_gradio():
    code = (
        "import sys, imagenet_rib, imagenet_rib.leaderboard, imagenet_rib.leaderboard.app, "
        "imagenet_rib.leaderboard.space, imagenet_rib.cli as c; c.build_parser(); "
        "print(sorted(m for m in ('gradio', 'torch', 'matplotlib') if m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
