"""Leaderboard rows from result records: every score from the one scoring road
(`scoring.score_records`), closed forms, missing cells never averaged, revisions never
combined, conflicting configurations shown as conflicts while the rest is scored, several
suites each scored with its own suite, and the three sources (read-only store, export, and
the app's answers to UI events)."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from imagenet_rib.errors import ConfigError
from imagenet_rib.intervals import bootstrap_rib
from imagenet_rib.leaderboard import (
    build_leaderboard,
    display,
    filter_rows,
    load_results,
    sort_rows,
)
from imagenet_rib.leaderboard.app import LeaderboardApp, make_app
from imagenet_rib.records import ResultRecord
from imagenet_rib.results import ResultStore
from imagenet_rib.scoring import score_records
from imagenet_rib.seeds import seed_intervals
from imagenet_rib.suites import SuiteConfig
from support.report_data import (
    BASE,
    DEG,
    GAIN,
    PRE,
    REFERENCE,
    SCALE,
    SUITE,
    W,
    expected_ri,
    synthetic_records,
    synthetic_results,
    toy_suite,
    write_suite_yaml,
)

N_BOOT = 200
TOY = [toy_suite()]


def _frame(recs) -> pd.DataFrame:
    return pd.DataFrame([r.to_dict() for r in recs], columns=ResultRecord.columns())


def _row(rows, model, method, revision="rev0", suite="toy-suite"):
    (row,) = [
        r
        for r in rows
        if (r.model, r.method, r.model_revision, r.suite) == (model, method, revision, suite)
    ]
    return row


def _board(df, correct=None, **kw):
    return build_leaderboard(df, correct, suites=kw.pop("suites", TOY), n_boot=N_BOOT, **kw)


@pytest.fixture(scope="module")
def synthetic():
    return synthetic_results()


@pytest.fixture(scope="module")
def rows(synthetic):
    df, correct = synthetic
    return _board(df, correct)


@pytest.fixture(scope="module")
def store_path(tmp_path_factory, synthetic):
    _, correct = synthetic
    recs = synthetic_records()
    path = tmp_path_factory.mktemp("store") / "results.sqlite"
    ResultStore(path).add(recs, {r.key: correct(r.key) for r in recs})
    return path


def test_one_row_per_source_method_variant_with_closed_form_scores(rows):
    assert [(r.model, r.method, r.variant) for r in rows] == [
        (m, method, "alpha=0.5" if method == "wise-ft" else "")
        for m in SCALE
        for method in sorted(BASE)
    ]
    assert [r.id for r in rows] == list(range(1, len(rows) + 1))
    off_diag_pre = np.mean([np.mean([PRE[j] for j in SUITE if j != i]) for i in SUITE])
    for r in rows:
        if (r.model, r.method) == ("src-a", "ft"):
            continue  # the one row with a missing cell, see below
        shift = 0.5 if r.seeds == (0, 1) else 0.0  # seed 1: every post accuracy one point higher
        mri = np.mean([expected_ri(r.model, r.method, i) for i in SUITE]) + shift
        assert r.mri == pytest.approx(mri, abs=1e-9)
        assert r.avg_ood_before == pytest.approx(off_diag_pre)
        assert r.avg_ood_after == pytest.approx(off_diag_pre + mri)
        assert r.degradation == pytest.approx(DEG[r.method] * SCALE[r.model] + shift)
        assert r.in_task_gain == pytest.approx(GAIN[r.method] + shift)
        assert r.sets_with("reference_degradation") == r.sets_with("in_task_gain") == 3
        assert r.in_task_meaningful and r.error is None and r.complete_sets == r.n_sets == 3
        assert r.status == "complete" and r.notes == []
    assert _row(rows, "src-b", "lwf").seeds == (0, 1)
    assert display.mri_cell(_row(rows, "src-b", "ft")) == "-8.00"  # -2 * 2 * mean(2.5, 2, 1.5)


def test_rows_are_the_scoring_roads_results(rows, synthetic):
    """No arithmetic of its own: each row carries score_records' result, to_dict and all."""
    df, correct = synthetic
    table = score_records(df, toy_suite(), correct=correct, finetune_sets=SUITE, n_boot=N_BOOT)
    assert len(table) == len(rows)
    for row in rows:
        road = table.get(row.model, row.method, row.variant, revision=row.model_revision)
        assert row.values == road.to_dict()
        out = row.to_dict()
        assert {k: out[k] for k in road.to_dict()} == road.to_dict()
        assert out["id"] == row.id and out["status"] == row.status and out["error"] is None
        assert out["split"] == "holdout 20% test, seed 0" and out["model_repos"] == []
        json.dumps(out, allow_nan=False)
    # one seed with per-image results: the paired bootstrap over images of bootstrap_rib
    src_b = df[df["model"] == "src-b"]
    key = ("run_id", "variant", "eval_dataset", "eval_part")
    pre = {
        r.eval_dataset: correct(tuple(getattr(r, k) for k in key))
        for r in src_b[src_b["method"] == "pretrained"].itertuples()
    }
    post: dict = {}
    for r in src_b[src_b["method"] == "ft"].itertuples():
        post.setdefault(r.finetune_dataset, {})[r.eval_dataset] = correct(
            tuple(getattr(r, k) for k in key)
        )
    direct = bootstrap_rib(pre, post, SUITE, REFERENCE, n_boot=N_BOOT, seed=0)
    ft = _row(rows, "src-b", "ft")
    assert ft.interval_kind == "images" and ft.interval().low == pytest.approx(direct.mri.low)
    assert ft.interval().high == pytest.approx(direct.mri.high)
    iv = ft.interval()
    assert display.interval_cell(ft) == f"[{iv.low:+.2f}, {iv.high:+.2f}] (images)"
    assert display.interval_note(ft) == f"paired bootstrap over test images (B = {N_BOOT})"
    # two seeds: the t interval over seeds is the one shown
    lwf = _row(rows, "src-b", "lwf")
    direct = seed_intervals(list(lwf.result.per_seed.values()), 0.95, method="t")
    assert lwf.interval_kind == "seeds" and lwf.interval().low == pytest.approx(direct.mri.low)
    assert display.interval_note(lwf) == "Student t over 2 seeds"
    assert lwf.interval("images") is not None  # both kinds are kept; the detail shows both
    assert display.interval_cell(lwf).endswith("(seeds)")


