"""OTDD: closed-form Bures-Wasserstein label distances, the invariants in docs/protocol.md
("Optimal-transport dataset distance"):
(OTDD(D, D) ~ 0, label renaming, symmetry, exact vs Sinkhorn, rank-deficient covariances),
the Sinkhorn solver against POT, feature extraction, correlation tooling and `rib otdd`."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.linalg

from imagenet_rib.cli import main
from imagenet_rib.errors import ConfigError, RIBError
from imagenet_rib.otdd import (
    OTDDConfig,
    OTDDInputError,
    OTDDVector,
    class_gaussians,
    correlation,
    entropic_ot,
    extract_features,
    label_distances,
    otdd,
)

REL = 1e-6  # relative tolerance of the Gaussian label distances (float64, Gram eigenvalues)


def closed_form(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2), independently via scipy sqrtm."""
    r1 = scipy.linalg.sqrtm(s1).real
    cross = scipy.linalg.sqrtm(r1 @ s2 @ r1).real
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * cross))


def bures_wasserstein_sq(
    mean1: np.ndarray, cov1: np.ndarray, mean2: np.ndarray, cov2: np.ndarray
) -> float:
    """W_2^2(N(mu1, S1), N(mu2, S2)) = ||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2).

    The dense closed form for one pair (Dowson & Landau 1982), an independent check of the
    blocked `label_distances`: eigh square roots, so rank-deficient PSD covariances are exact.
    mean: (d,); cov: (d, d) PSD, or (d,) for a diagonal covariance. O(d^3).
    """
    mean1, mean2 = np.asarray(mean1, float), np.asarray(mean2, float)
    cov1, cov2 = np.asarray(cov1, float), np.asarray(cov2, float)
    mean_term = float(np.sum((mean1 - mean2) ** 2))
    if cov1.ndim == 1 and cov2.ndim == 1:
        return max(
            mean_term
            + float(
                np.sum((np.sqrt(np.clip(cov1, 0, None)) - np.sqrt(np.clip(cov2, 0, None))) ** 2)
            ),
            0.0,
        )
    cov1 = np.diag(cov1) if cov1.ndim == 1 else cov1
    cov2 = np.diag(cov2) if cov2.ndim == 1 else cov2
    lam, vec = np.linalg.eigh((cov1 + cov1.T) / 2)
    root1 = (vec * np.sqrt(np.clip(lam, 0, None))) @ vec.T
    inner = root1 @ cov2 @ root1
    cross = np.sqrt(np.clip(np.linalg.eigvalsh((inner + inner.T) / 2), 0, None)).sum()
    return max(mean_term + float(np.trace(cov1) + np.trace(cov2) - 2 * cross), 0.0)


