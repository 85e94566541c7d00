"""Per-class Gaussian statistics and Bures-Wasserstein label-to-label distances.

Each class y of a labelled dataset is approximated by a Gaussian N(mu_y, S_y) fitted to its
feature vectors (mean and unbiased covariance, optionally diagonal); the label distance is the
SQUARED 2-Wasserstein distance between two such Gaussians (Dowson & Landau 1982; Alvarez-Melis
& Fusi, "Geometric Dataset Distances via Optimal Transport", NeurIPS 2020, section 4):

    W(y, y') = ||mu - mu'||^2 + tr(S + S' - 2 (S^1/2 S' S^1/2)^1/2)

How it is computed, and why it fits in memory for 1000 x 200 classes at d = 768:
each covariance is stored as a square-root factor F (d, r) with F F^T = S, r = rank(S)
<= min(n_y - 1, d) (from the n_y x n_y Gram matrix when n_y <= d, else from S itself), and

    tr (S^1/2 S' S^1/2)^1/2 = ||S^1/2 S'^1/2||_* = ||F^T F'||_*     (nuclear norm, (r, r'))

because S^1/2 S'^1/2 and F^T F' have the same singular values. The cross products F^T F' of
a block of class pairs come from one matrix product and their nuclear norms from a batched
eigendecomposition of the smaller Gram matrix, block by block under a memory budget: memory
is O(k d r + budget), never O(k d^2 + k k' d^2). Rank-deficient covariances (fewer samples
than dimensions) need no inverse and no square root of a singular matrix, so they cannot
produce NaN: S is projected onto the PSD cone (negative round-off eigenvalues clipped to 0)
and the distance is exact for that PSD matrix. An optional ridge S + ridge * I is handled
exactly as well, by restricting the problem to span(F, F') (see `_cross_trace_ridge`).
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

DEFAULT_BLOCK_BYTES = 256 * 2**20  # working memory of one block of class pairs


def single_blas_thread() -> contextlib.AbstractContextManager:
    """Run small BLAS/LAPACK calls on one thread: on a shared machine idle BLAS threads spin,
    which makes many small eigenproblems or matrix-vector products 10-40x slower."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional (a scikit-learn dependency)
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


@dataclass
class ClassGaussians:
    """Gaussian statistics of every class of a labelled feature set.

    Attributes:
        classes: (k,) the label values, sorted (np.unique order).
        counts: (k,) n_y, samples per class.
        means: (k, d) mu_y, float64.
        factors: k arrays F_y of shape (d, r_y) with F_y F_y^T = S_y (full covariance), or None.
        variances: (k, d) diagonal of S_y (diagonal covariance), or None.
        ridge: the ridge added to every covariance (S_y + ridge * I).
        ranks: (k,) numerical rank of S_y.
        n_clipped: negative eigenvalues clipped to 0 (PSD projection), over all classes.
        min_eigenvalue: the most negative eigenvalue before clipping (0.0 if none).
    """

    classes: np.ndarray
    counts: np.ndarray
    means: np.ndarray
    factors: list[np.ndarray] | None
    variances: np.ndarray | None
    ridge: float = 0.0
    ranks: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    n_clipped: int = 0
    min_eigenvalue: float = 0.0

    @property
    def dim(self) -> int:
        return int(self.means.shape[1])

    @property
    def diagonal(self) -> bool:
        return self.factors is None

    @property
    def traces(self) -> np.ndarray:
        """(k,) tr(S_y + ridge * I)."""
        if self.variances is not None:
            base = self.variances.sum(1)
        else:
            base = np.array([float(np.sum(f * f)) for f in self.factors])
        return base + self.dim * self.ridge

    def covariance(self, k: int) -> np.ndarray:
        """Dense (d, d) covariance S_k + ridge * I (for checks; O(d^2) memory)."""
        if self.variances is not None:
            return np.diag(self.variances[k] + self.ridge)
        f = self.factors[k]
        return f @ f.T + self.ridge * np.eye(self.dim)

    def summary(self) -> dict[str, Any]:
        return {
            "classes": int(len(self.classes)),
            "covariance": "diagonal" if self.diagonal else "full",
            "rank_deficient": int(np.sum(self.ranks < self.dim)),
            "eigenvalues_clipped": int(self.n_clipped),
            "min_eigenvalue": float(self.min_eigenvalue),
            "ridge": float(self.ridge),
        }


def _psd_factor(xc: np.ndarray) -> tuple[np.ndarray, int, float]:
    """F (d, r) with F F^T = xc^T xc / (n - 1) for centred samples xc (n, d); PSD-projected."""
    n, d = xc.shape
    if n - 1 < d:  # Gram route: rank <= n - 1, eigenproblem of size n
        lam, vec = np.linalg.eigh(xc @ xc.T / (n - 1))
    else:
        lam, vec = np.linalg.eigh(xc.T @ xc / (n - 1))
    tol = max(float(lam.max()), 0.0) * max(n, d) * np.finfo(np.float64).eps
    keep = lam > tol
    clipped = int(np.sum(lam < 0))
    low = float(min(lam.min(), 0.0))
    if n - 1 < d:  # columns orthogonal, with norms sqrt(lam)
        return np.ascontiguousarray(xc.T @ vec[:, keep] / np.sqrt(n - 1)), clipped, low
    fac = vec[:, keep] * np.sqrt(lam[keep])
    return np.ascontiguousarray(fac), clipped, low