def test_missing_cell_is_reported_not_averaged(rows):
    row = _row(rows, "src-a", "ft")  # d2 -> d3 was never measured
    assert math.isnan(row.mri) and math.isnan(row.avg_ood_after)
    assert row.complete_sets == 2 and row.interval() is None
    assert row.status == "incomplete (2 of 3 sets)" == row.to_dict()["status"]
    assert display.mri_cell(row) == "incomplete (2 of 3 sets)"
    assert display.ood_cells(row) == ("50.00", "incomplete (2 of 3 sets)")
    assert display.interval_cell(row) == "n/a"
    assert display.interval_note(row) == "no interval: the matrix is incomplete"
    # the reference column is complete: its mean is a real number
    assert display.degradation_cell(row) == f"{DEG['ft']:+.2f}"
    assert row.result.scores.ri["d1"] == pytest.approx(expected_ri("src-a", "ft", "d1"))
    text = display.detail_markdown(row)
    assert "src-a ft: 2 of 3 fine-tuning sets done; mRI needs all" in text
    assert "missing cells (1), reported as n/a, never as 0: d2->d3" in text


def test_every_suite_set_counts_even_when_one_was_never_tuned_on(synthetic):
    df, _ = synthetic
    df = df[~((df["method"] == "lwf") & (df["finetune_dataset"] == "d3"))]
    row = _row(_board(df), "src-b", "lwf")
    assert row.result.scores.finetune_sets == list(SUITE)  # not just the sets it has
    assert display.mri_cell(row) == "incomplete (2 of 3 sets)"
    assert display.degradation_cell(row) == "incomplete (2 of 3 sets)"
    assert display.gain_cell(row) == "incomplete (2 of 3 sets)"