def samples_with_moments(mu: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """2d points whose sample mean is mu and unbiased sample covariance is exactly cov."""
    d = len(mu)
    root = scipy.linalg.sqrtm(cov).real
    c = np.sqrt((2 * d - 1) / 2)
    return np.concatenate([mu + c * root, mu - c * root])


def random_spd(d: int, rng: np.random.Generator) -> np.ndarray:
    a = rng.normal(size=(d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


def clusters(
    n: int, k: int, d: int, seed: int, shift: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(k, d)) * 2.0
    y = rng.integers(0, k, n)
    return means[y] + rng.normal(size=(n, d)) + shift, y


# ----------------------------------------------------------------------------- label distances


def test_label_distances_match_closed_form_bures_wasserstein() -> None:
    rng = np.random.default_rng(0)
    d = 5
    params_a = [(rng.normal(size=d), random_spd(d, rng)) for _ in range(3)]
    params_b = [(rng.normal(size=d) + 1, random_spd(d, rng)) for _ in range(2)]
    xa = np.concatenate([samples_with_moments(m, s) for m, s in params_a])
    ya = np.repeat(np.arange(3), 2 * d)
    xb = np.concatenate([samples_with_moments(m, s) for m, s in params_b])
    yb = np.repeat([10, 20], 2 * d)
    ga, gb = class_gaussians(xa, ya), class_gaussians(xb, yb)
    np.testing.assert_allclose(ga.covariance(1), params_a[1][1], atol=1e-12)
    expected = np.array([[closed_form(*pa, *pb) for pb in params_b] for pa in params_a])
    np.testing.assert_allclose(label_distances(ga, gb), expected, rtol=REL)
    np.testing.assert_allclose(
        label_distances(ga, gb, block_bytes=64), expected, rtol=REL
    )  # 1 pair/block
    res = otdd(xa, ya, xb, yb)
    np.testing.assert_allclose(res.label_distances, expected, rtol=REL)
    assert res.classes_b.tolist() == [10, 20]
    # the dense single-pair function agrees too
    assert bures_wasserstein_sq(*params_a[0], *params_b[1]) == pytest.approx(
        expected[0, 1], rel=REL
    )


def test_commuting_and_diagonal_closed_form() -> None:
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    v1, v2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(v1) - np.sqrt(v2)) ** 2)  # 5 + 6
    assert expected == pytest.approx(11.0)
    x = np.concatenate(
        [samples_with_moments(mu1, np.diag(v1)), samples_with_moments(mu2, np.diag(v2))]
    )
    y = np.repeat([0, 1], 6)
    for diagonal in (False, True):
        w = label_distances(class_gaussians(x, y, diagonal=diagonal))
        assert w[0, 1] == pytest.approx(expected, rel=REL) and w[1, 0] == w[0, 1]
        assert w[0, 0] == 0.0 and w[1, 1] == 0.0
    assert bures_wasserstein_sq(mu1, v1, mu2, v2) == pytest.approx(expected)


@pytest.mark.parametrize("ridge", [0.0, 0.5])
def test_rank_deficient_classes_no_nan(ridge: float) -> None:
    """Classes with fewer samples than dimensions: exact PSD Bures, no NaN, and reported."""
    rng = np.random.default_rng(1)
    d = 12
    x = rng.normal(size=(3 + 4 + 20, d))
    y = np.repeat([0, 1, 2], [3, 4, 20])
    g = class_gaussians(x, y, ridge=ridge)
    assert g.ranks.tolist() == [2, 3, 12]
    w = label_distances(g)
    assert np.isfinite(w).all()
    dense = [
        [
            bures_wasserstein_sq(g.means[i], g.covariance(i), g.means[j], g.covariance(j))
            for j in range(3)
        ]
        for i in range(3)
    ]
    np.testing.assert_allclose(w, np.array(dense) * (1 - np.eye(3)), rtol=1e-6, atol=1e-9)
    xb = rng.normal(size=(10, d)) + 1
    res = otdd(x, y, xb, np.repeat([0, 1], 5), OTDDConfig(cov_ridge=ridge))
    assert np.isfinite(res.distance) and np.isfinite(res.label_distances).all()
    assert res.diagnostics["gaussian_a"]["rank_deficient"] == 2
    assert res.diagnostics["gaussian_b"]["rank_deficient"] == 2
    assert "rank-deficient" in res.diagnostics["regularisation"]
    assert f"ridge {ridge:g}" in res.diagnostics["regularisation"]


def test_self_distances_symmetric_zero_diagonal() -> None:
    x, y = clusters(400, 6, 8, seed=2)
    g = class_gaussians(x, y)
    w = label_distances(g, block_bytes=2000)
    np.testing.assert_array_equal(w, w.T)
    assert np.all(np.diag(w) == 0.0) and np.all(w[~np.eye(6, dtype=bool)] > 0)
    np.testing.assert_allclose(w, label_distances(g, class_gaussians(x, y)), rtol=REL, atol=1e-8)


# ----------------------------------------------------------------------------- otdd invariants


A = clusters(240, 5, 6, seed=3)
B = clusters(200, 4, 6, seed=4, shift=0.7)
CONFIGS = {
    "exact/gaussian": OTDDConfig(outer="exact"),
    "exact/exact": OTDDConfig(outer="exact", inner="exact"),
    "sinkhorn/gaussian": OTDDConfig(outer="sinkhorn"),
    "exact/diagonal": OTDDConfig(outer="exact", covariance="diagonal"),
}


def test_hand_computed_value_and_cost_convention() -> None:
    """Shift every point by 0.1: 1/2 * 0.1^2 (features) + 1/2 * W = 1/2 * 0.1^2 (class means)."""
    xa = np.array([[0.0], [0.2], [1.0], [1.2]])
    ya = np.array([0, 0, 1, 1])
    exact = otdd(xa, ya, xa + 0.1, ya, OTDDConfig(outer="exact"))
    assert exact.distance == pytest.approx(0.01, rel=1e-9)
    np.testing.assert_allclose(exact.label_distances, [[0.01, 1.21], [0.81, 0.01]], rtol=1e-9)
    sink = otdd(xa, ya, xa + 0.1, ya, OTDDConfig(outer="sinkhorn", epsilon=1e-4, sinkhorn_tol=1e-6))
    assert sink.distance == pytest.approx(0.01, rel=1e-2)
    # only the class-conditional distributions matter, not which name they carry
    assert otdd(xa, ya, xa, 1 - ya, OTDDConfig(outer="exact")).distance == pytest.approx(
        0.0, abs=1e-12
    )


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_distance_to_itself_is_zero(name: str) -> None:
    res = otdd(*A, *A, CONFIGS[name])
    scale = res.diagnostics["mean_feature_cost"]
    assert abs(res.distance) < 1e-9 * scale  # OTDD(D, D) ~ 0 relative to the cost scale
    assert np.allclose(np.diag(res.label_distances), 0.0, atol=1e-9 * scale)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_label_renaming_and_symmetry(name: str) -> None:
    cfg = CONFIGS[name]
    base = otdd(*A, *B, cfg)
    names = np.array(["zebra", "apple", "mango", "kiwi", "fig"])  # permuted order when sorted
    renamed = otdd(A[0], names[A[1]], *B, cfg)
    assert renamed.distance == pytest.approx(base.distance, rel=1e-9)
    swapped = otdd(*B, *A, cfg)
    assert swapped.distance == pytest.approx(base.distance, rel=1e-6)
    np.testing.assert_allclose(swapped.label_distances, base.label_distances.T, rtol=REL)
    assert base.distance > 1.0


@pytest.mark.parametrize("inner", ["gaussian", "exact"])
def test_exact_and_sinkhorn_agree(inner: str) -> None:
    exact = otdd(*A, *B, OTDDConfig(outer="exact", inner=inner))
    sink = otdd(*A, *B, OTDDConfig(outer="sinkhorn", inner=inner))
    assert sink.distance == pytest.approx(exact.distance, rel=1e-2)  # entropic bias ~ eps
    s = sink.diagnostics["sinkhorn"]
    assert s["converged"] and s["max_marginal_error"] <= 1e-3
    assert set(s["terms"]) == {"ab", "aa", "bb"}
    finer = otdd(*A, *B, OTDDConfig(outer="sinkhorn", inner=inner, epsilon=0.01, sinkhorn_tol=1e-4))
    assert abs(finer.distance - exact.distance) < abs(sink.distance - exact.distance)
    assert exact.diagnostics["exact"]["result_code"] == 1


def test_subsampling_dropping_and_result_dict() -> None:
    xa, ya = clusters(300, 4, 5, seed=5)
    ya[0] = 99  # a class with a single sample: dropped and reported
    cfg = OTDDConfig(max_samples=120, seed=7)
    res = otdd(xa, ya, B[0][:, :5], B[1], cfg)
    d = res.diagnostics
    assert d["n_outer_a"] == 120 and d["n_outer_b"] == 120 and d["n_a"] == 300
    assert d["dropped_classes_a"] == [99] and 99 not in res.classes_a
    assert otdd(xa, ya, B[0][:, :5], B[1], cfg).distance == res.distance  # seeded
    other = otdd(xa, ya, B[0][:, :5], B[1], OTDDConfig(max_samples=120, seed=8))
    assert other.distance != res.distance
    out = json.loads(json.dumps(res.to_dict()))
    assert out["distance"] == res.distance and len(out["label_distances"]) == 4
    assert "OTDD =" in res.summary() and "dropped classes of a" in res.summary()


def test_input_and_config_errors() -> None:
    with pytest.raises(OTDDInputError, match="dimensions differ"):
        otdd(*A, np.zeros((4, 3)), np.zeros(4))
    with pytest.raises(OTDDInputError, match="shape"):
        otdd(A[0], A[1][:-1], *B)
    with pytest.raises(OTDDInputError, match="NaN"):
        otdd(np.full((4, 6), np.nan), np.zeros(4), *B)
    with pytest.raises(ConfigError, match=r"outer='greedy' is not allowed; choose one of"):
        OTDDConfig(outer="greedy")
    with pytest.raises(ConfigError, match="epsilon"):
        OTDDConfig(epsilon=0.0)
    with pytest.raises(ConfigError, match="inner='gaussian' only"):
        OTDDConfig(inner="exact", covariance="diagonal")
    with pytest.raises(ConfigError, match="unknown option"):
        OTDDConfig.from_dict({"eps": 1})
    assert OTDDConfig.from_dict(OTDDConfig(epsilon=0.5).to_dict()).epsilon == 0.5


# ----------------------------------------------------------------------------- sinkhorn solver


def test_entropic_ot_matches_pot() -> None:
    import ot

    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(60, 3)), rng.normal(size=(50, 3)) + 0.5
    cost = ot.dist(x, y) / 2
    eps = 0.5
    rep = entropic_ot(cost, eps, tol=1e-10, max_iter=5000)
    a, b = np.full(60, 1 / 60), np.full(50, 1 / 50)
    plan = ot.sinkhorn(a, b, cost, eps, method="sinkhorn_log", numItermax=100000, stopThr=1e-13)
    primal = np.sum(plan * cost) + eps * np.sum(plan * np.log(plan / np.outer(a, b)))
    assert rep.converged and rep.marginal_error <= 1e-10
    assert rep.value == pytest.approx(primal, rel=1e-8)


