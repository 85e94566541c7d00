"""The report's figures as matplotlib `Figure`s (Agg backend; matplotlib imported inside).

- `draw_delta_grid`: dA(i->j) heatmaps of several series in a grid, on ONE colour scale
  (`bound`: the same for every heatmap of a report), missing cells hatched and marked n/a;
- `draw_mri_bars`: mRI per method with its interval, one panel per pretraining source;
- `draw_ood_bars`: average OOD accuracy before / after fine-tuning per pretraining source
  (the paper's bar chart) with error bars on both;
- `draw_radar`: per-dataset accuracy, pretrained against each series, as small multiples;
- `draw_otdd_scatter`: OTDD(pretraining set, D_i) against the pretraining-set degradation,
  labels placed so they stay inside the axes and never overlap, with the correlations and
  their intervals in the title.

Intervals are `intervals.Interval`s (estimate, low, high); NaN bounds draw no error bar.
`save_figure` writes a PNG atomically and closes the figure.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..correlation import CorrelationInterval
from ..errors import ConfigError
from ..intervals import Interval
from ..paths import atomic_write_bytes

DPI = 120  # figures are laid out (labels placed) and saved at this resolution
LABEL_GID = "point-label"  # gid of the scatter's point labels


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: str | Path) -> Path:
    path = Path(path)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    _pyplot().close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return path


def heatmap_bound(matrices: Sequence[np.ndarray]) -> float:
    """The colour limit shared by a report's heatmaps: max |dA| rounded up to 5 points."""
    finite = [np.abs(m[np.isfinite(m)]).max() for m in matrices if np.isfinite(m).any()]
    return max(5.0, 5.0 * math.ceil(max(finite, default=0.0) / 5.0))


def _grid(plt: Any, n: int, ncols: int, size: tuple[float, float], **kw: Any):
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows), dpi=DPI, squeeze=False, **kw
    )
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def draw_delta_grid(
    series: Mapping[str, tuple[np.ndarray, Sequence[str], Sequence[str]]],
    *,
    bound: float,
    title: str,
    ncols: int = 4,
) -> Any:
    """One heatmap per series: ``{label: (delta (r, c), row names, column names)}``."""
    if not series:
        raise ConfigError("draw_delta_grid got no series; nothing was measured")
    plt = _pyplot()
    first = next(iter(series.values()))[0]
    fig, axes = _grid(
        plt, len(series), ncols, (0.45 * first.shape[1] + 1.4, 0.4 * first.shape[0] + 2.0)
    )
    image = None
    for ax, (label, (delta, rows, cols)) in zip(axes, series.items()):
        ax.set_facecolor("#d9d9d9")
        image = ax.imshow(
            np.ma.masked_invalid(delta), cmap="RdBu", vmin=-bound, vmax=bound, aspect="auto"
        )
        for i, j in np.ndindex(delta.shape):
            v = delta[i, j]
            if math.isfinite(v):
                colour = "white" if abs(v) > 0.6 * bound else "black"
                ax.text(j, i, f"{v:+.1f}", ha="center", va="center", fontsize=6, color=colour)
            else:
                ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="//", lw=0))
                ax.text(j, i, "n/a", ha="center", va="center", fontsize=5, color="#555555")
        ax.set_xticks(range(len(cols)), list(cols), rotation=60, ha="right", fontsize=6)
        ax.set_yticks(range(len(rows)), list(rows), fontsize=6)
        ax.set_title(label, fontsize=8)
    axes[0].set_ylabel("fine-tuned on i", fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.colorbar(image, ax=axes, label="dA (accuracy points)", shrink=0.8)
    return fig


def _xerr(intervals: Sequence[Interval | None], values: Sequence[float]) -> np.ndarray:
    """(2, n) asymmetric error lengths; 0 where no interval (NaN bounds)."""
    err = np.zeros((2, len(values)))
    for k, (iv, v) in enumerate(zip(intervals, values)):
        if iv is not None and math.isfinite(iv.low) and math.isfinite(iv.high):
            err[:, k] = max(0.0, v - iv.low), max(0.0, iv.high - v)
    return err


def draw_mri_bars(
    panels: Mapping[str, Sequence[tuple[str, float, Interval | None]]],
    *,
    title: str,
    note: str,
) -> Any:
    """Horizontal bars of mRI with error bars; one panel per pretraining source
    (``{model: [(series label, mRI, interval), ...]}``); NaN mRI is written as n/a."""
    if not panels:
        raise ConfigError("draw_mri_bars got no series")
    plt = _pyplot()
    height = max(len(v) for v in panels.values())
    fig, axes = _grid(plt, len(panels), 2, (4.6, 0.32 * height + 1.3), sharex=True)
    for ax, (model, bars) in zip(axes, panels.items()):
        labels = [b[0] for b in bars]
        values = [b[1] for b in bars]
        y = np.arange(len(bars))
        shown = [0.0 if math.isnan(v) else v for v in values]
        colours = ["#b2182b" if v < 0 else "#2166ac" for v in shown]
        ax.barh(y, shown, color=colours, xerr=_xerr([b[2] for b in bars], shown), capsize=2)
        for k, v in enumerate(values):
            if math.isnan(v):
                ax.text(0, k, " n/a (incomplete)", va="center", fontsize=6, color="#555555")
        ax.axvline(0, color="black", lw=0.6)
        ax.set_yticks(y, labels, fontsize=7)
        ax.invert_yaxis()  # the table's order, top to bottom
        ax.set_title(model, fontsize=8)
        ax.set_xlabel("mRI (accuracy points)", fontsize=7)
    fig.suptitle(f"{title}\n{note}", fontsize=8)
    fig.tight_layout()
    return fig


def draw_ood_bars(
    per_source: Mapping[str, tuple[Interval, Interval | None]],
    *,
    title: str,
    note: str,
) -> Any:
    """Grouped bars per pretraining source: average OOD accuracy before (its interval) and
    after fine-tuning (its interval); the estimate of `after` NaN draws no bar."""
    if not per_source:
        raise ConfigError("draw_ood_bars got no pretraining source; pass {model: (before, after)}")
    plt = _pyplot()
    names = list(per_source)
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(3.6, 1.6 + 1.1 * len(names)), 4.0), dpi=DPI)
    for offset, k, label in ((-0.2, 0, "before"), (0.2, 1, "after fine-tuning")):
        ivs = [per_source[n][k] for n in names]
        vals = [math.nan if iv is None else iv.estimate for iv in ivs]
        shown = [0.0 if math.isnan(v) else v for v in vals]
        bars = ax.bar(x + offset, shown, width=0.4, label=label, yerr=_xerr(ivs, shown), capsize=3)
        texts = ["n/a" if math.isnan(v) else f"{v:.1f}" for v in vals]
        ax.bar_label(bars, labels=texts, label_type="center", fontsize=7, color="white")
        for xk, v in zip(x + offset, vals):
            if math.isnan(v):  # no bar to write in
                ax.text(xk, 1.0, "n/a", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x, names, rotation=20, ha="right")
    ax.set_ylabel("average OOD accuracy (%)")
    ax.set_title(f"{title}\n{note}", fontsize=8)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    fig.tight_layout()
    return fig


