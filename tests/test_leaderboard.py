"""Leaderboard rows from result records: closed-form scores, missing cells never averaged,
revisions never combined, conflicts refused, intervals from the library's scoring API, and the
three sources (read-only store, export, and the app's answers to UI events)."""

from __future__ import annotations

import hashlib
import math
import os
import sys
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, os.path.dirname(__file__))

from imagenet_rib.errors import ConfigError  # noqa: E402
from imagenet_rib.intervals import bootstrap_rib, seed_intervals  # noqa: E402
from imagenet_rib.leaderboard import (  # noqa: E402
    build_leaderboard,
    display,
    filter_rows,
    load_results,
    sort_rows,
)
from imagenet_rib.leaderboard.app import LeaderboardApp, make_app  # noqa: E402
from imagenet_rib.records import ResultRecord  # noqa: E402
from imagenet_rib.results import ResultStore  # noqa: E402
from imagenet_rib.scores import compute_rib  # noqa: E402
from report_data import (  # noqa: E402
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
)

N_BOOT = 200


def _frame(recs) -> pd.DataFrame:
    return pd.DataFrame([r.to_dict() for r in recs], columns=ResultRecord.columns())


def _row(rows, model, method, revision="rev0"):
    (row,) = [r for r in rows if (r.model, r.method, r.model_revision) == (model, method, revision)]
    return row


@pytest.fixture(scope="module")
def synthetic():
    return synthetic_results()


@pytest.fixture(scope="module")
def rows(synthetic):
    df, correct = synthetic
    return build_leaderboard(df, correct, n_boot=N_BOOT)


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
    off_diag_pre = np.mean([np.mean([PRE[j] for j in SUITE if j != i]) for i in SUITE])
    for r in rows:
        if (r.model, r.method) == ("src-a", "ft"):
            continue  # the one row with a missing cell, see below
        shift = 0.5 if r.seeds == (0, 1) else 0.0  # seed 1: every post accuracy one point higher
        mri = np.mean([expected_ri(r.model, r.method, i) for i in SUITE]) + shift
        assert r.mri == pytest.approx(mri, abs=1e-9)
        assert r.avg_ood_before == pytest.approx(off_diag_pre)
        assert r.avg_ood_after == pytest.approx(off_diag_pre + mri)
        assert r.degradation() == (pytest.approx(DEG[r.method] * SCALE[r.model] + shift), 3)
        assert r.in_task_gain() == (pytest.approx(GAIN[r.method] + shift), 3)
        assert r.in_task_meaningful and r.problems == [] and r.complete_sets == 3
    assert _row(rows, "src-b", "lwf").seeds == (0, 1)
    assert display.mri_cell(_row(rows, "src-b", "ft")) == "-8.00"  # -2 * 2 * mean(2.5, 2, 1.5)


def test_missing_cell_is_reported_not_averaged(rows):
    row = _row(rows, "src-a", "ft")  # d2 -> d3 was never measured
    assert math.isnan(row.mri) and math.isnan(row.avg_ood_after)
    assert row.complete_sets == 2 and row.interval is None
    assert display.mri_cell(row) == "incomplete (2 of 3 sets)"
    assert display.ood_cells(row) == ("50.00", "incomplete (2 of 3 sets)")
    # the reference column is complete: its mean is a real number
    assert display.degradation_cell(row) == f"{DEG['ft']:+.2f}"
    assert row.scores.ri["d1"] == pytest.approx(expected_ri("src-a", "ft", "d1"))


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
    row = _row(build_leaderboard(df[~drop], n_boot=N_BOOT), "src-b", "lwf")
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
    rows = build_leaderboard(pd.concat([df, _frame(new)], ignore_index=True), n_boot=N_BOOT)
    old = _row(rows, "src-a", "ft")
    assert display.mri_cell(old) == "incomplete (2 of 3 sets)"  # unchanged by the rev1 rows
    assert old.scores.ri["d1"] == pytest.approx(expected_ri("src-a", "ft", "d1"))
    other = _row(rows, "src-a", "ft", revision="rev1")
    assert other.scores is None and "no pretrained baseline" in other.problems[0]
    assert display.mri_cell(other) == "conflict (see details)"


