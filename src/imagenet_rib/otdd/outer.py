"""The outer problem of OTDD: optimal transport between two labelled (subsampled) samples.

With features x (n, d), x' (m, d), class indices i (n,), j (m,) and the label distances
W (k_a, k_b) of `distance.otdd`, the ground cost and the two solvers are

    C[p, q] = 1/2 ||x_p - x'_q||^2 + 1/2 W[i_p, j_q]                      (n, m)
    exact:    OT(C) = min_{P in U(1/n, 1/m)} <P, C>                        (network simplex)
    sinkhorn: S_eps = OT_eps(C_ab) - 1/2 OT_eps(C_aa) - 1/2 OT_eps(C_bb)   (debiased)

where OT_eps is the entropic OT of `sinkhorn.entropic_ot` with an absolute eps on C's scale
and C_aa, C_bb are the costs of a sample against itself (label distances W within it).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from .sinkhorn import entropic_ot

logger = logging.getLogger(__name__)


def outer_cost(
    x1: np.ndarray, i1: np.ndarray, x2: np.ndarray, i2: np.ndarray, w: np.ndarray
) -> np.ndarray:
    """C = 1/2 ||x1 - x2||^2 + 1/2 w[i1, i2]: (n, m) from x1 (n, d), x2 (m, d), class
    indices i1 (n,), i2 (m,) and label distances w (k1, k2); built in place, one matrix."""
    import ot

    feat = ot.dist(x1, x2)  # ||x - x'||^2 (n, m)
    np.maximum(feat, 0.0, out=feat)
    feat += w[np.ix_(i1, i2)]
    feat *= 0.5
    return feat


def network_simplex(cost: np.ndarray) -> tuple[float, dict[str, Any]]:
    """OT(C) = min_{P in U(1/n, 1/m)} <P, C> for C (n, m), exact (POT `ot.emd2`), and the
    solver's result code and warning (logged: a warning means the optimum was not reached)."""
    import ot

    n, m = cost.shape
    value, log = ot.emd2(
        np.full(n, 1.0 / n), np.full(m, 1.0 / m), cost, numItermax=max(10**7, 10 * n * m), log=True
    )
    if log["warning"]:
        logger.warning("network simplex did not reach the optimum: %s", log["warning"])
    return float(value), {"result_code": int(log["result_code"]), "warning": log["warning"]}


def solve_outer(
    xa: np.ndarray,
    ia: np.ndarray,
    xb: np.ndarray,
    ib: np.ndarray,
    w_ab: np.ndarray,
    w_aa: np.ndarray | None,
    w_bb: np.ndarray | None,
    *,
    method: str,
    epsilon: float,
    tol: float,
    max_iter: int,
) -> tuple[float, dict[str, Any]]:
    """OT(C) (method='exact') or S_eps (method='sinkhorn'; needs w_aa, w_bb) between
    xa (n, d) with class indices ia (n,) and xb (m, d) with ib (m,); see the module docstring.

    Returns the value and its diagnostics: the mean label part 1/2 mean W[i_p, j_q] of C, the
    mean feature part (the rest of mean C), and the solver's report.
    """
    cost = outer_cost(xa, ia, xb, ib, w_ab)
    label_part = 0.5 * float(w_ab[ia].mean(0) @ np.bincount(ib, minlength=w_ab.shape[1])) / len(ib)
    diag: dict[str, Any] = {
        "mean_label_cost": label_part,
        "mean_feature_cost": float(cost.mean()) - label_part,
    }
    if method == "exact":
        distance, diag["exact"] = network_simplex(cost)
        return distance, diag
    opts = {"tol": tol, "max_iter": max_iter}
    terms = {"ab": entropic_ot(cost, epsilon, **opts)}
    del cost  # free the (n, m) matrix before the two self terms are built
    terms["aa"] = entropic_ot(outer_cost(xa, ia, xa, ia, w_aa), epsilon, **opts)
    terms["bb"] = entropic_ot(outer_cost(xb, ib, xb, ib, w_bb), epsilon, **opts)
    diag["sinkhorn"] = {
        "epsilon": epsilon,
        "tol": tol,
        "max_marginal_error": max(t.marginal_error for t in terms.values()),
        "converged": all(t.converged for t in terms.values()),
        "terms": {k: t.to_dict() for k, t in terms.items()},
    }
    return terms["ab"].value - 0.5 * terms["aa"].value - 0.5 * terms["bb"].value, diag
