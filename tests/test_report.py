"""`rib report`: Markdown/HTML from the scoring road, and figures checked on their matplotlib
objects (error bars, one colour scale, legible radar, non-overlapping scatter labels), the
provenance section, one set of figures, no duplicated series, one row order."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from imagenet_rib.correlation import CorrelationInterval, correlation_interval
from imagenet_rib.errors import ConfigError, RIBError
from imagenet_rib.intervals import Interval
from imagenet_rib.report import build_report, load_results, report_figures
from imagenet_rib.report import figures as F
from imagenet_rib.report.html import markdown_to_html
from imagenet_rib.scoring import score_records
from support.report_data import (
    REFERENCE,
    synthetic_records,
    synthetic_results,
    toy_suite,
    write_suite_yaml,
)

PNG = b"\x89PNG\r\n\x1a\n"
OTDD = {"d1": 1.0, "d2": 2.0, "d3": 4.0}


@pytest.fixture(scope="module")
def table():
    df, correct = synthetic_results(endpoints=True)
    return score_records(df, toy_suite(), correct=correct, n_boot=200, methods=["ft", "lwf"])


@pytest.fixture(scope="module")
def figs(table):
    import matplotlib.pyplot as plt

    out, omitted = report_figures(table, otdd=OTDD)
    yield {f.name: f for f in out}, omitted
    for f in out:
        plt.close(f.figure)


def _errorbars(ax):
    from matplotlib.container import ErrorbarContainer

    return [c for c in ax.containers if isinstance(c, ErrorbarContainer)]


def _segments(container) -> list[tuple[float, float]]:
    """(low, high) of each error bar of a container, along the bar's value axis."""
    (lines,) = container.lines[2]
    segs = lines.get_segments()
    horizontal = all(abs(s[0][1] - s[1][1]) < 1e-12 for s in segs)
    return [(s[0][0], s[1][0]) if horizontal else (s[0][1], s[1][1]) for s in segs]


def test_one_set_of_figures_and_no_duplicated_series(figs):
    by_name, omitted = figs
    assert set(by_name) == {
        "mri_bars", "ood_bars", "delta_src-a", "delta_src-b", "radar_src-a", "radar_src-b",
        "otdd_scatter",
    }  # fmt: skip
    assert omitted == {
        "src-a wise-ft [alpha=0.0]": "identical to the pretrained model",
        "src-a wise-ft [alpha=1.0]": "identical to ft",
        "src-b wise-ft [alpha=0.0]": "identical to the pretrained model",
        "src-b wise-ft [alpha=1.0]": "identical to ft",
    }
    titles = [ax.get_title() for ax in by_name["delta_src-b"].figure.axes if ax.get_images()]
    assert titles == ["ft", "lwf", "wise-ft [alpha=0.5]"]  # the table's order, once each


def test_mri_bars_carry_the_intervals(figs, table):
    fig = figs[0]["mri_bars"].figure
    panels = [ax for ax in fig.axes if ax.get_title() in ("src-a", "src-b")]
    assert [ax.get_title() for ax in panels] == ["src-a", "src-b"]
    ax = panels[1]
    (bars,) = _errorbars(ax)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["ft", "lwf", "wise-ft [alpha=0.5]"]
    for (low, high), label in zip(_segments(bars), labels):
        method, _, variant = label.partition(" [")
        iv = table.get("src-b", method, variant.rstrip("]")).interval("mri")
        assert (low, high) == pytest.approx((iv.low, iv.high))
    assert "t over seeds (>= 2 seeds), else bootstrap over images (95%)" in fig.get_suptitle()


def test_ood_bars_have_error_bars_before_and_after(figs, table):
    (ax,) = figs[0]["ood_bars"].figure.axes
    before, after = _errorbars(ax)
    src_b = table.get("src-b", "ft")
    lo, hi = _segments(after)[1]
    assert (lo, hi) == pytest.approx(
        (src_b.interval("avg_ood_post").low, src_b.interval("avg_ood_post").high)
    )
    lo, hi = _segments(before)[1]
    assert lo < src_b.scores.mean_acc_pre < hi
    assert [t.get_text() for t in ax.get_xticklabels()] == ["src-a", "src-b"]
    assert "n/a" in [t.get_text() for t in ax.texts]  # src-a / ft is incomplete: no bar


