"""What a push publishes, decided without any Hub: which files of a run folder go up and with
which bytes, which result rows go to the leaderboard, which metadata the card cites (Hub ids,
licences, ``.eval_results`` entries, the benchmark's tasks), and which runs are refused.

The pushes themselves (one commit, retries, auth) are tested against the fake Hub in
`test_hub_push.py`; here every function is called directly, with exact expected values from
the closed-form records of `support.report_data`."""

from __future__ import annotations

import json
import math
import re

import pandas as pd
import pytest
import yaml

from imagenet_rib.errors import ConfigError
from imagenet_rib.hub import (
    append_leaderboard,
    base_model_info,
    benchmark_eval_yaml,
    build_model_card,
    dataset_hub_ids,
    eval_result_entries,
    eval_results_files,
    merge_rows,
    redact,
    run_files,
    select_run,
)
from imagenet_rib.hub.push import (
    KEY,
    REPO_COLUMN,
    leaderboard_rows,
    public_bytes,
    public_rows,
    run_operations,
)
from imagenet_rib.models.checkpoint import hf_checkpoint_files
from imagenet_rib.records import ResultRecord, run_id
from imagenet_rib.scoring import as_records
from imagenet_rib.suites import SuiteConfig
from support.report_data import (
    DEG,
    GAIN,
    SUITE,
    expected_ri,
    make_run_dir,
    run_config,
    run_id_of,
    synthetic_records,
    synthetic_results,
    toy_suite,
    with_changes,
)

PUBLISHED = [  # a finished run folder's uploads, in upload order (`push.REQUIRED_FILES` first)
    "model.safetensors",
    "rib_model.json",
    "train_summary.json",
    "config.json",
    "preprocessor_config.json",
    "rib_config.json",
    "rib_run.json",
    "train_log.jsonl",
]
NOTES = "model=src-a; method=ft; finetune_dataset=d1; split=holdout(seed=0, test_fraction=0.2)"