def class_gaussians(
    x: np.ndarray,
    y: np.ndarray,
    *,
    diagonal: bool = False,
    ridge: float = 0.0,
    classes: np.ndarray | None = None,
) -> ClassGaussians:
    """Per-class mean mu_y = 1/n_y sum x_i and unbiased covariance S_y = 1/(n_y - 1) sum (x_i - mu_y)(x_i - mu_y)^T.

    Args:
        x: (n, d) features. y: (n,) labels (any sortable values).
        diagonal: keep only diag(S_y).
        ridge: add ridge * I to every S_y (>= 0).
        classes: the classes to fit (default: all of np.unique(y)); each needs n_y >= 2.

    Returns:
        `ClassGaussians` with full covariances stored as PSD square-root factors.
    """
    x = np.asarray(x)
    y = np.asarray(y)
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise ValueError(f"x must be (n, d) and y (n,), got {x.shape} and {y.shape}")
    classes = np.unique(y) if classes is None else np.asarray(classes)
    order = np.argsort(y, kind="stable")
    ys = y[order]
    starts = np.searchsorted(ys, classes, side="left")
    stops = np.searchsorted(ys, classes, side="right")
    counts = stops - starts
    if np.any(counts < 2):
        bad = classes[counts < 2][:5].tolist()
        raise ValueError(f"classes {bad} have fewer than 2 samples; a covariance needs >= 2")
    d = x.shape[1]
    means = np.empty((len(classes), d))
    variances = np.empty((len(classes), d)) if diagonal else None
    factors: list[np.ndarray] | None = None if diagonal else []
    ranks = np.empty(len(classes), dtype=np.int64)
    n_clipped, low = 0, 0.0
    with single_blas_thread():  # many small eigenproblems
        for k, (a, b) in enumerate(zip(starts, stops)):
            xk = x[order[a:b]].astype(np.float64)
            means[k] = xk.mean(0)
            xc = xk - means[k]
            if diagonal:
                variances[k] = np.einsum("ij,ij->j", xc, xc) / (b - a - 1)
                ranks[k] = int(np.sum(variances[k] > 0))
            else:
                fac, clipped, lam_min = _psd_factor(xc)
                factors.append(fac)
                ranks[k] = fac.shape[1]
                n_clipped += clipped
                low = min(low, lam_min)
    return ClassGaussians(
        classes, counts, means, factors, variances, float(ridge), ranks, n_clipped, low
    )