def test_a_cell_missing_in_one_seed_is_missing(synthetic):
    df, _ = synthetic
    drop = (
        (df["model"] == "src-b")
        & (df["method"] == "lwf")
        & (df["seed"] == 1)
        & (df["finetune_dataset"] == "d1")
        & (df["eval_dataset"] == "d2")
    )
    assert drop.sum() == 1
    row = _row(_board(df[~drop]), "src-b", "lwf")
    assert row.seeds == (0, 1) and row.complete_sets == 2
    assert display.mri_cell(row) == "incomplete (2 of 3 sets)"


def test_revisions_are_never_combined(synthetic):
    df, _ = synthetic
    recs = synthetic_records()
    new = [
        replace(
            r, model_revision="rev1", run_id=r.run_id + "-r1", accuracy=min(r.accuracy + 7, 100)
        )
        for r in recs
        if r.model == "src-a" and r.method == "ft" and r.finetune_dataset == "d1"
    ]
    rows = _board(pd.concat([df, _frame(new)], ignore_index=True))
    old = _row(rows, "src-a", "ft")
    assert display.mri_cell(old) == "incomplete (2 of 3 sets)"  # unchanged by the rev1 rows
    assert old.result.scores.ri["d1"] == pytest.approx(expected_ri("src-a", "ft", "d1"))
    other = _row(rows, "src-a", "ft", revision="rev1")
    assert other.result is None and other.error_kind == "conflict"
    assert "revision 'rev1'" in other.error and "pretrained baseline" in other.error
    assert display.mri_cell(other) == "conflict (see details)"
    assert display.interval_cell(other) == "n/a"
    # the refusal of the suite's records as a whole is said on the rows scored one by one
    assert "scored on its own" in old.notes[0] and "revision 'rev1'" in old.notes[0]
    assert _row(rows, "src-b", "ft").mri == pytest.approx(-8.0)


def test_two_runs_for_one_cell_are_a_conflict_the_rest_is_scored(synthetic, rows):
    df, correct = synthetic
    recs = [
        replace(r, run_id=r.run_id + "-again", method_config='{"lr": 0.1}')
        for r in synthetic_records()
        if (r.model, r.method, r.finetune_dataset) == ("src-b", "ft", "d2")
    ]
    clash = _board(pd.concat([df, _frame(recs)], ignore_index=True), correct)
    row = _row(clash, "src-b", "ft")
    assert row.result is None and math.isnan(row.mri) and row.status == "conflict"
    assert "both give src-b ft seed 0 d2 ->" in row.error and "two configurations" in row.error
    assert {r["run_id"] for r in row.runs} >= {r.run_id for r in recs}  # both runs listed
    text = display.detail_markdown(row)
    assert "Not scored (conflict)" in text and row.error in text
    assert display.detail_figures(row, "unused") is None
    board = LeaderboardApp(clash, origin="clashing rows")
    assert board.detail(row.id)[1:] == (None, None) and row.error in board.detail(row.id)[0]
    assert "conflict (see details)" in list(board.table(models=["src-b"])["mRI"])
    # every other configuration is scored exactly as without the clash (same image draws)
    assert len(clash) == len(rows)
    for a, b in zip(clash, rows):
        if (a.model, a.method) != ("src-b", "ft"):
            assert a.values == b.values and "scored on its own" in a.notes[0]