def test_entropic_ot_reports_non_convergence(caplog: pytest.LogCaptureFixture) -> None:
    rng = np.random.default_rng(7)
    means = rng.normal(size=(4, 4)) * 5
    x = means[rng.integers(0, 4, 150)] + rng.normal(size=(150, 4))
    y = means[rng.integers(0, 4, 150)] + rng.normal(size=(150, 4))
    cost = 0.5 * ((x[:, None] - y[None]) ** 2).sum(-1)
    rep = entropic_ot(cost, 0.01, tol=1e-12, max_iter=20)
    assert not rep.converged and rep.marginal_error > 1e-12 and rep.n_iter > 20
    assert "stopped after" in caplog.text


# ----------------------------------------------------------------------------- features


class TinyClassifier:
    """Built lazily so collecting this module does not import torch."""

    @staticmethod
    def make():
        import torch

        class Net(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.backbone = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 7))
                self.classifier = torch.nn.Linear(7, 3)

            def forward(self, x):
                return self.classifier(self.backbone(x))

        torch.manual_seed(0)
        return Net()


def test_extract_features_hooks_the_head_input() -> None:
    import torch

    model = TinyClassifier.make().train()
    images = torch.randn(10, 3, 2, 2)
    labels = torch.arange(10) % 3
    tuples = [(images[:4], labels[:4]), (images[4:], labels[4:])]
    feats, y = extract_features(model, tuples)
    with torch.no_grad():
        expected = model.backbone(images).numpy()
    assert feats.shape == (10, 7) and feats.dtype == np.float32
    np.testing.assert_allclose(feats, expected, rtol=1e-6)
    assert y.tolist() == labels.tolist() and model.training  # mode restored
    dicts = [
        {"pixel_values": images[:4], "labels": labels[:4]},
        {"pixel_values": images[4:], "label": labels[4:]},
    ]
    feats2, _ = extract_features(model, dicts, head=model.classifier, max_samples=6)
    np.testing.assert_allclose(feats2, expected[:6], rtol=1e-6)
    with pytest.raises(ConfigError, match="head="):
        extract_features(torch.nn.Linear(3, 3), tuples)


