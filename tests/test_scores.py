"""RIB scores and their confidence intervals: hand-computed values, the paper's published
numbers (Hwang et al., arXiv 2410.21582), the bar-chart identity, missing cells, input errors,
the paired resampling kernel and the correlation intervals."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from imagenet_rib import intervals
from imagenet_rib.correlation import correlation_interval
from imagenet_rib.intervals import bootstrap_rib, resample_accuracies
from imagenet_rib.scores import (
    PRETRAINED,
    RIBScores,
    ScoreInputError,
    compute_rib,
    scores_from_arrays,
)
from imagenet_rib.seeds import seed_intervals

# ViT-B/16 fine-tuned on ImageNet-R, accuracy before -> after (the paper's table)
PAPER_SUITE = ["imagenet-v2", "imagenet-a", "imagenet-r", "imagenet-sketch", "objectnet"]
PAPER = {
    "IN-21K + AugReg": {
        "imagenet-val": (84.5, 73.8),
        "imagenet-v2": (74.0, 63.7),
        "imagenet-a": (43.2, 33.9),
        "imagenet-sketch": (43.2, 52.4),
        "objectnet": (48.4, 42.5),
    },
    "LAION-2B": {
        "imagenet-val": (85.5, 47.1),
        "imagenet-v2": (75.6, 36.4),
        "imagenet-a": (41.5, 7.2),
        "imagenet-sketch": (55.4, 29.5),
        "objectnet": (51.1, 19.4),
    },
}
# hand-computed: (RI_R, degradation, dA per OOD set, mean A_pre OOD, average post OOD)
PAPER_EXPECTED = {
    "IN-21K + AugReg": (-16.3 / 4, -10.7, [-10.3, -9.3, 9.2, -5.9], 52.2, 48.125),
    "LAION-2B": (-131.1 / 4, -38.4, [-39.2, -34.3, -25.9, -31.7], 55.9, 23.125),
}
# average OOD accuracy before -> after fine-tuning, the paper's bar chart
BAR_CHART = {
    "IN-1K+AugReg": (42.7, 44.0),
    "IN-1K+SAM": (42.9, 45.4),
    "IN-21K": (50.1, 50.0),
    "IN-21K-P": (53.3, 52.9),
    "IN-21K+AugReg": (57.8, 52.3),
    "OpenAI": (60.6, 22.6),
    "LAION-2B": (61.5, 23.4),
}
SUITE8 = [
    "imagenet-v2", "imagenet-a", "imagenet-r", "imagenet-sketch",
    "objectnet", "imagenet-cartoon", "imagenet-drawing", "imagenet-c",
]  # fmt: skip


def paper_scores(model: str) -> RIBScores:
    table = PAPER[model]
    pre = {k: v[0] for k, v in table.items()}
    post = {"imagenet-r": {k: v[1] for k, v in table.items()}}
    return compute_rib(pre, post, PAPER_SUITE, "imagenet-val", finetune_sets=["imagenet-r"])


@pytest.mark.parametrize("model", sorted(PAPER))
def test_reproduces_published_numbers(model: str) -> None:
    s = paper_scores(model)
    ri, degradation, deltas, mean_pre, avg_post = PAPER_EXPECTED[model]
    assert s.ri["imagenet-r"] == pytest.approx(ri, abs=1e-9)
    assert s.mri == pytest.approx(ri, abs=1e-9)
    assert s.reference_degradation["imagenet-r"] == pytest.approx(degradation, abs=1e-9)
    ood = ["imagenet-v2", "imagenet-a", "imagenet-sketch", "objectnet"]
    assert [s.to_dict()["delta"]["imagenet-r"][j] for j in ood] == pytest.approx(deltas, abs=1e-9)
    assert s.mean_acc_pre == pytest.approx(mean_pre, abs=1e-9)
    assert s.avg_ood_post == pytest.approx(avg_post, abs=1e-9)
    assert s.mri + s.mean_acc_pre == pytest.approx(s.avg_ood_post, abs=1e-12)
    # the in-task cell is not published: missing, not 0
    assert math.isnan(s.in_task_gain["imagenet-r"])
    assert set(s.missing) == {(PRETRAINED, "imagenet-r"), ("imagenet-r", "imagenet-r")}


def test_paper_laion_loses_more_than_in21k() -> None:
    assert paper_scores("LAION-2B").mri < paper_scores("IN-21K + AugReg").mri - 25


@pytest.mark.parametrize("model", sorted(BAR_CHART))
def test_bar_chart_identity_on_full_suite(model: str) -> None:
    """A matrix whose OOD means match the bar chart gives mRI = after - before, whatever the
    diagonal (the fine-tuning set itself is excluded)."""
    before, after = BAR_CHART[model]
    rng = np.random.default_rng(0)
    n = len(SUITE8)
    noise_pre = rng.normal(0, 5, n)
    noise_pre -= noise_pre.mean()
    post = np.empty((n, n))
    for i in range(n):
        row = rng.normal(0, 5, n - 1)
        post[i, np.arange(n) != i] = after + row - row.mean()
        post[i, i] = 99.0  # in-task accuracy: must not enter RI
    s = scores_from_arrays(before + noise_pre, post, SUITE8, SUITE8)
    assert s.mri == pytest.approx(after - before, abs=1e-9)
    assert s.avg_ood_post == pytest.approx(after, abs=1e-9)
    assert s.mean_acc_pre == pytest.approx(before, abs=1e-9)


def hand_example(**overrides: object) -> RIBScores:
    pre = {"a": 50.0, "b": 60.0, "c": 70.0, "ref": 80.0}
    post = {
        "a": {"a": 90.0, "b": 55.0, "c": 72.0, "ref": 78.0},
        "b": {"a": 40.0, "b": 95.0, "c": 65.0, "ref": 70.0},
        "c": {"a": 52.0, "b": 61.0, "c": 99.0, "ref": 79.0},
    }
    return compute_rib(pre, post, ["a", "b", "c"], "ref", **overrides)


def test_hand_computed_example() -> None:
    s = hand_example()
    assert s.ri == pytest.approx({"a": -1.5, "b": -7.5, "c": 1.5})
    assert s.mri == pytest.approx(-2.5)
    assert s.reference_degradation == pytest.approx({"a": -2.0, "b": -10.0, "c": -1.0})
    assert s.in_task_gain == pytest.approx({"a": 40.0, "b": 35.0, "c": 29.0})
    assert s.mean_acc_pre == pytest.approx(60.0)
    assert s.avg_ood_post == pytest.approx(57.5)
    assert s.delta.shape == (3, 4) and s.delta[1, 0] == pytest.approx(-10.0)
    assert s.missing == [] and s.complete


def test_finetune_subset() -> None:
    s = hand_example(finetune_sets=["c", "a"])
    assert s.finetune_sets == ["c", "a"]
    assert s.mri == pytest.approx((1.5 - 1.5) / 2)
    # pretrained OOD baseline over the same cells: rows c (a, b) and a (b, c)
    assert s.mean_acc_pre == pytest.approx(((50 + 60) / 2 + (60 + 70) / 2) / 2)
    assert s.mri + s.mean_acc_pre == pytest.approx(s.avg_ood_post)


@pytest.mark.parametrize("seed", range(5))
def test_identity_random_matrices(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 10))
    suite = [f"d{k}" for k in range(n)]
    s = scores_from_arrays(rng.uniform(0, 100, n), rng.uniform(0, 100, (n, n)), suite, suite)
    assert s.mri + s.mean_acc_pre == pytest.approx(s.avg_ood_post, abs=1e-10)
    assert s.mean_acc_pre == pytest.approx(s.acc_pre.mean(), abs=1e-10)


def test_matrix_and_mapping_agree() -> None:
    s = hand_example()
    m = scores_from_arrays(s.acc_pre, s.acc_post, ["a", "b", "c"], ["a", "b", "c"], "ref")
    np.testing.assert_array_equal(m.delta, s.delta)
    assert m.ri == s.ri and m.mri == s.mri


def test_missing_off_diagonal_cell_propagates() -> None:
    pre = {"a": 50.0, "b": 60.0, "c": 70.0}
    post = {"a": {"b": 55.0, "c": 72.0}, "b": {"a": 40.0}, "c": {"a": 52.0, "b": 61.0}}
    s = compute_rib(pre, post, ["a", "b", "c"])
    assert s.ri["a"] == pytest.approx(-1.5) and s.ri["c"] == pytest.approx(1.5)
    assert math.isnan(s.ri["b"]) and math.isnan(s.mri) and math.isnan(s.avg_ood_post)
    assert not s.complete
    assert ("b", "c") in s.missing and ("a", "a") in s.missing
    d = s.to_dict()
    assert d["ri"]["b"] is None and d["mri"] is None and d["delta"]["b"]["c"] is None
    json.dumps(d, allow_nan=False)  # JSON-safe: no NaN
    md = s.to_markdown()
    assert "n/a" in md and "b->c" in md
    # scoring the complete rows explicitly is allowed
    sub = compute_rib(pre, post, ["a", "b", "c"], finetune_sets=["a", "c"])
    assert sub.mri == pytest.approx(0.0)


def test_missing_row_and_pretrained_column() -> None:
    pre = {"a": 50.0, "b": None, "c": 70.0}
    post = {"a": {"b": 55.0, "c": 72.0}, "c": {"a": 52.0, "b": 61.0}}
    s = compute_rib(pre, post, ["a", "b", "c"])
    assert (PRETRAINED, "b") in s.missing
    assert all(math.isnan(v) for v in s.ri.values())  # b is an OOD column of rows a and c
    assert all(("b", j) in s.missing for j in "abc")


def test_markdown_and_dict_layout() -> None:
    s = hand_example()
    md = s.to_markdown()
    lines = md.splitlines()
    assert [c.strip() for c in lines[1].split("|")[1:-1]] == ["i \\ j", "a", "b", "c", "ref"]
    assert [c.strip() for c in lines[3].split("|")[1:-1]] == [
        "a",
        "+40.00",
        "-5.00",
        "+2.00",
        "-2.00",
    ]
    assert "mRI = -2.50" in md and "average post-fine-tuning OOD accuracy = 57.50" in md
    d = s.to_dict()
    assert d["acc_pre"]["ref"] == 80.0 and d["delta"]["a"]["b"] == pytest.approx(-5.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"acc_pre": {"a": 101.0, "b": 50.0}}, r"outside \[0, 100\]"),
        ({"acc_pre": {"a": -0.5, "b": 50.0}}, r"outside \[0, 100\]"),
        ({"acc_post": {"a": {"b": 120.0}}}, r"outside \[0, 100\]"),
        ({"acc_pre": {"a": "high", "b": 50.0}}, "not a number"),
        ({"acc_pre": {"a": 50.0, "imagenet-b": 50.0}}, "not in the suite"),
        ({"acc_post": {"aa": {"b": 50.0}}}, "did you mean 'a'"),
        ({"suite": ["a"]}, "at least 2"),
        ({"suite": ["a", "a"]}, "duplicate"),
        ({"reference": "a"}, "must not be one of"),
        ({"finetune_sets": ["c"]}, "not in the suite"),
    ],
)
def test_inconsistent_inputs_raise(kwargs: dict, match: str) -> None:
    args = {"acc_pre": {"a": 50.0, "b": 60.0}, "acc_post": {"a": {"b": 55.0}}, "suite": ["a", "b"]}
    args.update(kwargs)
    with pytest.raises(ScoreInputError, match=match):
        compute_rib(**args)


def test_extra_names_can_be_ignored() -> None:
    s = compute_rib(
        {"a": 50.0, "b": 60.0, "x": 1.0}, {"a": {"b": 55.0}}, ["a", "b"], allow_extra=True
    )
    assert s.ri["a"] == pytest.approx(-5.0)


@pytest.mark.parametrize(
    ("pre", "post"),
    [
        (np.zeros(3), np.zeros((3, 2))),
        (np.zeros(3), np.zeros((2, 3))),
        (np.zeros(2), np.zeros((3, 3))),
    ],
)
def test_matrix_not_square_over_suite(pre: np.ndarray, post: np.ndarray) -> None:
    with pytest.raises(ScoreInputError, match="expected"):
        scores_from_arrays(pre, post, ["a", "b", "c"], ["a", "b", "c"])


# ----------------------------------------------------------------------------- intervals


def correctness(n: int, seed: int = 0) -> tuple[dict, dict]:
    rng = np.random.default_rng(seed)
    suite = ["a", "b", "c"]
    p_pre = {"a": 0.5, "b": 0.6, "c": 0.7, "ref": 0.8}
    pre = {j: rng.random(n) < p for j, p in p_pre.items()}
    post = {
        i: {j: rng.random(n) < p_pre[j] - 0.1 * (i != j) for j in [*suite, "ref"]} for i in suite
    }
    return pre, post


def test_bootstrap_point_estimates_equal_compute_rib() -> None:
    pre, post = correctness(400)
    iv = bootstrap_rib(pre, post, ["a", "b", "c"], "ref", n_boot=200)
    acc = lambda v: 100.0 * np.mean(v)  # noqa: E731
    s = compute_rib(
        {j: acc(v) for j, v in pre.items()},
        {i: {j: acc(v) for j, v in row.items()} for i, row in post.items()},
        ["a", "b", "c"],
        "ref",
    )
    assert iv.scores.ri == pytest.approx(s.ri, abs=1e-12)
    assert iv.mri.estimate == pytest.approx(s.mri, abs=1e-12)
    assert iv.reference_degradation["b"].estimate == pytest.approx(s.reference_degradation["b"])
    for name, interval in [("mri", iv.mri), *iv.ri.items(), *iv.reference_degradation.items()]:
        assert interval.low <= interval.estimate <= interval.high, name
    assert np.all(iv.delta_low <= iv.scores.delta) and np.all(iv.scores.delta <= iv.delta_high)
    json.dumps(iv.to_dict(), allow_nan=False)
    assert "95% CI" in iv.to_markdown()


def test_bootstrap_intervals_shrink_with_more_images() -> None:
    small = bootstrap_rib(*correctness(200), ["a", "b", "c"], "ref", n_boot=300)
    large = bootstrap_rib(*correctness(5000), ["a", "b", "c"], "ref", n_boot=300)
    assert large.mri.width < small.mri.width / 3  # ~ 1/sqrt(25) = 1/5
    assert large.ri["a"].width < small.ri["a"].width


def test_bootstrap_is_paired_and_seeded() -> None:
    pre, _ = correctness(300)
    post = {i: {j: pre[j].copy() for j in pre} for i in ["a", "b", "c"]}  # no change at all
    iv = bootstrap_rib(pre, post, ["a", "b", "c"], "ref", n_boot=200)
    # paired resampling: identical predictions give dA* = 0 in every replicate
    assert iv.mri.low == iv.mri.high == 0.0
    assert np.all(iv.delta_low == 0.0) and np.all(iv.delta_high == 0.0)
    pre2, post2 = correctness(300)
    a = bootstrap_rib(pre2, post2, ["a", "b", "c"], n_boot=100, seed=3, allow_extra=True)
    b = bootstrap_rib(pre2, post2, ["a", "b", "c"], n_boot=100, seed=3, allow_extra=True)
    assert a.mri.to_dict() == b.mri.to_dict()


def test_bootstrap_missing_cell_and_errors() -> None:
    pre, post = correctness(100)
    del post["b"]["c"]
    iv = bootstrap_rib(pre, post, ["a", "b", "c"], "ref", n_boot=50)
    assert math.isnan(iv.ri["b"].low) and math.isnan(iv.mri.high)
    assert iv.to_dict()["mri"]["low"] is None
    post["a"]["b"] = post["a"]["b"][:-1]
    with pytest.raises(ScoreInputError, match="paired"):
        bootstrap_rib(pre, post, ["a", "b", "c"], "ref", n_boot=50)
    with pytest.raises(ScoreInputError, match="confidence"):
        bootstrap_rib(pre, {}, ["a", "b", "c"], "ref", confidence=95)
    with pytest.raises(ScoreInputError, match="booleans"):
        bootstrap_rib({"a": np.array([0.5, 1.0])}, {}, ["a", "b"])


def test_seed_intervals() -> None:
    seeds = [hand_example(), hand_example(), hand_example()]
    shift = {"a": {"b": 3.0}, "b": {"a": -3.0}}
    pre = {"a": 50.0, "b": 60.0, "c": 70.0, "ref": 80.0}
    for k, s in enumerate(seeds):
        post = {
            i: {j: s.acc_post[a, b] for b, j in enumerate(s.columns)}
            for a, i in enumerate(s.finetune_sets)
        }
        for i, row in shift.items():
            for j, v in row.items():
                post[i][j] += v * (k - 1)
        seeds[k] = compute_rib(pre, post, ["a", "b", "c"], "ref")
    boot = seed_intervals(seeds, method="bootstrap", n_boot=500)
    ri_a = [s.ri["a"] for s in seeds]  # -3, -1.5, 0
    assert boot.ri["a"].estimate == pytest.approx(np.mean(ri_a))
    assert min(ri_a) <= boot.ri["a"].low <= boot.ri["a"].estimate <= boot.ri["a"].high <= max(ri_a)
    assert boot.ri["c"].low == boot.ri["c"].high == pytest.approx(1.5)  # no seed variation
    t = seed_intervals(seeds, method="t", confidence=0.95)
    half = 4.302652729911275 * np.std(ri_a, ddof=1) / np.sqrt(3)  # t_{2, 0.975}
    assert t.ri["a"].low == pytest.approx(np.mean(ri_a) - half)
    assert t.ri["a"].high == pytest.approx(np.mean(ri_a) + half)
    with pytest.raises(ScoreInputError, match="same suite"):
        seed_intervals([seeds[0], hand_example(finetune_sets=["a"])])
    with pytest.raises(ScoreInputError, match=">= 2 seeds"):
        seed_intervals(seeds[:1])


def test_means_over_finetune_sets() -> None:
    s = hand_example()
    assert s.mean_reference_degradation == pytest.approx((-2.0 - 10.0 - 1.0) / 3)
    assert s.mean_in_task_gain == pytest.approx((40.0 + 35.0 + 29.0) / 3)
    no_ref = compute_rib({"a": 50.0, "b": 60.0}, {"a": {"a": 70.0, "b": 55.0}}, ["a", "b"])
    assert math.isnan(no_ref.mean_reference_degradation)
    assert no_ref.to_dict()["mean_reference_degradation"] is None
    iv = bootstrap_rib(*correctness(300), ["a", "b", "c"], "ref", n_boot=100)
    m = iv.mean_in_task_gain
    assert m.estimate == pytest.approx(iv.scores.mean_in_task_gain)
    assert m.low <= m.estimate <= m.high
    assert iv.to_dict()["mean_reference_degradation"]["low"] is not None


def test_interval_api_lives_in_intervals_only() -> None:
    """No re-export through a module __getattr__: one home per name."""
    import imagenet_rib.scores as scores

    assert not hasattr(scores, "__getattr__")
    assert not hasattr(scores, "bootstrap_rib")


def test_kernel_imports_without_pandas_or_evaluate() -> None:
    import subprocess
    import sys

    code = (
        "import sys, imagenet_rib.scores, imagenet_rib.intervals, imagenet_rib.formatting; "
        "print(sorted(m for m in ('pandas', 'evaluate', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_resampling_is_paired_and_independent_of_blocks(monkeypatch) -> None:
    rng = np.random.default_rng(0)
    values = rng.random((97, 7)) < 0.6
    whole = resample_accuracies(values, 50, (3, 1))
    assert whole.shape == (50, 7)
    # the draw depends on (seed, n, B) only: any single model alone sees the same replicates
    alone = resample_accuracies(values[:, 4:5], 50, (3, 1))
    np.testing.assert_allclose(alone[:, 0], whole[:, 4], rtol=0, atol=1e-4)
    # bounding memory (models split into blocks, replicates into chunks) changes nothing
    monkeypatch.setattr(intervals, "_BOOT_VALUE_CELLS", 97 * 2)
    monkeypatch.setattr(intervals, "_BOOT_COUNT_CELLS", 97 * 3)
    np.testing.assert_allclose(resample_accuracies(values, 50, (3, 1)), whole, atol=1e-4)
    # identical models: identical replicates (dA* = 0); a replicate is a mean of 0/1 values
    same = resample_accuracies(np.repeat(values[:, :1], 2, axis=1), 20, 0)
    np.testing.assert_array_equal(same[:, 0], same[:, 1])
    np.testing.assert_allclose(same * 97 / 100, np.round(same * 97 / 100), atol=1e-3)


def test_correlation_interval_fisher_z() -> None:
    x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    y = [2.0, 1.0, 4.0, 3.0, 7.0, 5.0, 6.0]
    c = correlation_interval(x, y, 0.95)
    r = np.corrcoef(x, y)[0, 1]
    q = 1.959963984540054
    assert c.n == 7 and c.pearson.estimate == pytest.approx(r)
    z = math.atanh(r)
    assert c.pearson.low == pytest.approx(math.tanh(z - q / 2.0))  # se = 1 / sqrt(7 - 3)
    assert c.pearson.high == pytest.approx(math.tanh(z + q / 2.0))
    rho = 1 - 6 * sum(d * d for d in [1, -1, 1, -1, 2, -1, -1]) / (7 * 48)  # ranks differ by d
    se = math.sqrt((1 + rho**2 / 2) / 4)  # Bonett & Wright
    assert c.spearman.estimate == pytest.approx(rho)
    assert c.spearman.low == pytest.approx(math.tanh(math.atanh(rho) - q * se))
    small = correlation_interval([1.0, 2.0, 3.0], [3.0, 1.0, 2.0])
    assert math.isnan(small.pearson.low) and not math.isnan(small.pearson.estimate)
    json.dumps(small.to_dict(), allow_nan=False)
    perfect = correlation_interval([1.0, 2.0, 3.0, 4.0, 5.0], [2.0, 4.0, 6.0, 8.0, 10.0])
    assert perfect.pearson.low == perfect.pearson.high == pytest.approx(1.0)
    with pytest.raises(ScoreInputError, match="NaN"):
        correlation_interval([1.0, math.nan, 2.0], [1.0, 2.0, 3.0])
