#!/usr/bin/env python
"""Time and peak memory of OTDD on n = 2k, 10k, 50k samples of 768-d features, 1000 vs 200 classes.

    python scripts/bench_otdd.py [--sizes 2000 10000 50000] [--outer auto] [--naive-pairs 20]

Two implementations of the Gaussian label distances, each run in a fresh subprocess so that
its peak resident memory (ru_maxrss) is its own:

- chunked (this library): `imagenet_rib.otdd.otdd`, the whole distance (class statistics,
  factorised Bures-Wasserstein label distances in memory-bounded blocks, outer OT);
- naive (the microsoft/otdd approach, not chunked): every class covariance materialised as
  a dense (d, d) matrix, the square roots of the smaller side precomputed by
  eigendecomposition, then one d x d matrix square root per class pair. Its memory is
  measured for real; its time is measured on `--naive-pairs` random pairs and extrapolated
  to all k_a * k_b pairs (a full run takes hours), and those pairs are checked against the
  chunked values.

Features are synthetic (class means N(0, 0.5^2 I), unit within-class noise, balanced labels),
float32 like real pre-logit features. Timings on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np

DIM, K_A, K_B = 768, 1000, 200


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def make_features(n: int, k: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    means = rng.normal(0.0, 0.5, size=(k, d)).astype(np.float32)
    labels = rng.permutation(np.arange(n) % k)
    x = rng.standard_normal((n, d), dtype=np.float32)
    x += means[labels]
    return x, labels


def run_chunked(n: int, outer: str) -> dict:
    import ot  # noqa: F401  (imported up front: its import is not part of the measurement)

    from imagenet_rib.otdd import OTDDConfig, otdd

    xa, ya = make_features(n, K_A, DIM, seed=0)
    xb, yb = make_features(n, K_B, DIM, seed=1)
    base = _rss_mb()
    start = time.perf_counter()
    res = otdd(xa, ya, xb, yb, OTDDConfig(outer=outer))
    wall = time.perf_counter() - start
    d = res.diagnostics
    out = {
        "wall_s": wall,
        "peak_mb": _peak_mb(),
        "inputs_mb": base,
        "distance": res.distance,
        "method": res.method,
        "n_outer": d["n_outer_a"],
        "timings_s": d["timings_s"],
    }
    if "sinkhorn" in d:
        out["sinkhorn_error"] = d["sinkhorn"]["max_marginal_error"]
        out["sinkhorn_iters"] = {k: v["n_iter"] for k, v in d["sinkhorn"]["terms"].items()}
    return out


def _sqrtm_psd(s: np.ndarray) -> np.ndarray:
    lam, vec = np.linalg.eigh(s)
    return (vec * np.sqrt(np.clip(lam, 0.0, None))) @ vec.T


def run_naive(n: int, n_pairs: int) -> dict:
    from imagenet_rib.otdd import class_gaussians, label_distances

    xa, ya = make_features(n, K_A, DIM, seed=0)
    xb, yb = make_features(n, K_B, DIM, seed=1)
    base = _rss_mb()
    start = time.perf_counter()
    means_a = np.stack([xa[ya == k].mean(0, dtype=np.float64) for k in range(K_A)])
    means_b = np.stack([xb[yb == k].mean(0, dtype=np.float64) for k in range(K_B)])
    covs_a = np.empty((K_A, DIM, DIM))  # all materialised: k * d^2 doubles
    covs_b = np.empty((K_B, DIM, DIM))
    for k in range(K_A):
        covs_a[k] = np.cov(xa[ya == k].T.astype(np.float64))
    for k in range(K_B):
        covs_b[k] = np.cov(xb[yb == k].T.astype(np.float64))
    t_cov = time.perf_counter() - start
    start = time.perf_counter()
    roots_b = np.empty_like(covs_b)  # square roots of the smaller side, as the reference does
    for k in range(K_B):
        roots_b[k] = _sqrtm_psd(covs_b[k])
    t_sqrt = time.perf_counter() - start
    rng = np.random.default_rng(0)
    pairs = [(int(rng.integers(K_A)), int(rng.integers(K_B))) for _ in range(n_pairs)]
    start = time.perf_counter()
    naive = []
    for i, j in pairs:
        inner = roots_b[j] @ covs_a[i] @ roots_b[j]
        cross = np.sqrt(np.clip(np.linalg.eigvalsh((inner + inner.T) / 2), 0.0, None)).sum()
        bures = np.trace(covs_a[i]) + np.trace(covs_b[j]) - 2 * cross
        naive.append(max(float(np.sum((means_a[i] - means_b[j]) ** 2) + bures), 0.0))
    per_pair = (time.perf_counter() - start) / n_pairs
    peak = _peak_mb()
    del covs_a, covs_b, roots_b
    ia, ib = sorted({i for i, _ in pairs}), sorted({j for _, j in pairs})
    ga = class_gaussians(xa[np.isin(ya, ia)], ya[np.isin(ya, ia)])
    gb = class_gaussians(xb[np.isin(yb, ib)], yb[np.isin(yb, ib)])
    ours = label_distances(ga, gb)
    rel = max(abs(ours[ia.index(i), ib.index(j)] - w) / w for (i, j), w in zip(pairs, naive))
    return {
        "cov_s": t_cov,
        "sqrt_s": t_sqrt,
        "per_pair_s": per_pair,
        "extrapolated_s": t_cov + t_sqrt + per_pair * K_A * K_B,
        "peak_mb": peak,
        "inputs_mb": base,
        "pairs_measured": n_pairs,
        "max_rel_diff_vs_chunked": rel,
    }


def _worker(args: argparse.Namespace) -> None:
    if args.worker == "chunked":
        out = run_chunked(args.n, args.outer_one)
    else:
        out = run_naive(args.n, args.naive_pairs)
    print("RESULT " + json.dumps(out), flush=True)


def _spawn(kind: str, n: int, args: argparse.Namespace, outer: str = "auto") -> dict:
    cmd = [sys.executable, __file__, "--worker", kind, "--n", str(n), "--outer-one", outer]
    cmd += ["--naive-pairs", str(args.naive_pairs)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    return {"error": (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]}


def _fmt_s(seconds: float) -> str:
    return f"{seconds:8.1f} s" if seconds < 3600 else f"{seconds / 3600:6.1f} h"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 10000, 50000])
    parser.add_argument(
        "--outer", nargs="+", default=["auto"], choices=["auto", "exact", "sinkhorn"]
    )
    parser.add_argument(
        "--naive-pairs", type=int, default=20, help="class pairs timed for the naive run"
    )
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--worker", choices=["chunked", "naive"], help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--outer-one", default="auto", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(args)
        return
    print(f"OTDD benchmark: d={DIM}, {K_A} vs {K_B} classes, samples per dataset = n")
    print(
        "peak = peak resident memory of the run's process; above inputs = peak - RSS with the features loaded\n"
    )
    for n in args.sizes:
        for outer in args.outer:
            r = _spawn("chunked", n, args, outer)
            if "error" in r:
                print(f"n={n:6d} chunked ({outer}): FAILED {r['error']}")
                continue
            t = r["timings_s"]
            extra = ""
            if "sinkhorn_error" in r:
                extra = f", sinkhorn marginal error {r['sinkhorn_error']:.1e}, iterations {r['sinkhorn_iters']}"
            print(
                f"n={n:6d} chunked ({r['method']}, outer on {r['n_outer']}/side): {_fmt_s(r['wall_s'])}, "
                f"peak {r['peak_mb']:7.0f} MB ({r['peak_mb'] - r['inputs_mb']:6.0f} MB above inputs)"
                f"  [stats {t.get('class_statistics', 0):.1f} s, label distances {t['label_distances']:.1f} s, "
                f"outer {t['outer']:.1f} s]  OTDD = {r['distance']:.4f}{extra}"
            )
        if args.skip_naive:
            continue
        r = _spawn("naive", n, args)
        if "error" in r:
            print(f"n={n:6d} naive: FAILED {r['error']}")
            continue
        print(
            f"n={n:6d} naive  (dense covariances, per-pair sqrtm): {_fmt_s(r['extrapolated_s'])} "
            f"extrapolated for the label distances alone [covariances {r['cov_s']:.1f} s, "
            f"{K_B} square roots {r['sqrt_s']:.1f} s, {r['per_pair_s'] * 1e3:.0f} ms/pair measured on "
            f"{r['pairs_measured']} pairs x {K_A * K_B} pairs], peak {r['peak_mb']:7.0f} MB "
            f"({r['peak_mb'] - r['inputs_mb']:6.0f} MB above inputs); max relative difference "
            f"to chunked on those pairs {r['max_rel_diff_vs_chunked']:.1e}"
        )
        sys.stdout.flush()


if __name__ == "__main__":
    main()