def test_each_suite_is_scored_with_its_own_suite(synthetic, tmp_path):
    df, _ = synthetic
    # the same runs as a second suite without a reference, its datasets in another order
    other = SuiteConfig(
        name="toy-rev", label_space="mini-digits", datasets=("d3", "d2", "d1"), reference=None
    )
    second = df[df["eval_dataset"] != REFERENCE].assign(suite="toy-rev")
    unknown = df[df["model"] == "src-a"].assign(suite="mystery-suite")
    wrong = df[df["model"] == "src-b"].assign(suite="mini-rib")  # built in, other datasets
    frame = pd.concat([df, second, unknown, wrong], ignore_index=True)
    rows = _board(frame, suites=[write_suite_yaml(tmp_path / "toy.yaml"), other])
    assert [r.suite for r in rows] == sorted(r.suite for r in rows)
    assert {r.suite for r in rows} == {"toy-suite", "toy-rev", "mystery-suite", "mini-rib"}
    a, b = _row(rows, "src-b", "ft"), _row(rows, "src-b", "ft", suite="toy-rev")
    assert a.mri == pytest.approx(b.mri) == pytest.approx(-8.0)
    assert b.result.scores.suite == ["d3", "d2", "d1"] and b.result.scores.reference is None
    assert display.degradation_cell(b) == "n/a (no reference set)"
    assert display.degradation_cell(a) == f"{2 * DEG['ft']:+.2f}"
    for r in (r for r in rows if r.suite == "mystery-suite"):
        assert r.error_kind == "unknown suite" and "--suite FILE" in r.error
        assert display.mri_cell(r) == "unknown suite (see details)" and r.n_sets == 0
    assert len([r for r in rows if r.suite == "mystery-suite"]) == 3
    for r in (r for r in rows if r.suite == "mini-rib"):
        assert r.error_kind == "conflict" and "that suite 'mini-rib' does not list" in r.error
    with pytest.raises(ConfigError, match="two different suites named 'toy-suite'"):
        _board(df, suites=[toy_suite(), replace(toy_suite(), reference=None)])


def test_split_none_has_no_in_task_gain(synthetic):
    df, _ = synthetic
    df = df.assign(split_rule="none")
    row = _row(_board(df), "src-b", "ft")
    assert display.gain_cell(row) == "n/a (split none)" and display.mri_cell(row) == "-8.00"
    assert math.isnan(row.in_task_gain) and row.split == "none"


def test_store_is_read_only_and_matches_the_export(store_path, tmp_path, synthetic):
    digest = hashlib.sha256(store_path.read_bytes()).hexdigest()
    from_store = load_results(store_path)
    assert hashlib.sha256(store_path.read_bytes()).hexdigest() == digest
    assert from_store.correct is not None and len(from_store.frame) == len(synthetic[0])
    export = ResultStore(store_path).export(tmp_path / "export.parquet")
    digest = hashlib.sha256(store_path.read_bytes()).hexdigest()
    from_export = load_results(parquet=export)
    assert from_export.correct is None
    a = _board(from_store.frame, from_store.correct)
    b = _board(from_export.frame)
    for x, y in zip(a, b):
        assert display.mri_cell(x) == display.mri_cell(y) and x.label == y.label
    assert _row(b, "src-b", "ft").interval() is None  # no per-image results in an export
    assert "one seed and no per-image" in display.interval_note(_row(b, "src-b", "ft"))
    assert display.interval_note(_row(b, "src-b", "lwf")) == "Student t over 2 seeds"
    csv = ResultStore(store_path).export(tmp_path / "export.csv")
    assert [display.mri_cell(r) for r in _board(load_results(csv).frame)] == [
        display.mri_cell(r) for r in b
    ]
    assert hashlib.sha256(store_path.read_bytes()).hexdigest() == digest


def test_bad_sources_raise_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="exactly one results source"):
        load_results()
    with pytest.raises(ConfigError, match="does not exist"):
        load_results(tmp_path / "nope.sqlite")
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database at all" * 10)
    with pytest.raises(ConfigError, match="not an ImageNet-RIB results store"):
        load_results(junk)
    pd.DataFrame({"model": ["x"]}).to_parquet(tmp_path / "x.parquet")
    with pytest.raises(ConfigError, match="lacks column"):
        load_results(parquet=tmp_path / "x.parquet")
    only_pre = _frame([r for r in synthetic_records() if r.method == "pretrained"])
    with pytest.raises(ConfigError, match="no fine-tuned results"):
        _board(only_pre)
    with pytest.raises(ConfigError, match="suite file .*nope.yaml does not exist"):
        _board(_frame(synthetic_records()), suites=[tmp_path / "nope.yaml"])
    with pytest.raises(ConfigError, match="no results for evaluation part 'val'"):
        _board(_frame(synthetic_records()), part="val")