def test_extract_features_transformers_vit() -> None:
    transformers = pytest.importorskip("transformers")
    import torch

    cfg = transformers.ViTConfig(
        hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=20,
        image_size=8, patch_size=4, num_labels=5,
    )  # fmt: skip
    torch.manual_seed(0)
    model = transformers.ViTForImageClassification(cfg)
    pixels = torch.randn(3, 3, 8, 8)
    feats, _ = extract_features(model, [{"pixel_values": pixels, "labels": torch.zeros(3)}])
    with torch.no_grad():
        cls = model.vit(pixels).last_hidden_state[:, 0].numpy()  # the input of model.classifier
    np.testing.assert_allclose(feats, cls, rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------- correlation + CLI


def test_correlation(tmp_path) -> None:
    dist = {"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0}
    linear = correlation(
        dist, {k: -2.0 * v + 1 for k, v in dist.items()}, plot_path=tmp_path / "s.png"
    )
    assert linear.pearson == pytest.approx(-1.0) and linear.spearman == pytest.approx(-1.0)
    assert linear.pearson_p < 1e-6
    assert (tmp_path / "s.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    monotone = correlation(dist, {k: -np.exp(3 * v) for k, v in dist.items()})
    assert monotone.spearman == pytest.approx(-1.0) and -1.0 < monotone.pearson < -0.7
    assert json.loads(json.dumps(monotone.to_dict()))["n"] == 4
    seq = correlation(list(dist.values()), [-np.exp(3 * v) for v in dist.values()])
    assert seq.pearson == monotone.pearson and seq.names == ["0", "1", "2", "3"]
    with pytest.raises(RIBError, match="only in distances"):
        correlation(dist, {"a": 1.0, "b": 2.0, "c": 3.0})
    with pytest.raises(RIBError, match="NaN"):
        correlation(dist, {**{k: 1.0 for k in dist}, "a": float("nan")})
    with pytest.raises(RIBError, match="equal-length"):
        correlation([1.0, 2.0], [1.0])


def test_cli_otdd(tmp_path, capsys: pytest.CaptureFixture) -> None:
    np.savez(tmp_path / "a.npz", features=A[0].astype(np.float32), labels=A[1])
    np.savez(tmp_path / "b.npz", features=B[0].astype(np.float32), labels=B[1])
    out = tmp_path / "r.json"
    argv = [
        "otdd",
        "--features-a",
        str(tmp_path / "a.npz"),
        "--features-b",
        str(tmp_path / "b.npz"),
    ]
    assert main([*argv, "--outer", "exact", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    direct = otdd(
        A[0].astype(np.float32), A[1], B[0].astype(np.float32), B[1], OTDDConfig(outer="exact")
    )
    (entry,) = result["entries"]  # the OTDD file format; the .npz names name the datasets
    assert (entry["reference"], entry["dataset"], entry["model"]) == ("a", "b", None)
    assert entry["distance"] == pytest.approx(direct.distance, rel=1e-12)
    back = OTDDVector.load(out).entries[0].result
    assert back.distance == entry["distance"] and back.config == OTDDConfig(outer="exact")
    np.testing.assert_array_equal(back.label_distances, direct.label_distances)
    assert "OTDD =" in capsys.readouterr().out
    np.savez(tmp_path / "bad.npz", x=np.zeros(2))
    assert (
        main(
            [
                "otdd",
                "--features-a",
                str(tmp_path / "bad.npz"),
                "--features-b",
                str(tmp_path / "b.npz"),
            ]
        )
        == 2
    )
    assert "lacks ['features', 'labels']" in capsys.readouterr().err
    assert main([*argv, "--epsilon", "-1"]) == 2


def test_cli_otdd_extracts_model_features(tmp_path, monkeypatch) -> None:
    """`rib otdd --model ... --dataset-a ... --dataset-b ...`: D vs D ~ 0, D vs D' > 0."""
    from support.rib_tiny import make_dataset, make_model

    make_model(tmp_path / "model")
    make_dataset("plain", 60, "plain", tmp_path / "plain")
    make_dataset("shift", 60, "shift", tmp_path / "shift")
    monkeypatch.setenv("IMAGENET_RIB_DATA_MINI_VAL", str(tmp_path / "plain"))
    monkeypatch.setenv("IMAGENET_RIB_DATA_MINI_SKETCH", str(tmp_path / "shift"))
    base = ["otdd", "--model", str(tmp_path / "model"), "--part", "train", "--outer", "exact"]
    same, other = tmp_path / "same.json", tmp_path / "other.json"
    assert (
        main([*base, "--dataset-a", "mini-val", "--dataset-b", "mini-val", "--json", str(same)])
        == 0
    )
    assert (
        main([*base, "--dataset-a", "mini-val", "--dataset-b", "mini-sketch", "--json", str(other)])
        == 0
    )
    d_same = OTDDVector.load(same).entries[0].distance
    d_other = OTDDVector.load(other).entries[0].distance
    assert abs(d_same) < 1e-6 * max(d_other, 1.0)
    assert d_other > 0
    assert main([*base, "--dataset-a", "mini-val"]) == 2  # --dataset-b missing: clear error
