"""`rib report`: scores per (model, method) from a results table, Markdown/HTML and figures.

The synthetic table (tests/report_data.py) has closed-form accuracies, so every RI_i, mRI,
degradation and in-task gain is known exactly; one cell is missing and one configuration has
two seeds.
"""

from __future__ import annotations

import json
import math
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))

from imagenet_rib.errors import ConfigError  # noqa: E402
from imagenet_rib.report import build_report, compute_scores, load_results, resolve_suite  # noqa: E402
from imagenet_rib.report import figures as F  # noqa: E402
from imagenet_rib.report.html import markdown_to_html  # noqa: E402
from report_data import (  # noqa: E402
    BASE,
    DEG,
    GAIN,
    MISSING,
    PRE,
    REFERENCE,
    SCALE,
    SUITE,
    W,
    expected_ri,
    synthetic_records,
    synthetic_results,
)

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def results():
    return synthetic_results()


@pytest.fixture(scope="module")
def scored(results):
    df, correct = results
    return compute_scores(df, correct=correct, n_boot=200, seed=0)


def _entry(entries, model, method):
    (e,) = [e for e in entries if e.model == model and e.method == method]
    return e


def test_suite_is_inferred_from_the_table(results):
    info = resolve_suite(results[0])
    assert info.datasets == SUITE
    assert info.reference == REFERENCE
    assert resolve_suite(results[0], ["d3", "d1"], "d2").datasets == ("d3", "d1")


@pytest.mark.parametrize("model", list(SCALE))
@pytest.mark.parametrize("method", list(BASE))
def test_scores_match_the_closed_form(scored, model, method):
    _, entries = scored
    e = _entry(entries, model, method)
    shift = 0.5 if (model, method) == ("src-b", "lwf") else 0.0  # mean of seeds 0 and 1 (+1)
    for i in SUITE:
        assert e.view.in_task_gain[i] == pytest.approx(GAIN[method] + shift)
        assert e.view.reference_degradation[i] == pytest.approx(DEG[method] * SCALE[model] + shift)
        for j in SUITE:
            if j == i:
                continue
            if (model, method, i, j) == MISSING:
                assert math.isnan(e.view.delta.get(i, {}).get(j, math.nan))
                continue
            assert e.view.delta[i][j] == pytest.approx(BASE[method] * SCALE[model] * W[j] + shift)
        if (model, method) != MISSING[:2] or i != MISSING[2]:
            assert e.view.ri[i] == pytest.approx(expected_ri(model, method, i) + shift)
    assert e.view.mean_acc_pre == pytest.approx(np.mean([PRE[j] for j in SUITE]))
    if (model, method) != MISSING[:2]:
        assert e.view.mri == pytest.approx(
            np.mean([expected_ri(model, method, i) for i in SUITE]) + shift
        )
        # the paper's identity: average post-fine-tuning OOD accuracy = mean A_pre + mRI
        assert e.view.avg_post_ood == pytest.approx(e.view.mean_acc_pre + e.view.mri)
        assert e.view.missing == []


def test_missing_cell_is_reported_and_left_out(scored):
    _, entries = scored
    e = _entry(entries, *MISSING[:2])
    assert (MISSING[2], MISSING[3]) in [tuple(c) for c in e.view.missing]
    # a row with a hole has no RI and the entry no mRI: missing, never a partial average
    assert math.isnan(e.view.ri[MISSING[2]]) and math.isnan(e.view.mri)
    complete = [i for i in e.view.ri if i != MISSING[2]]
    assert complete and all(not math.isnan(e.view.ri[i]) for i in complete)


def test_intervals_bootstrap_and_seeds(scored):
    _, entries = scored
    for e in entries:
        if math.isnan(e.view.mri):  # the entry with a missing cell has no mRI to bound
            assert "mri" not in e.ci
            continue
        ci = e.ci["mri"]
        assert ci.low <= e.view.mri <= ci.high
        assert ci.method == ("seeds" if len(e.seeds) > 1 else "bootstrap")
    boot = _entry(entries, "src-b", "ft").ci["mri"]
    assert 0 < boot.high - boot.low < 15  # 200 images per set: a few points wide