def draw_radar(
    acc_pre: Mapping[str, float],
    series: Mapping[str, Mapping[str, float]],
    *,
    title: str,
    ncols: int = 4,
) -> Any:
    """Small multiples: per series, the pretrained model's accuracy (dashed) and the series'
    accuracy on each dataset (mean over the fine-tuning sets i != j)."""
    datasets = list(acc_pre)
    if len(datasets) < 3:
        raise ConfigError(f"draw_radar needs at least 3 datasets for a radar; got {datasets}")
    if not series:
        raise ConfigError("draw_radar got no series")
    plt = _pyplot()
    angles = np.linspace(0, 2 * np.pi, len(datasets), endpoint=False).tolist()
    fig, axes = _grid(plt, len(series), ncols, (2.9, 2.9), subplot_kw={"polar": True})
    loop = angles + angles[:1]
    pre = [float(acc_pre[d]) for d in datasets]
    for ax, (label, acc) in zip(axes, series.items()):
        values = [float(acc.get(d, math.nan)) for d in datasets]
        ax.plot(loop, pre + pre[:1], ls="--", lw=1, color="grey", label="pretrained")
        ax.plot(loop, values + values[:1], marker="o", ms=2, lw=1.2, label="after fine-tuning")
        ax.fill(loop, values + values[:1], alpha=0.1)
        ax.set_xticks(angles, datasets, fontsize=6)
        ax.set_ylim(0, 100)
        ax.tick_params(axis="y", labelsize=5)
        ax.set_title(label, fontsize=8, pad=12)
    axes[0].legend(loc="lower left", bbox_to_anchor=(-0.3, -0.35), fontsize=6)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def _overlaps(box: Any, others: Sequence[Any]) -> bool:
    return any(box.overlaps(o) for o in others)