def _sq_dists(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(ka, kb) ||a_i - b_j||^2, clipped at 0."""
    out = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    return np.maximum(out, 0.0, out=out)


def _blocks(ranks: np.ndarray, max_cols: int) -> list[np.ndarray]:
    """Split classes (sorted by rank) into consecutive groups with len * max rank <= max_cols."""
    order = np.argsort(ranks, kind="stable")
    groups, current, width = [], [], 0
    for k in order:
        width_next = max(width, int(ranks[k]), 1)
        if current and width_next * (len(current) + 1) > max_cols:
            groups.append(np.array(current))
            current, width_next = [], max(int(ranks[k]), 1)
        current.append(k)
        width = width_next
    if current:
        groups.append(np.array(current))
    return groups


def _padded(factors: list[np.ndarray], idx: np.ndarray, d: int) -> np.ndarray:
    """(len(idx), d, r_max) zero-padded stack of factors; zero columns add zero singular values."""
    r = max(1, max(factors[k].shape[1] for k in idx))
    out = np.zeros((len(idx), d, r))
    for a, k in enumerate(idx):
        out[a, :, : factors[k].shape[1]] = factors[k]
    return out


def _cross_trace(fa: np.ndarray, fb: np.ndarray) -> np.ndarray:
    """(ca, cb) ||F_a^T F_b||_* for padded stacks fa (ca, d, ra), fb (cb, d, rb)."""
    ca, d, ra = fa.shape
    cb, _, rb = fb.shape
    flat = fa.transpose(0, 2, 1).reshape(ca * ra, d) @ fb.transpose(1, 0, 2).reshape(d, cb * rb)
    x = flat.reshape(ca, ra, cb, rb).transpose(0, 2, 1, 3)  # (ca, cb, ra, rb)
    gram = x @ x.swapaxes(-1, -2) if ra <= rb else x.swapaxes(-1, -2) @ x
    with single_blas_thread():  # a batch of small eigenproblems
        lam = np.linalg.eigvalsh(gram)
    return np.sqrt(np.clip(lam, 0.0, None)).sum(-1)


def _cross_trace_ridge(fa: np.ndarray, fb: np.ndarray, ridge: float) -> np.ndarray:
    """(ca, cb) tr((S1e^1/2 S2e S1e^1/2)^1/2) with Se = F F^T + ridge * I, exactly.

    With F1 = U1 L1^1/2, F2 = U2 L2^1/2 (orthogonal columns), both matrices equal ridge * I
    on the complement of span(U1, U2), which contributes (d - q) * ridge, q = r1 + r2. In the
    orthonormal basis [U1, V] of the span, V completing U2 with U2 = U1 C + V s W^T where
    C = U1^T U2 and I - C^T C = W s^2 W^T: P1 = diag(L1 + ridge, ridge), P2 = G L2 G^T + ridge I
    with G = [C; s W^T], and the trace is sum sqrt(eig(P1^1/2 P2 P1^1/2)). Zero-padded columns
    act as extra orthogonal directions with eigenvalue 0; their terms cancel in (d - q).
    """
    ca, d, ra = fa.shape
    cb, _, rb = fb.shape
    la, lb = (fa * fa).sum(1), (fb * fb).sum(1)  # (ca, ra), (cb, rb) eigenvalues
    inv_a = np.where(la > 0, 1.0 / np.sqrt(np.where(la > 0, la, 1.0)), 0.0)
    inv_b = np.where(lb > 0, 1.0 / np.sqrt(np.where(lb > 0, lb, 1.0)), 0.0)
    flat = fa.transpose(0, 2, 1).reshape(ca * ra, d) @ fb.transpose(1, 0, 2).reshape(d, cb * rb)
    c = flat.reshape(ca, ra, cb, rb).transpose(0, 2, 1, 3)
    c = c * inv_a[:, None, :, None] * inv_b[None, :, None, :]  # U1^T U2 (ca, cb, ra, rb)
    s2, w = np.linalg.eigh(np.eye(rb) - c.swapaxes(-1, -2) @ c)
    g = np.concatenate(
        [c, np.sqrt(np.clip(s2, 0.0, 1.0))[..., :, None] * w.swapaxes(-1, -2)], axis=-2
    )
    p1 = np.concatenate([la + ridge, np.full((ca, rb), ridge)], axis=1)  # (ca, q)
    h = np.sqrt(p1)[:, None, :, None] * g * np.sqrt(lb)[None, :, None, :]  # (ca, cb, q, rb)
    k = h @ h.swapaxes(-1, -2)
    q = ra + rb
    k[..., np.arange(q), np.arange(q)] += ridge * p1[:, None, :]
    return np.sqrt(np.clip(np.linalg.eigvalsh(k), 0.0, None)).sum(-1) + (d - q) * ridge


def label_distances(
    ga: ClassGaussians, gb: ClassGaussians | None = None, *, block_bytes: int = DEFAULT_BLOCK_BYTES
) -> np.ndarray:
    """(k_a, k_b) matrix of W(y, y') (see the module docstring); gb=None: within ga.

    Within one set the matrix is symmetric with an exactly zero diagonal, W(k, k) = 0.
    Memory: the factors plus about `block_bytes` of working space.
    """
    same = gb is None or gb is ga
    gb = ga if gb is None else gb
    if ga.dim != gb.dim or ga.diagonal != gb.diagonal or ga.ridge != gb.ridge:
        raise ValueError("both sides need the same dimension, covariance type and ridge")
    out = np.empty((len(ga.classes), len(gb.classes)))
    mean_sq = _sq_dists(ga.means, gb.means)
    if ga.diagonal:
        ra, rb = np.sqrt(ga.variances + ga.ridge), np.sqrt(gb.variances + gb.ridge)
        out[:] = mean_sq + _sq_dists(ra, rb)
    else:
        ta, tb = ga.traces, gb.traces
        # one block: the flat cross product (ca*ra, cb*rb), its transposed copy, the Gram
        # matrices and the eigen workspace, each <= cap^2 doubles; the ridge path needs
        # (ra + rb)^2 per pair instead of ra * rb, hence smaller blocks
        cap = max(1, int(np.sqrt(block_bytes / 8 / 4)) // (3 if ga.ridge > 0 else 1))
        b_groups = _blocks(gb.ranks, cap)
        a_groups = b_groups if same else _blocks(ga.ranks, cap)
        b_padded = [_padded(gb.factors, g, gb.dim) for g in b_groups]
        a_padded = b_padded if same else [_padded(ga.factors, g, ga.dim) for g in a_groups]
        for bi, (bg, fb) in enumerate(zip(b_groups, b_padded)):
            for ai, (ag, fa) in enumerate(zip(a_groups, a_padded)):
                if same and ai > bi:
                    continue  # mirrored from (bi, ai)
                if ga.ridge > 0:
                    cross = _cross_trace_ridge(fa, fb, ga.ridge)
                else:
                    cross = _cross_trace(fa, fb)
                block = mean_sq[np.ix_(ag, bg)] + ta[ag][:, None] + tb[bg][None, :] - 2.0 * cross
                out[np.ix_(ag, bg)] = block
                if same:
                    out[np.ix_(bg, ag)] = block.T
    np.maximum(out, 0.0, out=out)
    if same:
        np.fill_diagonal(out, 0.0)
    return out
