"""The one scoring road (`scoring.score_records`, `sweep.scores`, `rib run`'s summary): closed
forms, seeds (per seed and aggregate, image and seed intervals), revisions never mixed,
refusals, and the leaderboard row."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from imagenet_rib.intervals import bootstrap_rib
from imagenet_rib.scores import ScoreInputError
from imagenet_rib.scoring import score_records
from imagenet_rib.seeds import seed_intervals
from support.report_data import (
    BASE,
    DEG,
    GAIN,
    MISSING,
    PRE,
    REFERENCE,
    SCALE,
    SUITE,
    expected_ri,
    store_for_config,
    synthetic_records,
    synthetic_results,
    toy_suite,
)

ROW_KEYS = {
    "suite", "model", "model_revision", "method", "variant", "n_seeds", "seeds",
    "finetune_sets", "complete", "missing_cells", "confidence", "mri", "mean_acc_pre",
    "avg_ood_post", "mean_reference_degradation", "mean_in_task_gain",
    *(f"{k}_ci_{kind}" for k in ("mri", "avg_ood_post", "mean_reference_degradation",
                                 "mean_in_task_gain") for kind in ("images", "seeds")),
}  # fmt: skip


@pytest.fixture(scope="module")
def table():
    df, correct = synthetic_results()
    return score_records(df, toy_suite(), correct=correct, n_boot=300, seed=0)


@pytest.mark.parametrize("model", list(SCALE))
@pytest.mark.parametrize("method", list(BASE))
def test_closed_form(table, model, method):
    variant = "alpha=0.5" if method == "wise-ft" else ""
    r = table.get(model, method, variant)
    shift = 0.5 if (model, method) == ("src-b", "lwf") else 0.0  # mean of seeds 0 and 1 (+1)
    s = r.scores
    for i in SUITE:
        assert s.in_task_gain[i] == pytest.approx(GAIN[method] + shift)
        assert s.reference_degradation[i] == pytest.approx(DEG[method] * SCALE[model] + shift)
        if (model, method, i) != MISSING[:3]:
            assert s.ri[i] == pytest.approx(expected_ri(model, method, i) + shift)
    assert s.mean_acc_pre == pytest.approx(np.mean([PRE[j] for j in SUITE]))
    if (model, method) != MISSING[:2]:
        assert s.mri == pytest.approx(
            np.mean([expected_ri(model, method, i) for i in SUITE]) + shift
        )
        assert s.avg_ood_post == pytest.approx(s.mean_acc_pre + s.mri)
        assert s.mean_in_task_gain == pytest.approx(GAIN[method] + shift)


def test_missing_cell_stays_missing_and_is_explained(table):
    r = table.get("src-a", "ft")
    assert math.isnan(r.scores.ri["d2"]) and math.isnan(r.scores.mri) and not r.complete
    assert ("d2", "d3") in r.scores.missing
    assert r.status() == (
        "src-a ft: 2 of 3 fine-tuning sets done; mRI needs all; per-set RI_i available for d1, d3"
    )
    md = table.to_markdown()
    assert "- src-a ft: 2 of 3" in md
    assert not [line for line in md.splitlines() if line.startswith("| src-a | ft ")]
    assert "n/a" not in md  # no rows of missing values: the sentence says it


def test_seeds_give_per_seed_scores_an_aggregate_and_both_intervals(table):
    r = table.get("src-b", "lwf")
    assert r.seeds == (0, 1) and set(r.per_seed) == {0, 1}
    assert r.per_seed[1].mri == pytest.approx(r.per_seed[0].mri + 1.0)
    assert r.scores.mri == pytest.approx(np.mean([r.per_seed[0].mri, r.per_seed[1].mri]))
    expected = seed_intervals(list(r.per_seed.values()), 0.95, method="t")
    assert r.seed_intervals.mri.low == pytest.approx(expected.mri.low)
    assert r.seed_intervals.method == "t-seeds" and r.interval_kind == "seeds"
    img = r.image_intervals
    assert img.method == "bootstrap-images" and img.mri.low < r.scores.mri < img.mri.high
    assert table.get("src-b", "ft").seed_intervals is None
    assert table.get("src-b", "ft").interval_kind == "images"
    (line,) = [x for x in table.to_markdown().splitlines() if x.startswith("| src-b | lwf |")]
    cells = [c.strip() for c in line.split("|")[1:-1]]
    lo, hi = r.seed_intervals.mri.low, r.seed_intervals.mri.high
    assert cells[3] == "2" and cells[6] == f"[{lo:+.2f}, {hi:+.2f}]"  # both kinds, side by side


def test_image_intervals_equal_bootstrap_rib_on_the_same_vectors(table):
    """One paired draw per evaluation set, whatever else the table holds."""
    df, correct = synthetic_results()
    rows = df[(df["model"] == "src-b") & (df["method"].isin(["ft", "pretrained"]))]
    pre = {r.eval_dataset: correct(r_key(r)) for r in rows.itertuples() if r.method == "pretrained"}
    post = {}
    for r in rows.itertuples():
        if r.method == "ft":
            post.setdefault(r.finetune_dataset, {})[r.eval_dataset] = correct(r_key(r))
    direct = bootstrap_rib(pre, post, SUITE, REFERENCE, n_boot=300, seed=0)
    road = table.get("src-b", "ft").image_intervals
    assert road.mri.low == pytest.approx(direct.mri.low, abs=1e-9)
    assert road.mri.high == pytest.approx(direct.mri.high, abs=1e-9)
    np.testing.assert_allclose(road.delta_low, direct.delta_low, atol=1e-9)


def r_key(r):
    return (r.run_id, r.variant, r.eval_dataset, r.eval_part)


def test_leaderboard_rows(table):
    rows = [r.to_dict() for r in table]
    assert all(set(row) == ROW_KEYS for row in rows)
    row = table.get("src-b", "lwf").to_dict()
    assert row["n_seeds"] == 2 and row["suite"] == "toy-suite" and row["model"] == "src-b"
    assert row["mri"] == pytest.approx(table.get("src-b", "lwf").scores.mri)
    lo, hi = row["mri_ci_seeds"]
    assert lo < row["mri"] < hi and row["mri_ci_images"][0] < row["mri"]
    assert row["mean_reference_degradation"] == pytest.approx(DEG["lwf"] * 2 + 0.5)
    assert table.get("src-a", "lwf").to_dict()["mri_ci_seeds"] is None
    assert table.get("src-a", "ft").to_dict()["mri_ci_images"] is None  # no mRI to bound
    json.dumps([r.to_dict(detail=True) for r in table], allow_nan=False)
    json.dumps(table.to_dict(), allow_nan=False)


def test_order_is_fixed_and_variants_sort_naturally():
    recs = synthetic_records()
    extra = [
        replace(r, variant=v, accuracy=r.accuracy)
        for r in recs
        if r.method == "wise-ft"
        for v in ("alpha=10.0", "alpha=0.25")
    ]
    t = score_records(recs + extra, toy_suite(), models=["src-b"], methods=["wise-ft", "lwf"])
    order = [(r.model, r.method, r.variant) for r in t]
    assert order[:3] == [("src-b", "wise-ft", v) for v in ("alpha=0.25", "alpha=0.5", "alpha=10.0")]
    assert order[3] == ("src-b", "lwf", "") and order[4] == ("src-b", "ft", "")
    assert order[5][0] == "src-a"


def test_revisions_are_never_mixed():
    recs = synthetic_records()
    # src-a re-downloaded at another revision, whose pretrained accuracies are 10 points lower
    rev1 = [
        replace(r, model_revision="rev1", run_id=r.run_id + "-r1", accuracy=r.accuracy - 10.0)
        for r in recs
        if r.model == "src-a" and r.method in ("pretrained", "lwf")
    ]
    t = score_records(recs + rev1, toy_suite())
    a0, a1 = t.get("src-a", "lwf", revision="rev0"), t.get("src-a", "lwf", revision="rev1")
    assert a1.scores.mri == pytest.approx(a0.scores.mri)  # scored against its own baseline
    assert a1.scores.mean_acc_pre == pytest.approx(a0.scores.mean_acc_pre - 10.0)
    assert "@rev1" in t.to_markdown()
    lonely = [r for r in rev1 if r.method != "pretrained"]
    with pytest.raises(ScoreInputError, match=r"revision 'rev1'.*only for revisions \['rev0'\]"):
        score_records(recs + lonely, toy_suite())


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (
            lambda r: replace(r, run_id="other-config") if r.method == "lwf" else None,
            "two configurations",
        ),
        (
            lambda r: replace(r, split_seed=1, run_id="x") if r.method == "ft" else None,
            "mix splits",
        ),
        (
            lambda r: replace(r, protocol="subset", run_id="x") if r.method == "ft" else None,
            "label protocols",
        ),
        (lambda r: replace(r, suite="other", run_id="x"), "not 'toy-suite'"),
        (lambda r: replace(r, eval_dataset="d9", run_id="x") if r.method == "ft" else None, "d9"),
    ],
)
def test_records_that_would_mix_are_refused(change, match):
    recs = synthetic_records()
    extra = [x for x in map(change, recs) if x is not None]
    with pytest.raises(ScoreInputError, match=match):
        score_records(recs + extra, toy_suite())


def test_inconsistent_correctness_is_refused():
    recs = synthetic_records()
    _, correct = synthetic_results()
    target = next(r for r in recs if r.method == "ft")

    def flipped(key):
        vec = correct(key).copy()
        if key == target.key:
            vec[0] = not vec[0]
        return vec

    with pytest.raises(ScoreInputError, match="inconsistent"):
        score_records(recs, toy_suite(), correct=flipped, n_boot=10)
    short = {target.key: correct(target.key)[:-1]}
    with pytest.raises(ScoreInputError, match="entries but the record counts"):
        score_records(recs, toy_suite(), correct=lambda k: short.get(k, correct(k)), n_boot=10)


def test_group_mean_accuracy_is_recentred_not_refused():
    """An ImageNet-C-style set's accuracy is a mean over groups, not the row mean."""
    recs = synthetic_records()
    _, correct = synthetic_results()
    recs = [
        replace(r, accuracy=r.accuracy + 0.3, per_group='{"fog/1": 1}')
        if r.eval_dataset == "d3"
        else r
        for r in recs
    ]
    t = score_records(recs, toy_suite(), correct=correct, n_boot=200)
    r = t.get("src-b", "ft")
    b = r.scores.columns.index("d3")
    assert (
        r.image_intervals.delta_low[0, b]
        <= r.scores.delta[0, b]
        <= r.image_intervals.delta_high[0, b]
    )