def _leader(ax: Any, point: np.ndarray, offset_pt: tuple[float, float], dpi: float) -> None:
    centre = ax.transData.transform(point)
    end = ax.transData.inverted().transform(centre + np.asarray(offset_pt) * dpi / 72.0)
    ax.plot([point[0], end[0]], [point[1], end[1]], lw=0.5, color="#999999", zorder=1)


def _place_labels(fig: Any, ax: Any, names: Sequence[str], xy: np.ndarray) -> list[str]:
    """Annotate each point where its label fits inside the axes without touching another
    label or point; a label that fits nowhere becomes its index (returned for a key)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    from matplotlib.transforms import Bbox

    centres = ax.transData.transform(xy)
    marks = [Bbox.from_extents(cx - 4, cy - 4, cx + 4, cy + 4) for cx, cy in centres]
    placed: list[Any] = []
    keyed: list[str] = []
    directions = [(1, 1), (1, -1), (-1, 1), (-1, -1), (1, 0), (-1, 0), (0, 1), (0, -1)]
    for k, (name, point) in enumerate(zip(names, xy)):
        done = False
        for text in (name, str(k + 1)):
            for radius in (5, 10, 16, 24, 34, 46):
                for dx, dy in directions:
                    ann = ax.annotate(
                        text,
                        point,
                        xytext=(dx * radius, dy * radius),
                        textcoords="offset points",
                        fontsize=7,
                        ha={1: "left", -1: "right", 0: "center"}[dx],
                        va={1: "bottom", -1: "top", 0: "center"}[dy],
                        gid=LABEL_GID,
                        annotation_clip=False,
                    )
                    box = ann.get_window_extent(renderer).expanded(1.05, 1.1)
                    inside = frame.contains(box.x0, box.y0) and frame.contains(box.x1, box.y1)
                    others = marks[:k] + marks[k + 1 :]
                    if inside and not _overlaps(box, placed) and not _overlaps(box, others):
                        placed.append(box)
                        done = True
                        if radius > 10:  # a leader line says which point a far label names
                            _leader(ax, point, (dx * radius, dy * radius), fig.dpi)
                        break
                    ann.remove()
                if done:
                    break
            if done:
                if text != name:
                    keyed.append(f"{k + 1}: {name}")
                break
        if not done:  # nowhere to put it: the key below the axes names it
            keyed.append(f"{k + 1}: {name} (not labelled)")
    return keyed


def draw_otdd_scatter(
    points: Mapping[str, tuple[float, float]],
    correlation: CorrelationInterval,
    *,
    title: str = "OTDD vs pretraining-set degradation",
) -> Any:
    """Scatter of ``{label: (OTDD, degradation)}`` with a least-squares line and the Pearson
    and Spearman correlations with their intervals in the title."""
    if len(points) < 2:
        raise ConfigError(
            f"draw_otdd_scatter needs >= 2 points with both a distance and a degradation; "
            f"got {sorted(points)}"
        )
    plt = _pyplot()
    names = list(points)
    xy = np.array([points[n] for n in names], dtype=float)
    fig, ax = plt.subplots(figsize=(6.0, 4.6), dpi=DPI)
    ax.scatter(xy[:, 0], xy[:, 1], s=18, zorder=3)
    if np.ptp(xy[:, 0]) > 0:
        slope, icept = np.polyfit(xy[:, 0], xy[:, 1], 1)
        xs = np.linspace(xy[:, 0].min(), xy[:, 0].max(), 2)
        ax.plot(xs, slope * xs + icept, ls="--", lw=1, color="grey")
    ax.margins(x=0.3, y=0.25)  # room for the labels inside the axes
    ax.autoscale_view()
    ax.set_xlim(ax.get_xlim())
    ax.set_ylim(ax.get_ylim())
    ax.set_xlabel("OTDD(pretraining set, fine-tuning set)")
    ax.set_ylabel("pretraining-set degradation (points)")
    pct = f"{100 * correlation.confidence:g}%"
    p, s = correlation.pearson, correlation.spearman
    ax.set_title(
        f"{title} (n = {correlation.n})\nPearson r = {p.estimate:.2f} {_bounds(p)}, "
        f"Spearman rho = {s.estimate:.2f} {_bounds(s)}  ({pct} Fisher-z intervals)",
        fontsize=8,
    )
    fig.tight_layout()
    keyed = _place_labels(fig, ax, names, xy)
    if keyed:
        fig.text(0.01, -0.02, "; ".join(keyed), fontsize=6, va="top", wrap=True)
    return fig


def _bounds(iv: Interval) -> str:
    if math.isnan(iv.low) or math.isnan(iv.high):
        return "[n/a: n < 4]"
    return f"[{iv.low:.2f}, {iv.high:.2f}]"