def test_filter_and_sort(rows):
    assert {r.model for r in filter_rows(rows, models=["src-b"])} == {"src-b"}
    assert {r.method for r in filter_rows(rows, methods=["ft", "lwf"])} == {"ft", "lwf"}
    assert filter_rows(rows, suites=["other"]) == []
    ranked = sort_rows(rows, "mRI")
    values = [r.mri for r in ranked]
    assert values[:-1] == sorted(values[:-1], reverse=True) and math.isnan(values[-1])
    assert [r.id for r in sort_rows(rows, "mRI", descending=False)][:1] == [
        _row(rows, "src-b", "ft").id
    ]
    with pytest.raises(ConfigError, match="cannot sort by"):
        sort_rows(rows, "colour")


def test_app_answers_without_a_browser(rows, tmp_path):
    board = LeaderboardApp(rows, origin="test rows", figures_dir=tmp_path)
    table = board.table(models=["src-b"], sort_by="mRI")
    assert list(table["model"]) == ["src-b"] * 3
    assert list(table["mRI"]) == ["-2.00", "-3.50", "-8.00"]
    assert list(table.columns) == display.columns()
    ft = _row(rows, "src-b", "ft")
    text, heat, bars = board.detail(ft.id)
    assert ft.label in text and "| d3 " in text and "-8.00" in text
    # the library's own tables, each a Markdown block of its own
    assert "missing)\n\n| i \\ j " in text and "|\n\n| fine-tuning set |   RI_i |" in text
    assert "RIB scores with 95% intervals (bootstrap-images, 200 resamples)\n\n|" in text
    assert "| mRI 95% interval over seeds | n/a (no interval over seeds: one seed) |" in text
    from PIL import Image

    for path in (heat, bars):
        with open(path, "rb") as fh:
            assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
        assert Image.open(path).size[0] > 300
    assert board.detail("999")[1:] == (None, None)
    assert board.start_row({"row": str(ft.id)}) == ft.id
    assert board.start_row({"row": "junk"}) == sort_rows(rows)[0].id


def _renamed(model: str) -> list[ResultRecord]:
    """src-b's baseline and ft records, as a new pretraining source `model`."""
    return [
        replace(r, model=model, run_id=f"{model}-{r.run_id}")
        for r in synthetic_records()
        if r.model == "src-b" and r.method in ("pretrained", "ft")
    ]


def test_reload_reads_the_source_again(tmp_path, synthetic):
    store = ResultStore(tmp_path / "results.sqlite")
    store.add(synthetic_records())
    board = make_app(store.path, suites=TOY, n_boot=50)
    first = board.detail(1)[1]
    assert board.choices("model") == ["src-a", "src-b"] and board.generation == 0
    store.add(_renamed("src-c"))  # a run finishing while the app is up
    assert board.reload() and board.generation == 1
    assert board.choices("model") == ["src-a", "src-b", "src-c"]
    assert list(board.table(models=["src-c"])["mRI"]) == ["-8.00"]
    assert board.detail(1)[1] != first  # figures of the new generation, not the old ids'
    assert not LeaderboardApp(board.rows, origin="fixed rows").reload()


def test_before_after_per_dataset(rows):
    row = _row(rows, "src-b", "ft")
    got = display.before_after(row)
    for j in SUITE:  # A(i -> j) = PRE + BASE * SCALE * W[j] for every i != j
        assert got[j] == (PRE[j], pytest.approx(PRE[j] + BASE["ft"] * SCALE["src-b"] * W[j]))
    missing = display.before_after(_row(rows, "src-a", "ft"))
    assert math.isnan(missing["d3"][1]) and math.isfinite(missing["d1"][1])