def test_no_baseline_nothing_to_score_and_empty_tables():
    recs = synthetic_records()
    t = score_records([r for r in recs if r.method == "pretrained"], toy_suite())
    assert len(t) == 0 and t.to_markdown() == "no fine-tuned results in the store yet"
    with pytest.raises(ScoreInputError, match=r"records have \['test'\]"):
        score_records(recs, toy_suite(), part="val")
    with pytest.raises(ScoreInputError, match="lacks column"):
        import pandas as pd

        score_records(pd.DataFrame({"model": ["x"]}), toy_suite())


# ------------------------------------------------------------------ sweep.scores / rib run


def test_sweep_scores_and_the_run_summary(tmp_path, capsys, monkeypatch):
    import imagenet_rib.scoring
    from imagenet_rib.cli.run import load_config, print_summary
    from imagenet_rib.sweep import scores
    from support.report_data import pair_groups

    # the synthetic store's parts hold 50 images, not the real parts' (whose groups it loads)
    monkeypatch.setattr(imagenet_rib.scoring, "part_groups", pair_groups)

    config = load_config("mini-rib-quick", output_dir=str(tmp_path))
    store = store_for_config(config, tmp_path, drop=[("linear-probe", "mini-r")])
    table = scores(config, store, n_boot=100)
    assert table.finetune_sets == ("mini-r", "mini-sketch")  # the config's, not the suite's
    assert [(r.method, r.variant) for r in table] == [
        ("ft", ""),
        ("wise-ft", "alpha=0.0"),
        ("wise-ft", "alpha=0.5"),
        ("wise-ft", "alpha=1.0"),
        ("linear-probe", ""),
    ]  # the config's order
    assert all(r.image_intervals is not None for r in table)
    assert table.get("mini-vit-clean", "ft").complete
    print_summary(config, store)
    out = capsys.readouterr().out
    (ft_row,) = [line for line in out.splitlines() if line.startswith("| mini-vit-clean | ft ")]
    cells = [c.strip() for c in ft_row.split("|")[1:-1]]
    ft = table.get("mini-vit-clean", "ft")
    assert cells[4] == f"{ft.scores.mri:+.2f}"  # mRI, then its interval, then the gain
    assert cells[5].startswith("[") and cells[7] == f"{ft.scores.mean_in_task_gain:+.2f}"
    assert (
        "- mini-vit-clean linear-probe: 1 of 2 fine-tuning sets done; mRI needs all; "
        "per-set RI_i available for mini-sketch"
    ) in out
    assert "Intervals: images: 95% paired percentile bootstrap" in out
    assert "resampling groups of views of one source on mini-v2, mini-a" in out
    assert table.clustered == tuple(d for d in config.load_suite().datasets)
    # records of runs outside the config's plan never enter its scores
    other = load_config("mini-rib-quick", output_dir=str(tmp_path), seeds=[5])
    assert len(scores(other, store)) == 0
