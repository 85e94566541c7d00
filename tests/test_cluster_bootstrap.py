"""The cluster bootstrap: test images that share a source (a `group`) are resampled together.

Closed forms and exact invariants: singleton groups reproduce the image bootstrap draw for
draw; duplicating every image k times leaves the cluster-bootstrap interval unchanged while
the naive one shrinks by about sqrt(k); perfectly correlated groups give the binomial
standard error of G (not n) draws; unequal group sizes use the ratio estimator."""

from __future__ import annotations

import numpy as np
import pytest

from imagenet_rib.intervals import bootstrap_rib, resample_accuracies
from imagenet_rib.scores import ScoreInputError
from imagenet_rib.scoring import score_records
from support.report_data import REFERENCE, SUITE, N, synthetic_results, toy_suite


def _vectors(n: int, models: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, models)) < 0.6  # (n, m) bool


def test_singleton_groups_are_the_image_bootstrap():
    values = _vectors(120)
    naive = resample_accuracies(values, 200, (4, 2))
    groups = np.array([f"img-{k}" for k in range(120)])
    np.testing.assert_allclose(resample_accuracies(values, 200, (4, 2), groups), naive, atol=1e-9)


def test_ratio_estimator_by_hand_for_unequal_groups():
    values = np.array([[1], [0], [1], [1], [0], [0]], dtype=bool)  # (6, 1)
    groups = np.array(["b", "b", "a", "c", "c", "c"])  # codes by first appearance: b, a, c
    correct, sizes = np.array([1.0, 1.0, 1.0]), np.array([2.0, 1.0, 3.0])
    draws = np.random.default_rng(7).integers(0, 3, size=(5, 3))
    counts = np.stack([np.bincount(d, minlength=3) for d in draws])
    expected = 100.0 * (counts @ correct) / (counts @ sizes)
    got = resample_accuracies(values, 5, 7, groups)[:, 0]
    np.testing.assert_allclose(got, expected, atol=1e-9)


@pytest.mark.parametrize("k", [2, 5])
def test_duplicating_every_image_leaves_the_cluster_interval_unchanged(k):
    """k copies of each image carry no new information: the cluster bootstrap (the copies
    form a group) gives the same interval, the naive bootstrap a narrower one."""
    rng = np.random.default_rng(1)
    n = 150
    pre = {j: rng.random(n) < 0.5 for j in SUITE}
    post = {i: {j: rng.random(n) < 0.4 for j in SUITE} for i in SUITE}
    base = bootstrap_rib(pre, post, SUITE, n_boot=400, seed=3)
    ids = {j: np.arange(n).astype(str) for j in SUITE}
    grouped = bootstrap_rib(pre, post, SUITE, n_boot=400, seed=3, groups=ids)
    assert grouped.mri.low == pytest.approx(base.mri.low, abs=1e-9)

    dup_pre = {j: np.repeat(v, k) for j, v in pre.items()}
    dup_post = {i: {j: np.repeat(v, k) for j, v in r.items()} for i, r in post.items()}
    dup_ids = {j: np.repeat(np.arange(n).astype(str), k) for j in SUITE}
    cluster = bootstrap_rib(dup_pre, dup_post, SUITE, n_boot=400, seed=3, groups=dup_ids)
    naive = bootstrap_rib(dup_pre, dup_post, SUITE, n_boot=400, seed=3)
    assert cluster.mri.estimate == pytest.approx(base.mri.estimate)
    assert (cluster.mri.low, cluster.mri.high) == pytest.approx((base.mri.low, base.mri.high))
    np.testing.assert_allclose(cluster.delta_low, base.delta_low, atol=1e-9)
    # the naive interval shrinks by about 1/sqrt(k) (bootstrap noise: within 25 %)
    assert naive.mri.width / base.mri.width == pytest.approx(1 / np.sqrt(k), rel=0.25)


def test_perfectly_correlated_groups_have_the_standard_error_of_g_draws():
    """G groups of 10 rows, each group all right or all wrong with p = 0.3: the accuracy's
    standard error is 100 sqrt(p (1 - p) / G); the naive bootstrap claims sqrt(10) less."""
    g, size = 200, 10
    hit = np.random.default_rng(2).permutation(g) < int(0.3 * g)  # exactly 60 groups right
    values = np.repeat(hit, size)[:, None]
    groups = np.repeat(np.arange(g), size)
    se = 100 * np.sqrt(0.3 * 0.7 / g)
    cluster = resample_accuracies(values, 4000, 0, groups)[:, 0]
    naive = resample_accuracies(values, 4000, 0)[:, 0]
    assert cluster.mean() == pytest.approx(30.0, abs=0.2)
    assert cluster.std() == pytest.approx(se, rel=0.05)
    assert naive.std() == pytest.approx(se / np.sqrt(size), rel=0.05)


def test_bad_groups_are_refused():
    values = _vectors(10)
    with pytest.raises(ScoreInputError, match="one group label per image"):
        resample_accuracies(values, 10, 0, np.arange(9))
    pre = {j: np.ones(10, bool) for j in SUITE}
    with pytest.raises(ScoreInputError, match="d9"):
        bootstrap_rib(pre, {}, SUITE, n_boot=10, groups={"d9": np.arange(10)})


def test_score_records_resamples_groups_and_says_so():
    df, correct = synthetic_results()
    suite = toy_suite()
    pairs = {j: np.arange(N) // 4 for j in ("d1", "d2")}  # 4 rows per source on d1, d2
    naive = score_records(df, suite, correct=correct, n_boot=300, seed=0)
    grouped = score_records(df, suite, correct=correct, n_boot=300, seed=0, groups=pairs)
    assert grouped.clustered == ("d1", "d2") and naive.clustered == ()
    assert "resampling groups of views of one source on d1, d2" in grouped.interval_note()
    assert "resampling groups" not in naive.interval_note()
    r, r0 = grouped.get("src-b", "ft"), naive.get("src-b", "ft")
    assert r.scores.mri == r0.scores.mri  # point estimates never depend on the resampling
    # the same road as bootstrap_rib with the same groups
    rows = df[(df["model"] == "src-b") & (df["method"].isin(["ft", "pretrained"]))]

    def key(x):
        return (x.run_id, x.variant, x.eval_dataset, x.eval_part)

    pre = {x.eval_dataset: correct(key(x)) for x in rows.itertuples() if x.method == "pretrained"}
    post: dict = {}
    for x in rows.itertuples():
        if x.method == "ft":
            post.setdefault(x.finetune_dataset, {})[x.eval_dataset] = correct(key(x))
    direct = bootstrap_rib(pre, post, SUITE, REFERENCE, n_boot=300, seed=0, groups=pairs)
    assert r.image_intervals.mri.low == pytest.approx(direct.mri.low, abs=1e-9)
    np.testing.assert_allclose(r.image_intervals.delta_high, direct.delta_high, atol=1e-9)
    with pytest.raises(ScoreInputError, match="one group label per image"):
        score_records(df, suite, correct=correct, n_boot=20, groups={"d1": np.arange(N - 1)})
    with pytest.raises(ScoreInputError, match="does not evaluate"):
        score_records(df, suite, correct=correct, n_boot=20, groups={"d7": np.arange(N)})