def test_every_heatmap_shares_one_colour_scale(figs, table):
    by_name, _ = figs
    images = [
        im
        for name, f in by_name.items()
        if name.startswith("delta_")
        for ax in f.figure.axes
        for im in ax.get_images()
    ]
    assert len(images) == 6  # 3 drawn series x 2 models
    limits = {im.get_clim() for im in images}
    assert len(limits) == 1
    ((low, high),) = limits
    worst = max(np.nanmax(np.abs(r.scores.delta)) for r in table)
    assert low == -high and high >= worst and high % 5 == 0


def test_radar_small_multiples_stay_legible(figs):
    fig = figs[0]["radar_src-b"].figure
    polar = [ax for ax in fig.axes if ax.name == "polar"]
    assert len(polar) == 3 and all(len(ax.get_lines()) == 2 for ax in polar)


def test_scatter_labels_inside_and_apart_and_the_correlation_interval(tmp_path):
    """Crowded points: 14 labels that would collide at the default offset."""
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(1.0, 0.01, 7), rng.normal(2.0, 0.3, 7)])
    y = 2.0 * x + rng.normal(0, 0.02, 14)
    points = {f"model-{k % 2}: imagenet-set-{k}": (a, b) for k, (a, b) in enumerate(zip(x, y))}
    corr = correlation_interval(x, y)
    fig = F.draw_otdd_scatter(points, corr)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    (ax,) = fig.axes
    frame = ax.get_window_extent(renderer)
    labels = [t for t in ax.texts if t.get_gid() == F.LABEL_GID]
    assert len(labels) == 14
    boxes = [t.get_window_extent(renderer) for t in labels]
    for b in boxes:
        assert frame.x0 <= b.x0 and b.x1 <= frame.x1 and frame.y0 <= b.y0 and b.y1 <= frame.y1
    for k, a in enumerate(boxes):
        assert not any(a.overlaps(b) for b in boxes[k + 1 :])
    title = ax.get_title()
    assert f"[{corr.pearson.low:.2f}, {corr.pearson.high:.2f}]" in title and "n = 14" in title
    assert "Fisher-z" in title
    named = {t.get_text() for t in labels}
    keyed = " ".join(t.get_text() for t in fig.texts)
    assert all(name in named or name in keyed for name in points)  # every point is named
    F.save_figure(fig, tmp_path / "s.png")
    assert (tmp_path / "s.png").read_bytes()[:8] == PNG


def test_small_scatter_states_that_no_interval_exists():
    corr = CorrelationInterval(
        3, Interval(0.5, math.nan, math.nan), Interval(0.5, math.nan, math.nan), 0.95
    )
    fig = F.draw_otdd_scatter({"a": (1, 2), "b": (2, 1), "c": (3, 3)}, corr)
    assert "n/a: n < 4" in fig.axes[0].get_title()


