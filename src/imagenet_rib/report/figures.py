"""The paper's figures, drawn with matplotlib's Agg backend (imported inside each function).

- `plot_delta_heatmap`: dA(i->j) = A(i->j) - A_pre(j), fine-tuning set i (rows) x evaluation
  set j (columns); a diverging map centred on 0, missing cells hatched and marked "n/a".
- `plot_radar`: per-dataset accuracy before and after fine-tuning on a polar axis.
- `plot_ood_bars`: average OOD accuracy before/after per pretraining source (the paper's bar
  chart; after = mean_j A_pre(j) + mRI).
- `plot_otdd_scatter`: OTDD(pretraining set, D_i) against the pretraining-set degradation after
  fine-tuning on D_i, with Pearson r and Spearman rho in the title.

Every function writes a PNG atomically and returns its path.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..paths import atomic_write_bytes

_DPI = 120


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: str | Path) -> Path:
    path = Path(path)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_DPI, bbox_inches="tight")
    _pyplot().close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return path


def _nan(value: Any) -> float:
    return float("nan") if value is None else float(value)


def delta_frame(scores: Any):
    """The dA matrix as a pandas DataFrame (rows: fine-tuning sets, columns: evaluation sets).

    Accepts a DataFrame (returned as floats), a ``{ft: {eval: dA}}`` mapping, or an object with
    a ``delta`` attribute holding either (`scores.RIBScores`).
    """
    import pandas as pd

    if hasattr(scores, "to_dict") and hasattr(scores, "finetune_sets"):  # scores.RIBScores
        scores = scores.to_dict()["delta"]
    data = getattr(scores, "delta", scores)
    if isinstance(data, pd.DataFrame):
        return data.astype(float)
    if isinstance(data, Mapping):
        rows = list(data)
        cols: list[str] = []
        for row in data.values():
            cols += [c for c in row if c not in cols]
        return pd.DataFrame(
            [[_nan(data[r].get(c)) for c in cols] for r in rows], index=rows, columns=cols
        )
    raise ConfigError(
        f"plot_delta_heatmap got {type(scores).__name__}; pass a RIBScores, a DataFrame or a "
        "{finetune_set: {eval_set: delta}} mapping"
    )


def plot_delta_heatmap(scores: Any, path: str | Path, *, title: str | None = None) -> Path:
    """Heatmap of dA(i->j) in accuracy points; NaN cells (not measured) are hatched grey."""
    import numpy as np

    frame = delta_frame(scores)
    if frame.empty:
        raise ConfigError("plot_delta_heatmap: the dA matrix is empty; nothing was measured")
    plt = _pyplot()
    values = frame.to_numpy(dtype=float)
    finite = values[np.isfinite(values)]
    bound = max(float(np.abs(finite).max()) if finite.size else 1.0, 1e-6)
    n_rows, n_cols = values.shape
    fig, ax = plt.subplots(figsize=(1.0 + 0.8 * n_cols, 1.0 + 0.6 * n_rows))
    ax.set_facecolor("#d9d9d9")
    image = ax.imshow(
        np.ma.masked_invalid(values), cmap="RdBu", vmin=-bound, vmax=bound, aspect="auto"
    )
    for i in range(n_rows):
        for j in range(n_cols):
            v = values[i, j]
            if math.isfinite(v):
                colour = "white" if abs(v) > 0.6 * bound else "black"
                ax.text(j, i, f"{v:+.1f}", ha="center", va="center", fontsize=8, color=colour)
            else:
                ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="//", lw=0))
                ax.text(j, i, "n/a", ha="center", va="center", fontsize=7, color="#555555")
    ax.set_xticks(range(n_cols), [str(c) for c in frame.columns], rotation=45, ha="right")
    ax.set_yticks(range(n_rows), [str(r) for r in frame.index])
    ax.set_xlabel("evaluation set j")
    ax.set_ylabel("fine-tuning set i")
    ax.set_title(title or "dA(i -> j) = A(i -> j) - A_pre(j)  [points]")
    fig.colorbar(image, ax=ax, label="accuracy change (points)")
    return _save(fig, path)


def plot_radar(
    acc_pre: Mapping[str, float],
    acc_post: Mapping[str, float] | Mapping[str, Mapping[str, float]],
    path: str | Path,
    *,
    title: str | None = None,
    pre_label: str = "pretrained",
) -> Path:
    """Radar plot of per-dataset accuracy: the pretrained model and one or more fine-tuned ones.

    `acc_post` is either ``{dataset: acc}`` (one series, "fine-tuned") or
    ``{series label: {dataset: acc}}``; the axes are the datasets of `acc_pre`, in its order.
    """
    import numpy as np

    datasets = list(acc_pre)
    if len(datasets) < 3:
        raise ConfigError(f"plot_radar needs at least 3 datasets for a radar; got {datasets}")
    first = next(iter(acc_post.values()), None)
    series: dict[str, Mapping[str, float]] = (
        dict(acc_post) if isinstance(first, Mapping) else {"fine-tuned": acc_post}  # type: ignore[dict-item]
    )
    plt = _pyplot()
    angles = np.linspace(0, 2 * np.pi, len(datasets), endpoint=False).tolist()
    fig, ax = plt.subplots(figsize=(5.5, 5.5), subplot_kw={"polar": True})
    for label, acc in [(pre_label, acc_pre), *series.items()]:
        values = [_nan(acc.get(d)) for d in datasets]
        ax.plot(angles + angles[:1], values + values[:1], marker="o", ms=3, label=label)
        ax.fill(angles + angles[:1], values + values[:1], alpha=0.08)
    ax.set_xticks(angles, datasets, fontsize=8)
    ax.set_ylim(0, 100)
    ax.set_title(title or "top-1 accuracy (%) before / after fine-tuning", pad=18)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=3, fontsize=8)
    return _save(fig, path)


def plot_ood_bars(
    per_source: Mapping[str, tuple[float, float]],
    path: str | Path,
    *,
    title: str | None = None,
) -> Path:
    """Grouped bars: average OOD accuracy before and after fine-tuning, per pretraining source."""
    import numpy as np

    if not per_source:
        raise ConfigError("plot_ood_bars got no pretraining source; pass {model: (before, after)}")
    plt = _pyplot()
    names = list(per_source)
    before = [_nan(per_source[n][0]) for n in names]
    after = [_nan(per_source[n][1]) for n in names]
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(1.5 + 1.1 * len(names), 3.8))
    for offset, values, label in [(-0.2, before, "before"), (0.2, after, "after fine-tuning")]:
        bars = ax.bar(x + offset, values, width=0.4, label=label)
        ax.bar_label(bars, fmt="%.1f", fontsize=7)
    ax.set_xticks(x, names, rotation=20, ha="right")
    ax.set_ylabel("average OOD accuracy (%)")
    ax.set_title(title or "Average OOD accuracy before / after fine-tuning")
    ax.legend(fontsize=8)
    return _save(fig, path)


def correlation(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """(Pearson r, Spearman rho) of paired values; `otdd.correlation` when available."""
    try:
        from ..otdd import correlation as otdd_correlation
    except ImportError:
        otdd_correlation = None
    if otdd_correlation is not None:
        result = otdd_correlation(list(x), list(y))
        if isinstance(result, Mapping):
            return float(result["pearson"]), float(result["spearman"])
        if hasattr(result, "pearson"):
            return float(result.pearson), float(result.spearman)
        return float(result[0]), float(result[1])
    from scipy import stats

    if len(x) < 3:
        return float("nan"), float("nan")
    return float(stats.pearsonr(x, y)[0]), float(stats.spearmanr(x, y)[0])


def plot_otdd_scatter(
    distances: Mapping[str, float],
    degradations: Mapping[str, float],
    path: str | Path,
    *,
    title: str | None = None,
) -> Path:
    """Scatter of OTDD(pretraining set, D_i) against the pretraining-set degradation of D_i.

    Points are the keys present in both mappings (labelled); the title gives Pearson r and
    Spearman rho over them (PROTOCOL.md section 8).
    """
    keys = [k for k in distances if k in degradations and degradations[k] is not None]
    if len(keys) < 2:
        raise ConfigError(
            f"plot_otdd_scatter needs >= 2 datasets with both a distance and a degradation; "
            f"distances for {sorted(distances)}, degradations for {sorted(degradations)}"
        )
    x = [float(distances[k]) for k in keys]
    y = [float(degradations[k]) for k in keys]
    r, rho = correlation(x, y)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.8))
    ax.scatter(x, y)
    for k, xi, yi in zip(keys, x, y):
        ax.annotate(str(k), (xi, yi), textcoords="offset points", xytext=(4, 3), fontsize=7)
    ax.set_xlabel("OTDD(pretraining set, fine-tuning set)")
    ax.set_ylabel("pretraining-set degradation (points)")
    ax.set_title(title or f"OTDD vs degradation: Pearson r = {r:.2f}, Spearman rho = {rho:.2f}")
    return _save(fig, path)