def test_two_runs_for_one_cell_are_a_conflict(synthetic):
    df, _ = synthetic
    recs = [
        replace(r, run_id=r.run_id + "-again", method_config='{"lr": 0.1}')
        for r in synthetic_records()
        if (r.model, r.method, r.finetune_dataset) == ("src-b", "ft", "d2")
    ]
    rows = build_leaderboard(pd.concat([df, _frame(recs)], ignore_index=True), n_boot=N_BOOT)
    row = _row(rows, "src-b", "ft")
    assert row.scores is None and math.isnan(row.mri)
    assert "2 runs" in row.problems[0] and "d2 with seed 0" in row.problems[0]
    assert "different method configs" in row.problems[0]
    assert "Not scored" in display.detail_markdown(row)


def _key(r) -> tuple[str, str, str, str]:
    return (r.run_id, r.variant, r.eval_dataset, r.eval_part)


def test_intervals_come_from_the_scoring_api(rows, synthetic):
    df, correct = synthetic
    src_b = df[df["model"] == "src-b"]
    pre = src_b[src_b["method"] == "pretrained"]
    ft = src_b[src_b["method"] == "ft"]
    cq: dict = {}
    for r in ft.itertuples():
        cq.setdefault(r.finetune_dataset, {})[r.eval_dataset] = correct(_key(r))
    cp = {r.eval_dataset: correct(_key(r)) for r in pre.itertuples()}
    direct = bootstrap_rib(cp, cq, list(SUITE), REFERENCE, n_boot=N_BOOT, seed=0)
    row = _row(rows, "src-b", "ft")  # one seed + correctness: paired bootstrap over images
    assert (row.interval.low, row.interval.high) == (direct.mri.low, direct.mri.high)
    assert row.interval.low <= row.mri <= row.interval.high
    assert row.interval_note == "bootstrap over images"

    lwf = src_b[src_b["method"] == "lwf"]
    acc_pre = dict(zip(pre["eval_dataset"], pre["accuracy"]))
    per_seed = []
    for s in (0, 1):
        groups = lwf[lwf["seed"] == s].groupby("finetune_dataset")
        acc = {i: dict(zip(g["eval_dataset"], g["accuracy"])) for i, g in groups}
        per_seed.append(compute_rib(acc_pre, acc, list(SUITE), REFERENCE))
    direct = seed_intervals(per_seed, 0.95, n_boot=N_BOOT, seed=0)
    row = _row(rows, "src-b", "lwf")  # two seeds: interval over seeds
    assert (row.interval.low, row.interval.high) == (direct.mri.low, direct.mri.high)
    assert row.interval_note == "bootstrap over seeds"


def test_split_none_has_no_in_task_gain(synthetic):
    df, _ = synthetic
    df = df.assign(split_rule="none")
    row = _row(build_leaderboard(df, n_boot=N_BOOT), "src-b", "ft")
    assert display.gain_cell(row) == "n/a (split none)" and display.mri_cell(row) == "-8.00"


def test_store_is_read_only_and_matches_the_export(store_path, tmp_path, synthetic):
    digest = hashlib.sha256(store_path.read_bytes()).hexdigest()
    from_store = load_results(store_path)
    assert hashlib.sha256(store_path.read_bytes()).hexdigest() == digest
    assert from_store.correct is not None and len(from_store.frame) == len(synthetic[0])
    export = ResultStore(store_path).export(tmp_path / "export.parquet")
    digest = hashlib.sha256(store_path.read_bytes()).hexdigest()
    from_export = load_results(parquet=export)
    assert from_export.correct is None
    a = build_leaderboard(from_store.frame, from_store.correct, n_boot=N_BOOT)
    b = build_leaderboard(from_export.frame, n_boot=N_BOOT)
    for x, y in zip(a, b):
        assert display.mri_cell(x) == display.mri_cell(y) and x.label == y.label
    assert _row(b, "src-b", "ft").interval is None  # no per-image results in an export
    assert "one seed and no per-image" in _row(b, "src-b", "ft").interval_note
    csv = ResultStore(store_path).export(tmp_path / "export.csv")
    assert [display.mri_cell(r) for r in build_leaderboard(load_results(csv).frame)] == [
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
        build_leaderboard(only_pre)


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
    for path in (heat, bars):
        with open(path, "rb") as fh:
            assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
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
    board = make_app(store.path, n_boot=50)
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