@pytest.fixture(scope="module")
def results():
    return synthetic_results()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A finished ft run folder whose rib_config.json holds absolute local paths and a token."""
    root = tmp_path_factory.mktemp("push-plan")
    cfg = run_config(source=str(root / "data" / "d1"), output_dir=str(root / "run"), hub_token="x")
    return make_run_dir(root / "run", cfg)


# ------------------------------------------------------------------------ files and bytes


def test_run_files_are_exactly_the_published_ones_in_order(tmp_path):
    folder = make_run_dir(tmp_path / "run")
    # make_run_dir also leaves a checkpoint, a hidden file, notes and a tracker folder
    assert [p.name for p in run_files(folder)] == PUBLISHED
    assert all(p.parent == folder for p in run_files(folder))
    (folder / "visual_prompt.safetensors").write_bytes(b"prompt")
    names = [p.name for p in run_files(folder)]
    assert names == [*PUBLISHED[:5], "visual_prompt.safetensors", *PUBLISHED[5:]]
    (folder / "train_summary.json").unlink()
    (folder / "model.safetensors").unlink()
    with pytest.raises(ConfigError, match=r"lacks \['model.safetensors', 'train_summary.json'\]"):
        run_files(folder)


def test_public_bytes_rewrites_only_json_that_redaction_changes(tmp_path):
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"/home/me/not-json")
    assert public_bytes(weights) == str(weights)  # binary: the file itself
    clean = tmp_path / "train_summary.json"
    clean.write_text('{"global_steps": 3}')
    assert public_bytes(clean) == str(clean)  # nothing to redact: uploaded byte for byte
    dirty = tmp_path / "rib_config.json"
    dirty.write_text(json.dumps({"source": "/data/me/d1", "hub_token": "hf_x", "seed": 0}))
    assert public_bytes(dirty) == b'{\n  "seed": 0,\n  "source": "<local>/d1"\n}\n'
    log = tmp_path / "train_log.jsonl"
    log.write_text('{"step": 1}\n\n{"step": 2, "dir": "/tmp/run/ckpt"}\n')
    assert public_bytes(log) == b'{"step": 1}\n{"step": 2, "dir": "<local>/ckpt"}\n'
    log.write_text('{"step": 1}\n{"step": 2}\n')
    assert public_bytes(log) == str(log)


def test_redact_drops_credential_keys_and_names_local_paths_only():
    value = {
        "Hub_Token": "hf_x",
        "nested": [{"password": 1, "API_KEY": 2, "client_secret": 3, "kept": "/home/me/a.txt"}],
        "pair": ("~/models/vit", 3),
        "windows": "C:\\Users\\me\\data\\d1",
        "url": "https://huggingface.co/org/name",
        "relative": "data/d1 and ./out/x",
        "sentence": "saved to /scratch/me/run-1/ on node 3",
        "hub_id": "org/name",
        "number": 1.5,
        "none": None,
    }
    assert redact(value) == {
        "nested": [{"kept": "<local>/a.txt"}],
        "pair": ["<local>/vit", 3],
        "windows": "<local>/d1",
        "url": "https://huggingface.co/org/name",
        "relative": "data/d1 and ./out/x",
        "sentence": "saved to <local>/run-1 on node 3",
        "hub_id": "org/name",
        "number": 1.5,
        "none": None,
    }


def test_run_operations_are_the_files_the_card_and_its_eval_results(results, run_dir):
    df, correct = results
    card = build_model_card(
        df, run_dir, correct=correct, n_boot=50, suite=toy_suite(), benchmark="rib-ns/toy"
    )
    ops = run_operations(run_dir, run_files(run_dir), card)
    standard = hf_checkpoint_files(run_dir)
    assert sorted(standard) == ["config.json", "preprocessor_config.json"]
    evals = [".eval_results/ri-d1.yaml", ".eval_results/degradation-d1.yaml"]
    evals.append(".eval_results/in-task-gain-d1.yaml")
    paths = [op.path_in_repo for op in ops]
    # the standard checkpoint files replace the folder's own, after the other files
    assert paths == [
        *[f for f in PUBLISHED if f not in standard],
        *standard,
        "README.md",
        *evals,
    ]
    blobs = {op.path_in_repo: op.path_or_fileobj for op in ops}
    for name in ("model.safetensors", "rib_model.json", "train_summary.json", "rib_run.json"):
        assert blobs[name] == str(run_dir / name)  # uploaded from the folder, unchanged
    assert blobs["train_log.jsonl"] == str(run_dir / "train_log.jsonl")
    uploaded = json.loads(blobs["rib_config.json"])
    assert "hub_token" not in uploaded
    assert (uploaded["source"], uploaded["output_dir"]) == ("<local>/d1", "<local>/run")
    assert {k: blobs[k] for k in standard} == {k: v.encode() for k, v in standard.items()}
    assert blobs["README.md"] == str(card.card).encode()
    assert {k: blobs[k] for k in evals} == {k: v.encode() for k, v in card.eval_results.items()}


def test_a_folder_that_is_no_standard_checkpoint_uploads_its_files_as_they_are(results, tmp_path):
    folder = make_run_dir(tmp_path / "prompted")
    meta = json.loads((folder / "rib_model.json").read_text())
    meta["wrapper"] = {"type": "visual-prompt"}
    (folder / "rib_model.json").write_text(json.dumps(meta))
    df, _ = results
    card = build_model_card(df, folder, suite=toy_suite())
    ops = run_operations(folder, run_files(folder), card)
    assert [op.path_in_repo for op in ops] == [*PUBLISHED, "README.md"]  # no benchmark named
    blobs = {op.path_in_repo: op.path_or_fileobj for op in ops}
    assert blobs["config.json"] == str(folder / "config.json")


# ------------------------------------------------------------------------ leaderboard rows


def test_leaderboard_rows_are_the_run_then_its_baseline(results, run_dir):
    df, _ = results
    card = build_model_card(df, run_dir, suite=toy_suite())
    rows = leaderboard_rows(card, "user/src-a-ft-d1")
    assert list(rows.columns) == [*ResultRecord.columns(), REPO_COLUMN]
    ft, pre = run_id_of("src-a", "ft", "d1"), run_id(model="src-a", method="pretrained")
    eval_sets = [*SUITE, "ref-val"]
    assert list(zip(rows["run_id"], rows["eval_dataset"], rows[REPO_COLUMN])) == [
        *[(ft, j, "user/src-a-ft-d1") for j in eval_sets],
        *[(pre, j, "") for j in eval_sets],
    ]
    acc = dict(zip(zip(rows["run_id"], rows["eval_dataset"]), rows["accuracy"]))
    assert acc[(ft, "d1")] == 60.0 + GAIN["ft"] and acc[(ft, "ref-val")] == 80.0 + DEG["ft"]
    assert acc[(pre, "d3")] == 40.0


def test_public_rows_redact_the_text_columns_only():
    rec = synthetic_records()[0]
    frame = pd.DataFrame([rec.to_dict()], columns=ResultRecord.columns())
    frame["model"] = "/home/me/checkpoints/vit-b16"
    frame["method_config"] = json.dumps({"method": "soup", "sources": ["/runs/a", "/runs/b"]})
    frame["per_group"] = json.dumps({"/data/x/group-1": 50.0})
    out = public_rows(frame)
    assert out.loc[0, "model"] == "<local>/vit-b16"
    assert json.loads(out.loc[0, "method_config"]) == {
        "method": "soup",
        "sources": ["<local>/a", "<local>/b"],
    }
    assert json.loads(out.loc[0, "per_group"]) == {"<local>/group-1": 50.0}
    same = [c for c in frame.columns if c not in ("model", "method_config", "per_group")]
    assert out[same].equals(frame[same])
    assert frame.loc[0, "model"] == "/home/me/checkpoints/vit-b16"  # the input is not changed


def _frame(recs, repo=None):
    frame = pd.DataFrame([r.to_dict() for r in recs], columns=ResultRecord.columns())
    if repo is not None:
        frame[REPO_COLUMN] = repo
    return frame


def test_merge_rows_keeps_every_key_once_and_the_new_row_wins():
    recs = synthetic_records()
    old = _frame(recs[:6])  # written before the model_repo column existed
    new = _frame(recs[4:10], repo="user/m")
    new.loc[0, "accuracy"] = 99.0  # a re-measured row: key of recs[4]
    merged = merge_rows(old, new)
    assert list(merged.columns) == [*ResultRecord.columns(), REPO_COLUMN]
    keys = [tuple(k) for k in merged[KEY].to_numpy().tolist()]
    assert keys == sorted({(r.run_id, r.variant, r.eval_dataset, r.eval_part) for r in recs[:10]})
    by_key = merged.set_index(KEY)
    assert by_key.loc[_key(recs[4]), "accuracy"] == 99.0
    assert by_key.loc[_key(recs[4]), REPO_COLUMN] == "user/m"
    assert by_key.loc[_key(recs[0]), REPO_COLUMN] == ""  # old row: no repo known
    assert by_key.loc[_key(recs[0]), "accuracy"] == recs[0].accuracy
    assert merge_rows(None, new).equals(merge_rows(new.iloc[:0], new))
    empty = merge_rows(None, new.iloc[:0])
    assert len(empty) == 0 and list(empty.columns) == list(merged.columns)


def _key(rec: ResultRecord) -> tuple[str, str, str, str]:
    return (rec.run_id, rec.variant, rec.eval_dataset, rec.eval_part)


def test_rows_without_the_result_columns_are_refused_before_any_request(monkeypatch):
    import huggingface_hub

    def no_hub(*args, **kwargs):
        raise AssertionError("append_leaderboard talked to the Hub")

    monkeypatch.setattr(huggingface_hub, "HfApi", no_hub)
    rows = _frame(synthetic_records()[:2]).drop(columns=["accuracy", "seed"])
    with pytest.raises(ConfigError, match=r"lack column\(s\) \['accuracy', 'seed'\]"):
        append_leaderboard("user/lb", rows)


# ------------------------------------------------------------------------ card metadata


def test_select_run_picks_one_variant_and_its_own_baseline(tmp_path):
    recs = as_records(synthetic_results(endpoints=True)[0])
    folder = make_run_dir(tmp_path / "wise", run_config(method="wise-ft"), weights=False)
    variants = ["alpha=0.0", "alpha=0.5", "alpha=1.0"]
    with pytest.raises(
        ConfigError, match=re.escape(f"has variants {variants}; pick one with --variant")
    ):
        select_run(recs, folder)
    with pytest.raises(ConfigError, match=r"has no variant 'alpha=0.7'"):
        select_run(recs, folder, variant="alpha=0.7")
    rows = select_run(recs, folder, variant="alpha=1.0")
    assert (rows.run_id, rows.variant) == (run_id_of("src-a", "wise-ft", "d1"), "alpha=1.0")
    assert sorted(r.eval_dataset for r in rows.run) == ["d1", "d2", "d3", "ref-val"]
    assert {r.variant for r in rows.run} == {"alpha=1.0"}
    # the baseline: src-a's pretrained rows of the same revision and suite, never src-b's
    pre = run_id(model="src-a", method="pretrained")
    assert sorted((r.run_id, r.eval_dataset) for r in rows.baseline) == [
        (pre, j) for j in ("d1", "d2", "d3", "ref-val")
    ]
    other_revision = [
        r if r.run_id != pre else with_changes(r, model_revision="rev1") for r in recs
    ]
    with pytest.raises(ConfigError, match=r"no pretrained baseline of 'src-a' \(revision 'rev0'"):
        select_run(other_revision, folder, variant="alpha=1.0")


def test_eval_result_entries_carry_exactly_the_finite_scores(results, tmp_path):
    df, _ = results
    folder = make_run_dir(tmp_path / "d1", weights=False)
    card = build_model_card(df, folder, suite=toy_suite())  # no correctness: no intervals
    entries = eval_result_entries(card.rows, card.scores, "rib-ns/toy", "abc123")
    run = run_id_of("src-a", "ft", "d1")
    assert [(e.task_id, e.value) for e in entries] == [
        ("ri-d1", expected_ri("src-a", "ft", "d1")),
        ("degradation-d1", DEG["ft"]),
        ("in-task-gain-d1", GAIN["ft"]),
    ]
    for e in entries:
        assert (e.dataset_id, e.dataset_revision) == ("rib-ns/toy", "abc123")
        assert e.date == "2026-01-01T00:00:00+00:00" and e.source_name == "imagenet-rib"
        assert e.notes == f"{NOTES}; seed=0; run={run}"
    files = eval_results_files(entries)
    assert list(files) == [f".eval_results/{e.task_id}.yaml" for e in entries]
    from huggingface_hub import parse_eval_result_entries

    assert [parse_eval_result_entries(yaml.safe_load(t))[0] for t in files.values()] == entries
    # src-a / ft on d2 lacks the cell d2 -> d3: no RI entry (never a partial mean)
    d2 = make_run_dir(tmp_path / "d2", run_config(dataset="d2"), weights=False)
    card = build_model_card(df, d2, suite=toy_suite())
    assert math.isnan(card.scores.scores.ri["d2"])
    entries = eval_result_entries(card.rows, card.scores, "rib-ns/toy")
    assert [(e.task_id, e.value, e.dataset_revision) for e in entries] == [
        ("degradation-d2", DEG["ft"], None),
        ("in-task-gain-d2", GAIN["ft"], None),
    ]


def test_eval_result_notes_name_the_variant_and_the_interval(results, tmp_path):
    from imagenet_rib.formatting import fmt_interval

    df, correct = results
    folder = make_run_dir(tmp_path / "wise", run_config(method="wise-ft"), weights=False)
    card = build_model_card(df, folder, correct=correct, n_boot=50, suite=toy_suite())
    (ri, *_) = eval_result_entries(card.rows, card.scores, "rib-ns/toy")
    iv = card.scores.interval("ri", "d1", kind="images")
    run = run_id_of("src-a", "wise-ft", "d1")
    assert ri.value == -1.25  # BASE[wise-ft] * mean(W[d2], W[d3])
    assert ri.notes == (
        NOTES.replace("method=ft", "method=wise-ft [alpha=0.5]")
        + f"; seed=0; run={run}; 95% CI (bootstrap over images) {fmt_interval(iv.low, iv.high)}"
    )


def test_dataset_hub_ids_only_for_sources_the_results_came_from(tmp_path, monkeypatch):
    suite = toy_suite(d2="org/d2-rib", d3="/data/d3", **{"ref-val": "org/ref"})
    assert dataset_hub_ids(suite, run_config()) == {"d2": "org/d2-rib", "ref-val": "org/ref"}
    assert dataset_hub_ids(suite, run_config(source="org/d1-rib")) == {
        "d2": "org/d2-rib",
        "ref-val": "org/ref",
        "d1": "org/d1-rib",
    }
    assert dataset_hub_ids(suite, run_config(dataset="d2", source="/data/d2")) == {
        "ref-val": "org/ref"  # the run's own local source overrides the suite's Hub id
    }
    (tmp_path / "org" / "d2-rib").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)  # "org/d2-rib" is now a local folder, not a Hub id
    assert dataset_hub_ids(suite, run_config()) == {"ref-val": "org/ref"}


def test_base_model_info_states_no_local_path(tmp_path, monkeypatch):
    local = base_model_info("/home/me/checkpoints/vit")
    assert (local.name, local.hub_id, local.license) == ("<local>/vit", None, "other")
    assert local.note == "a local checkpoint: state its licence with --license"
    (tmp_path / "someone" / "their-vit").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    folder = base_model_info("someone/their-vit")  # a local folder that looks like a Hub id
    assert (folder.name, folder.hub_id, folder.license) == ("someone/their-vit", None, "other")
    assert "--license" in folder.note


def test_benchmark_eval_yaml_declares_one_task_per_score_and_dataset():
    doc = yaml.safe_load(benchmark_eval_yaml(toy_suite(), name="Toy", split="validation"))
    assert (doc["name"], doc["evaluation_framework"]) == ("Toy", "imagenet-rib")
    assert doc["tasks"] == [
        {"id": f"{prefix}-{d}", "config": d, "split": "validation"}
        for d in SUITE
        for prefix in ("ri", "degradation", "in-task-gain")
    ]
    assert "pretraining reference ref-val" in doc["description"]
    bare = SuiteConfig(name="bare", label_space="mini-digits", datasets=("a", "b"))
    doc = yaml.safe_load(benchmark_eval_yaml(bare, name="Bare", description="Two sets."))
    assert doc["description"] == "Two sets."
    assert [t["id"] for t in doc["tasks"]] == ["ri-a", "in-task-gain-a", "ri-b", "in-task-gain-b"]
    default = yaml.safe_load(benchmark_eval_yaml(bare, name="Bare"))["description"]
    assert "degradation" not in default and "ri-<D>" in default and "in-task-gain-<D>" in default