def test_build_report_writes_one_set_and_the_provenance(tmp_path):
    df, correct = synthetic_results(endpoints=True)
    res = build_report(
        df, tmp_path / "rep", suite=toy_suite(), correct=correct, otdd=OTDD, n_boot=100
    )
    assert set(res.paths) == {"markdown", "html", "scores"}
    pngs = sorted(p.name for p in (tmp_path / "rep").rglob("*.png"))
    assert pngs == sorted(p.name for p in res.figures.values()) and len(pngs) == 7
    assert all(p.parent == tmp_path / "rep" / "figures" for p in res.figures.values())
    md = res.paths["markdown"].read_text()
    for needle in (
        "## Summary",
        "## Figures",
        "Series drawn once, not repeated: src-a wise-ft [alpha=0.0] (identical to the pretrained model)",
        "## Robustness improvement RI_i per fine-tuning set",
        "## Pretraining-set degradation",
        "## In-task gain",
        "## dA matrices",
        "## Provenance",
        "Intervals: images: 95% paired percentile bootstrap over test images (B = 100",
        "one colour scale for every heatmap of this report: +-30 points",
        "Pearson and Spearman intervals by Fisher z",
    ):
        assert needle in md, needle
    html = res.paths["html"].read_text()
    assert html.count('src="data:image/png;base64,') == 7
    assert "<h2>Provenance</h2>" in html
    prov = html.split("<h2>Provenance</h2>")[1]
    for needle in (
        "holdout (seed 0, test fraction 0.2)",
        "<td>seeds</td><td>0, 1</td>",
        "Label protocols",
        "<td>d1</td><td>full</td>",
        "numpy",
        "transformers",
        "cpu cores",
        "library version",
    ):
        assert needle in prov, needle
    data = json.loads(res.paths["scores"].read_text())
    assert len(data["scores"]["results"]) == 10 and data["scores"]["reference"] == REFERENCE
    assert "src-b wise-ft [alpha=1.0]" in data["omitted_from_figures"]


def test_tables_keep_one_row_order_and_show_missing_and_intervals(tmp_path, table):
    from imagenet_rib.report.tables import delta_table, per_set_table

    rows = [line.split("|")[1:4] for line in per_set_table(table, "ri").splitlines()[2:]]
    order = [(m.strip(), t.strip(), v.strip()) for m, t, v in rows]
    src_a = [o[1:] for o in order if o[0] == "src-a"]
    src_b = [o[1:] for o in order if o[0] == "src-b"]
    assert src_a == src_b == [(r.method, r.variant or "-") for r in table if r.model == "src-a"]
    assert src_a[:2] == [("ft", "-"), ("lwf", "-")]  # the `methods` order given
    cell = per_set_table(table, "ri").splitlines()[3].split("|")[4].strip()  # src-a lwf, d1
    iv = table.get("src-a", "lwf").interval("ri", "d1")
    assert (
        cell == f"{table.get('src-a', 'lwf').scores.ri['d1']:+.1f} [{iv.low:+.1f}, {iv.high:+.1f}]"
    )
    d2 = [
        line
        for line in delta_table(table.get("src-a", "ft")).splitlines()
        if line.startswith("| d2 ")
    ]
    assert [c.strip() for c in d2[0].split("|")[2:-1]] == ["-2.0", "+20.0", "n/a", "-15.0"]


def test_markdown_only_and_without_correctness(tmp_path):
    df, _ = synthetic_results()
    res = build_report(df, tmp_path, suite=toy_suite(), formats=["md"])
    assert set(res.paths) == {"markdown", "scores"} and not (tmp_path / "report.html").exists()
    assert all(r.image_intervals is None for r in res.table)
    assert "Intervals: seeds: 95% Student t" in res.paths["markdown"].read_text()


def test_bad_inputs_name_the_fix(tmp_path):
    df, _ = synthetic_results()
    with pytest.raises(RIBError, match="lacks column"):
        build_report(df.drop(columns=["accuracy"]), tmp_path, suite=toy_suite())
    with pytest.raises(ConfigError, match="no fine-tuned results"):
        build_report(df[df["method"] == "pretrained"], tmp_path, suite=toy_suite())
    with pytest.raises(ConfigError, match="not built in"):
        build_report(df, tmp_path)  # toy-suite is not built in: --suite names it
    with pytest.raises(ConfigError, match="choose from"):
        build_report(df, tmp_path, suite=toy_suite(), formats=["pdf"])
    with pytest.raises(ConfigError, match="rib run"):
        load_results(tmp_path / "nope.sqlite")


def test_html_subset():
    page = markdown_to_html(
        '# T <x>\n\n| a | b |\n|---|---|\n| 1 | n/a |\n\n- one\n- two\n\n```json\n{"k": 1}\n```\n`code`\n'
    )
    assert "<h1>T &lt;x&gt;</h1>" in page and '<td class="missing">n/a</td>' in page
    assert "<ul><li>one</li><li>two</li></ul>" in page
    assert "<pre><code>{&quot;k&quot;: 1}</code></pre>" in page and "<code>code</code>" in page


