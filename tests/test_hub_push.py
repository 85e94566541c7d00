"""`rib push` against the fake Hub: exactly the run's published files are uploaded, with no
local path in any of them; the card and .eval_results round-trip; a benchmark repo must exist;
the leaderboard dataset only ever grows (duplicates replaced by key, concurrent writers
retried); and no token is ever written anywhere."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pandas as pd
import pytest
import yaml

from imagenet_rib.errors import RIBError
from imagenet_rib.hub import append_leaderboard, publish_benchmark_eval_yaml, push_run
from imagenet_rib.hub.push import LEADERBOARD_FILE
from imagenet_rib.records import ResultRecord
from support.fake_hub import FakeHub
from support.report_data import (
    make_run_dir,
    run_config,
    synthetic_records,
    synthetic_results,
    toy_suite,
    write_suite_yaml,
)

pytestmark = pytest.mark.hub

TOKEN = "hf_dummy_token_for_tests"  # set by the fake_hub fixture
KEY = ["run_id", "variant", "eval_dataset", "eval_part"]


EXPECTED_FILES = {
    "model.safetensors",
    "rib_model.json",
    "train_summary.json",
    "config.json",
    "preprocessor_config.json",
    "rib_config.json",
    "rib_run.json",
    "train_log.jsonl",
    "README.md",
}


@pytest.fixture(scope="module")
def df():
    return synthetic_results()[0]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    # rib_config.json as a real run writes it: absolute local paths of the data and model
    cfg = run_config(source=str(root / "data" / "d1"), output_dir=str(root / "run"))
    return make_run_dir(root / "run", cfg)


def _push(run_dir, repo, df, **kw):
    kw.setdefault("suite", toy_suite())
    return push_run(run_dir, repo, df, **kw)


def _leaderboard(repo: str) -> pd.DataFrame:
    import datasets

    ds = datasets.load_dataset(repo, split="train", download_mode="force_redownload")
    return ds.to_pandas()


def _keys(frame: pd.DataFrame) -> set[tuple]:
    return set(map(tuple, frame[KEY].to_numpy().tolist()))


def test_push_uploads_exactly_the_run_files_without_local_paths(fake_hub: FakeHub, df, run_dir):
    from huggingface_hub import ModelCard

    res = _push(run_dir, "user/src-a-ft-d1", df, leaderboard_repo="user/rib-leaderboard")
    files = fake_hub.files("model", "user/src-a-ft-d1")
    assert set(files) - {".gitattributes"} == EXPECTED_FILES  # no checkpoint, stray or hidden file
    assert set(res.files) == EXPECTED_FILES
    assert fake_hub.is_lfs("model", "user/src-a-ft-d1", "model.safetensors")
    assert len(fake_hub.commits("model", "user/src-a-ft-d1")) == 2  # initial + ONE upload
    assert res.commit == fake_hub.commits("model", "user/src-a-ft-d1")[-1]
    local = str(run_dir.parent)
    for path, blob in files.items():
        if path.endswith((".json", ".jsonl", ".md", ".yaml")):
            text = blob.decode()
            assert local not in text and "/tmp/" not in text, path
            assert str(Path.home()) + "/" not in text, path
    uploaded = json.loads(files["rib_config.json"])
    assert uploaded["source"] == "<local>/d1" and uploaded["method"] == "ft"
    assert files["model.safetensors"] == (run_dir / "model.safetensors").read_bytes()
    assert files["train_log.jsonl"] == (run_dir / "train_log.jsonl").read_bytes()  # unchanged

    loaded = ModelCard.load("user/src-a-ft-d1")
    assert loaded.data.to_dict()["model-index"] == res.card.card.data.to_dict()["model-index"]
    assert not any(p.startswith(".eval_results/") for p in files)  # no benchmark named

    rows = _leaderboard("user/rib-leaderboard")
    assert list(rows.columns) == [*ResultRecord.columns(), "model_repo"]
    repos = dict(zip(rows["run_id"], rows["model_repo"]))
    assert repos[res.card.rows.run_id] == "user/src-a-ft-d1"
    assert {repos[r.run_id] for r in res.card.rows.baseline} == {""}
    expected = {
        (r.run_id, r.variant, r.eval_dataset, r.eval_part)
        for r in [*res.card.rows.run, *res.card.rows.baseline]
    }
    assert _keys(rows) == expected
    assert set(rows["run_id"]) == {res.card.rows.run_id, res.card.rows.baseline[0].run_id}
    assert res.leaderboard.rows_before == 0 and res.leaderboard.rows_after == len(expected)
    assert fake_hub.unhandled == []


def test_unfinished_folder_and_missing_benchmark_are_refused(fake_hub: FakeHub, df, tmp_path):
    bare = make_run_dir(tmp_path / "bare", weights=False)
    with pytest.raises(RIBError, match="not a finished run folder"):
        _push(bare, "user/nothing", df)
    full = make_run_dir(tmp_path / "full")
    with pytest.raises(RIBError, match="does not exist"):
        _push(full, "user/nothing", df, benchmark="user/no-such-bench")
    assert not fake_hub.requests_matching(r"^POST /api/models/user/nothing/commit/")  # no upload


def test_push_against_a_published_benchmark(fake_hub: FakeHub, df, run_dir):
    from huggingface_hub import parse_eval_result_entries

    publish_benchmark_eval_yaml("rib-ns/toy-suite", toy_suite())
    res = _push(run_dir, "user/with-bench", df, benchmark="rib-ns/toy-suite")
    files = fake_hub.files("model", "user/with-bench")
    for path, text in res.card.eval_results.items():
        assert files[path].decode() == text
        (entry,) = parse_eval_result_entries(yaml.safe_load(files[path]))
        assert entry.dataset_id == "rib-ns/toy-suite"
    assert {".eval_results/ri-d1.yaml", ".eval_results/in-task-gain-d1.yaml"} <= set(files)


def test_leaderboard_appends_without_losing_or_duplicating(
    fake_hub: FakeHub, df, run_dir, tmp_path
):
    repo = "user/lb"
    first = _push(run_dir, "user/m1", df, leaderboard_repo=repo)
    other = make_run_dir(tmp_path / "run-b", run_config(model="src-b", method="lwf", seed=1))
    second = _push(other, "user/m2", df, leaderboard_repo=repo)
    rows = _leaderboard(repo)
    union = {
        (r.run_id, r.variant, r.eval_dataset, r.eval_part)
        for p in (first, second)
        for r in [*p.card.rows.run, *p.card.rows.baseline]
    }
    assert _keys(rows) == union and len(rows) == len(union)
    assert second.leaderboard.rows_before == first.leaderboard.rows_after

    # re-pushing a run with a re-measured accuracy replaces its rows, keeps everyone else's
    changed = df.copy()
    mask = changed["run_id"] == first.card.rows.run_id
    changed.loc[mask, "accuracy"] += 0.25
    third = _push(run_dir, "user/m1", changed, leaderboard_repo=repo)
    rows = _leaderboard(repo)
    assert len(rows) == len(union) and third.leaderboard.rows_added == 0
    got = rows.set_index(KEY)["accuracy"]
    for r in changed[mask].itertuples():
        assert got[(r.run_id, r.variant, r.eval_dataset, r.eval_part)] == pytest.approx(r.accuracy)


def test_concurrent_writer_is_retried_not_overwritten(fake_hub: FakeHub, df, monkeypatch):
    from huggingface_hub import HfApi

    repo = "user/lb-race"
    recs = synthetic_records()
    theirs = pd.DataFrame([r.to_dict() for r in recs[:5]], columns=ResultRecord.columns())
    mine = df.iloc[20:30]
    real_commit = HfApi.create_commit
    calls = {"n": 0}

    def racing_commit(self, repo_id, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:  # another process appends between our read and our commit
            buf = io.BytesIO()
            theirs.to_parquet(buf, index=False)
            fake_hub.add_files(repo_id, {LEADERBOARD_FILE: buf.getvalue()}, "dataset")
        return real_commit(self, repo_id, *args, **kwargs)

    monkeypatch.setattr(HfApi, "create_commit", racing_commit)
    res = append_leaderboard(repo, mine)
    assert calls["n"] == 2  # the stale commit was refused (412) and redone on the new head
    assert res.rows_before == len(theirs)
    rows = _leaderboard(repo)
    assert _keys(rows) == _keys(theirs) | _keys(mine)


def test_foreign_leaderboard_is_refused_untouched(fake_hub: FakeHub, df):
    buf = io.BytesIO()
    pd.DataFrame({"model": ["x"], "score": [1.0]}).to_parquet(buf, index=False)
    fake_hub.add_files("user/other", {LEADERBOARD_FILE: buf.getvalue()}, "dataset")
    before = fake_hub.commits("dataset", "user/other")
    with pytest.raises(RIBError, match="not an ImageNet-RIB leaderboard"):
        append_leaderboard("user/other", df.iloc[:3])
    assert fake_hub.commits("dataset", "user/other") == before


def test_publish_benchmark_eval_yaml(fake_hub: FakeHub):
    publish_benchmark_eval_yaml("rib-ns/toy-suite", toy_suite(), name="ImageNet-RIB (toy)")
    doc = yaml.safe_load(fake_hub.files("dataset", "rib-ns/toy-suite")["eval.yaml"])
    assert doc["name"] == "ImageNet-RIB (toy)"
    assert {t["id"] for t in doc["tasks"]} >= {"ri-d1", "degradation-d2", "in-task-gain-d3"}
    publish_benchmark_eval_yaml("user/mini-bench", "mini-rib")  # a built-in suite by name
    mini = yaml.safe_load(fake_hub.files("dataset", "user/mini-bench")["eval.yaml"])
    assert "ri-mini-v2" in {t["id"] for t in mini["tasks"]}


def test_no_token_anywhere(fake_hub: FakeHub, df, run_dir, tmp_path, caplog, capsys):
    from imagenet_rib.cli import main
    from imagenet_rib.results import ResultStore

    caplog.set_level(logging.DEBUG)
    store = ResultStore(tmp_path / "results.sqlite")
    store.add(synthetic_records())
    suite = str(write_suite_yaml(tmp_path / "toy.yaml"))
    common = ["--store", str(store.path), "--suite", suite, "--benchmark", "user/toy-bench"]
    push = ["-vv", "push", str(run_dir), *common, "--repo-id", "user/cli"]
    assert main([*push, "--leaderboard", "user/cli-lb"]) == 2  # the benchmark does not exist
    assert "--publish-eval-yaml" in capsys.readouterr().err
    assert main([*push, "--leaderboard", "user/cli-lb", "--publish-eval-yaml"]) == 0
    card = ["card", str(run_dir), *common, "--out", str(tmp_path / "card" / "README.md")]
    assert main(card) == 0
    out = capsys.readouterr()
    assert "user/cli" in out.out
    texts = [caplog.text, out.out, out.err]
    blobs = [p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()]
    for rtype, repo in [
        ("model", "user/cli"),
        ("dataset", "user/cli-lb"),
        ("dataset", "user/toy-bench"),
    ]:
        files = fake_hub.files(rtype, repo)
        assert files, repo
        blobs += list(files.values())
    assert any(b.startswith(b"PAR1") for b in blobs)  # the leaderboard parquet was scanned
    assert all(TOKEN not in t for t in texts)
    assert all(TOKEN.encode() not in b for b in blobs)
    # and the token did authenticate the writes
    assert all(
        r.header("Authorization") == f"Bearer {TOKEN}"
        for r in fake_hub.requests_matching(r"^POST /api/.*/commit/")
    )
    assert Path(run_dir, "README.md").exists() is False  # push never writes into the run folder
