"""Computed findings (`scoring.findings`): differences of scores between configurations with
their paired image and seed intervals, and the verdict the demo prints."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from imagenet_rib.scores import ScoreInputError
from imagenet_rib.scoring import score_records
from imagenet_rib.scoring.findings import compare, findings
from support.report_data import synthetic_results, toy_suite


@pytest.fixture(scope="module")
def table():
    df, correct = synthetic_results()
    return score_records(df, toy_suite(), correct=correct, n_boot=400, seed=0)


def test_difference_and_its_paired_image_interval(table):
    a, b = table.get("src-b", "lwf"), table.get("src-a", "lwf")
    c = compare(a, b, "mri", "b vs a")
    assert c.estimate == pytest.approx(a.scores.mri - b.scores.mri)
    diff = a.image_intervals.replicates["mri"] - b.image_intervals.replicates["mri"]
    assert (c.images.low, c.images.high) == pytest.approx(tuple(np.quantile(diff, [0.025, 0.975])))
    assert c.seeds is None and c.n_seeds == 1  # src-a lwf has one seed: nothing to pair


def test_a_configuration_against_itself_is_not_separable(table):
    r = table.get("src-b", "lwf")
    c = compare(r, r, "mri", "same")
    assert c.estimate == 0.0 and (c.images.low, c.images.high) == (0.0, 0.0)
    assert (c.seeds.low, c.seeds.high) == (0.0, 0.0) and not c.separable
    assert str(c).endswith("not separable at 95 %")


def test_seed_interval_is_student_t_of_the_per_seed_differences(table):
    r = table.get("src-b", "lwf")  # per-seed mRI: m and m + 1
    other = replace(r, per_seed={0: r.per_seed[0], 1: r.per_seed[0]})
    c = compare(r, other, "mri", "t")
    # d = (0, 1): mean 0.5, sd 1/sqrt(2); t_{1, 0.975} = 12.7062
    half = 12.706204736174698 * (1 / np.sqrt(2)) / np.sqrt(2)
    assert (c.seeds.low, c.seeds.high) == pytest.approx((0.5 - half, 0.5 + half))
    assert c.n_seeds == 2


def test_separable_needs_every_interval_to_exclude_zero(table):
    a, b = table.get("src-b", "ft"), table.get("src-b", "wise-ft", "alpha=0.5")
    c = compare(a, b, "mean_in_task_gain", "ft vs wise")  # gains +20 vs +10, exactly
    assert c.estimate == pytest.approx(10.0) and c.separable
    assert "Δ in-task gain = +10.00 [" in str(c) and str(c).endswith(": separable at 95 %")
    wide = replace(c, seeds=replace(c.images, low=-1.0))
    assert not wide.separable
    with pytest.raises(ScoreInputError, match="choose one of"):
        compare(a, b, "ri", "per-set scores are not compared")


def test_findings_are_computed_for_complete_configurations(table):
    found = findings(table)
    titles = [f"{f.title}|{f.score}" for f in found]
    # src-a ft misses a cell: never compared; src-b vs src-a only on labels both complete
    assert "src-b vs src-a pretraining, lwf|mri" in titles
    assert not any("src-a, " in t and "vs ft" in t for t in titles)
    assert "src-b, lwf vs ft|mri" in titles and "src-b, lwf vs ft|mean_in_task_gain" in titles
    assert titles[0] == "src-b vs src-a pretraining|mean_acc_pre"
    pre = found[0]
    assert pre.seeds is None and pre.estimate == pytest.approx(0.0)  # same A_pre by design
    d = found[0].to_dict()
    assert d["text"] == str(found[0]) and d["separable"] == found[0].separable