@pytest.mark.parametrize("kind", ["store", "parquet"])
def test_cli_report_from_a_store_or_an_export(tmp_path, kind, capsys):
    from imagenet_rib.cli import main
    from imagenet_rib.results import ResultStore

    recs = synthetic_records()
    _, correct = synthetic_results()
    store = ResultStore(tmp_path / "results.sqlite")
    store.add(recs, {r.key: correct(r.key) for r in recs})
    path = store.path if kind == "store" else store.export(tmp_path / "results.parquet")
    out, suite = tmp_path / "report", write_suite_yaml(tmp_path / "toy.yaml")
    rc = main(
        ["report", "--store", str(path), "--out", str(out), "--suite", str(suite), "--n-boot", "50"]
    )
    assert rc == 0
    printed = capsys.readouterr().out
    assert "report.html" in printed and "mri_bars.png" in printed
    md = (out / "report.md").read_text()
    assert ("(B = 50" in md) == (kind == "store")  # per-image correctness only in the store
    assert main(["report", "--store", str(path), "--out", str(out)]) == 2  # suite not built in
    assert "pass its suite YAML with --suite" in capsys.readouterr().err
    assert main(["report", "--store", str(tmp_path / "missing.sqlite"), "--out", str(out)]) == 2


def test_cli_report_of_a_config(tmp_path, capsys, monkeypatch):
    import imagenet_rib.scoring
    from imagenet_rib.cli import main
    from imagenet_rib.cli.run import load_config
    from support.report_data import pair_groups, store_for_config

    monkeypatch.setattr(imagenet_rib.scoring, "part_groups", pair_groups)  # 50-image parts

    config = load_config("mini-rib-quick", output_dir=str(tmp_path))
    store = store_for_config(config, tmp_path)
    out = tmp_path / "rep"
    assert (
        main(
            [
                "report",
                "--store",
                str(store.path),
                "--out",
                str(out),
                "--config",
                "mini-rib-quick",
                "--n-boot",
                "50",
            ]
        )
        == 0
    )
    md = (out / "report.md").read_text()
    assert "Fine-tuning sets scored: mini-r, mini-sketch (2 of 8)" in md
    assert "resampling groups of views of one source on mini-v2" in md  # `rib report --config`
    assert '"name": "mini-rib-quick"' in md  # the config in the provenance section
    assert "Series drawn once" not in md  # random accuracies: no series repeats another


def test_figures_of_sources_with_one_file_stem_do_not_overwrite_each_other(tmp_path):
    df, correct = synthetic_results()
    df = df.replace({"model": {"src-a": "org/src", "src-b": "org_src"}})
    res = build_report(df, tmp_path, suite=toy_suite(), correct=correct, n_boot=20)
    heatmaps = sorted(p.name for k, p in res.figures.items() if k.startswith("dA(i -> j)"))
    assert heatmaps == ["delta_org_src-2.png", "delta_org_src.png"]
    assert len(set(res.figures.values())) == len(res.figures)
    assert all(p.is_file() for p in res.figures.values())


def test_a_fine_tuning_that_changed_nothing_is_still_drawn(tmp_path):
    """Every fine-tuned series equal to its pretrained model (WiSE-FT alpha=0 only): the
    figures show the zero change instead of refusing with "nothing to draw"."""
    import matplotlib.pyplot as plt

    recs = [
        r
        for r in synthetic_records(endpoints=True)
        if r.method == "pretrained" or (r.method, r.variant) == ("wise-ft", "alpha=0.0")
    ]
    table = score_records(recs, toy_suite())
    figures, omitted = report_figures(table)
    assert omitted == {}
    assert {f.name for f in figures} >= {"mri_bars", "delta_src-a", "delta_src-b"}
    for r in table:
        assert r.scores.mri == 0.0
    for f in figures:
        plt.close(f.figure)