def test_build_report_writes_markdown_html_and_the_four_figures(results, tmp_path):
    df, correct = results
    otdd = {"d1": 1.0, "d2": 2.0, "d3": 4.0}
    res = build_report(df, tmp_path / "rep", correct=correct, otdd=otdd, n_boot=100)
    assert set(res.paths) == {"markdown", "html", "scores"}
    kinds = ["dA heatmap", "accuracy radar", "average OOD accuracy", "OTDD vs pretraining"]
    for kind in kinds:
        assert any(k.startswith(kind) for k in res.figures), kind
    assert len(res.figures) == 6 + 2 + 1 + 1  # a heatmap per (model, method), a radar per model
    for path in res.figures.values():
        assert path.read_bytes()[:8] == PNG
    md = res.paths["markdown"].read_text()
    for heading in (
        "## Summary",
        "RI_i per fine-tuning set",
        "Pretraining-set degradation",
        "In-task gain",
        "## dA matrices",
    ):
        assert heading in md
    # the hole shows as missing in src-a / ft's dA table: row d2, column d3
    block = md.split("### src-a / ft")[1].split("###")[0]
    delta_rows, acc_rows = [line for line in block.splitlines() if line.startswith("| d2 |")]
    cells = [c.strip() for c in delta_rows.split("|")[2:-1]]  # columns d1, d2, d3, ref-val
    assert cells == ["-2.0", "+20.0", "n/a", "-15.0"]
    assert acc_rows.split("|")[4].strip() == "n/a"
    html = res.paths["html"].read_text()
    assert html.count("<img") == len(res.figures)
    assert html.count('src="data:image/png;base64,') == len(res.figures)
    assert "<table>" in html and 'class="missing"' in html
    data = json.loads(res.paths["scores"].read_text())
    assert len(data["scores"]) == 6 and data["suite"]["reference"] == REFERENCE


def test_markdown_only_without_bootstrap(results, tmp_path):
    res = build_report(results[0], tmp_path, formats=["md"])
    assert set(res.paths) == {"markdown", "scores"}
    assert not (tmp_path / "report.html").exists()
    single = [e for e in res.scores if len(e.seeds) == 1]
    assert all("mri" not in e.ci for e in single)  # no correctness -> no bootstrap interval


def test_correlation_and_figure_inputs(tmp_path):
    x = [1.0, 2.0, 3.0, 5.0]
    assert F.correlation(x, [2 * v + 1 for v in x]) == pytest.approx((1.0, 1.0))
    r, rho = F.correlation(x, [-(v**3) for v in x])
    assert rho == pytest.approx(-1.0) and -1.0 < r < -0.9
    frame = F.delta_frame({"a": {"a": 1.0, "b": -2.0}, "b": {"a": 3.0}})
    assert frame.shape == (2, 2) and math.isnan(frame.loc["b", "b"])
    with pytest.raises(ConfigError, match="at least 3 datasets"):
        F.plot_radar({"a": 1, "b": 2}, {"a": 1, "b": 2}, tmp_path / "r.png")
    with pytest.raises(ConfigError, match=">= 2 datasets"):
        F.plot_otdd_scatter({"a": 1.0}, {"a": -3.0}, tmp_path / "s.png")
    with pytest.raises(ConfigError, match="no pretraining source"):
        F.plot_ood_bars({}, tmp_path / "b.png")
    path = F.plot_ood_bars({"m": (50.0, 40.0)}, tmp_path / "sub" / "b.png")
    assert path.read_bytes()[:8] == PNG


def test_bad_inputs_name_the_fix(results, tmp_path):
    df, _ = results
    with pytest.raises(ConfigError, match="accuracy"):
        compute_scores(df.drop(columns=["accuracy"]))
    with pytest.raises(ConfigError, match="empty"):
        compute_scores(df.iloc[:0])
    with pytest.raises(ConfigError, match=r"parts \['test'\]"):
        compute_scores(df, part="val")
    with pytest.raises(ConfigError, match="pretrained"):
        compute_scores(df[df["method"] != "pretrained"])
    with pytest.raises(ConfigError, match="choose from"):
        build_report(df, tmp_path, formats=["pdf"])
    with pytest.raises(ConfigError, match="rib run"):
        load_results(tmp_path / "nope.sqlite")


def test_html_escapes_and_marks_missing():
    page = markdown_to_html("# T <x>\n\n| a | b |\n|---|---|\n| 1 | n/a |\n\n`code`\n")
    assert "<h1>T &lt;x&gt;</h1>" in page
    assert '<td class="missing">n/a</td>' in page
    assert "<code>code</code>" in page


@pytest.mark.parametrize("kind", ["store", "parquet"])
def test_cli_report_from_a_store_or_an_export(tmp_path, kind, capsys):
    from imagenet_rib.cli import main
    from imagenet_rib.results import ResultStore

    recs = synthetic_records()
    _, correct = synthetic_results()
    store = ResultStore(tmp_path / "results.sqlite")
    store.add(recs, {r.key: correct(r.key) for r in recs})
    path = store.path if kind == "store" else store.export(tmp_path / "results.parquet")
    out = tmp_path / "report"
    rc = main(["report", "--store", str(path), "--out", str(out), "--n-boot", "50"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "report.html" in printed and "ood_bars.png" in printed
    md = (out / "report.md").read_text()
    summary = md.split("## Summary")[1].split("##")[0]
    assert ("(bootstrap)" in summary) == (kind == "store")  # correctness only in the store
    assert main(["report", "--store", str(tmp_path / "missing.sqlite"), "--out", str(out)]) == 2
