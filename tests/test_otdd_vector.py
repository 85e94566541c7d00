"""The OTDD vector of a suite and its one file format, end to end through `rib otdd` and
`rib report --otdd` (a 4-dataset suite of 40 tiny images each and a ~40 k-parameter ViT)."""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from imagenet_rib.cli import main
from imagenet_rib.otdd import (
    OTDDConfig,
    OTDDEntry,
    OTDDFormatError,
    OTDDVector,
    otdd,
    per_class_subsample,
)
from support.report_data import REFERENCE, SUITE, synthetic_records, synthetic_results

ROWS = 40


def _result(shift: float):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 3)), np.repeat([0, 1, 2], 10)
    return otdd(x, y, x + shift, y, OTDDConfig(outer="exact"))


def test_format_round_trips_and_maps_for_the_report(tmp_path: Path) -> None:
    entries = tuple(
        OTDDEntry(m, "ref", d, _result(s))
        for m, d, s in [("m1", "a", 0.5), ("m1", "b", 1.0), ("m2", "a", 2.0)]
    )
    vector = OTDDVector(entries, "my-suite", "train", {"max_per_class": 5})
    back = OTDDVector.load(vector.save(tmp_path / "v.json"))
    assert back.to_dict() == vector.to_dict() and back.extra == {"max_per_class": 5}
    # shifting the 3 coordinates by s: 1/2 * 3 s^2 (features) + 1/2 * 3 s^2 (class means)
    got = back.distances()
    assert got["m1"] == pytest.approx({"a": 0.75, "b": 3.0}) and got["m2"]["a"] == pytest.approx(12)
    assert back.report_mapping("ref") == back.distances()
    np.testing.assert_array_equal(
        back.entries[0].result.label_distances, _result(0.5).label_distances
    )
    with pytest.raises(OTDDFormatError, match=r"distances from \['ref'\].*reference 'val'"):
        back.report_mapping("val")
    flat = OTDDVector((OTDDEntry(None, "ref", "a", _result(1.0)),))
    assert flat.report_mapping() == {"a": pytest.approx(3.0)}
    with pytest.raises(OTDDFormatError, match="mixes entries with and without a model"):
        OTDDVector((*entries, flat.entries[0])).report_mapping()
    with pytest.raises(OTDDFormatError, match=r"lists \(model, reference, dataset\) twice"):
        OTDDVector((entries[0], entries[0]))
    compact = vector.to_dict(label_matrix=False)
    assert "label_distances" not in compact["entries"][0]
    assert math.isnan(OTDDVector.from_dict(compact).entries[0].result.label_distances[0, 0])


def test_per_class_subsample() -> None:
    targets = np.array([0] * 5 + [1] * 2 + [2] * 9)
    idx = per_class_subsample(targets, 3, seed=0)
    assert list(np.bincount(targets[idx])) == [3, 2, 3] and list(idx) == sorted(idx)
    assert list(idx) == list(per_class_subsample(targets, 3, seed=0))
    assert list(per_class_subsample(targets, None, 0)) == list(range(16))


def _toy_suite(root: Path) -> Path:
    """The report's toy suite (d1, d2, d3 + ref-val) as tiny local datasets: d1 is a copy
    of the reference, d2 and d3 are other image styles."""
    from support.rib_tiny import make_dataset, make_model

    make_dataset(REFERENCE, ROWS, "clean", root / REFERENCE)
    shutil.copytree(root / REFERENCE, root / "d1")
    make_dataset("d2", ROWS, "invert", root / "d2")
    make_dataset("d3", ROWS, "shift", root / "d3")
    make_model(root / "model")
    entries = "".join(f"  - {{name: {d}, title: Toy {d}, source: ./{d}}}\n" for d in SUITE)
    path = root / "toy.yaml"
    path.write_text(
        "name: toy-suite\nlabel_space: mini-digits\n"
        f"reference: {{name: {REFERENCE}, title: Toy reference, source: ./{REFERENCE}}}\n"
        f"datasets:\n{entries}"
    )
    return path


@pytest.mark.slow
def test_rib_otdd_vector_feeds_rib_report(tmp_path: Path, capsys) -> None:
    from imagenet_rib.otdd import otdd_vector
    from imagenet_rib.results import ResultStore

    suite = _toy_suite(tmp_path)
    model = str(tmp_path / "model")
    out = tmp_path / "otdd.json"
    argv = ["otdd", "--suite", str(suite), "--model", model, "--outer", "exact"]
    assert main([*argv, "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert (
        f"OTDD({REFERENCE}, d3) [{model}] = " in printed and "(exact; 30 vs 30 samples)" in printed
    )
    vector = OTDDVector.load(out)
    assert (vector.suite, vector.part, vector.extra["split"]["rule"]) == (
        "toy-suite",
        "train",
        "holdout",
    )
    d = vector.distances()[model]
    assert list(d) == list(SUITE)
    assert abs(d["d1"]) < 1e-9 * d["d2"]  # d1 holds the reference's rows: OTDD(R, R) = 0
    assert d["d2"] > 0 and d["d3"] > 0
    entry = vector.entries[0].result.diagnostics
    assert entry["n_a"] == entry["n_b"] < ROWS  # the train parts of the holdout split
    # the Python API gives the same numbers (the demo's road); a per-class cap subsamples
    api = otdd_vector(suite, [model], config=OTDDConfig(outer="exact"))
    assert api.distances() == vector.distances()
    capped = otdd_vector(suite, [model], max_per_class=2, config=OTDDConfig(outer="exact"))
    assert capped.entries[0].result.diagnostics["n_a"] == 20  # 10 classes x 2

    recs = [replace(r, model=model) if r.model == "src-a" else r for r in synthetic_records()]
    _, correct = synthetic_results()
    store = ResultStore(tmp_path / "results.sqlite")
    store.add(recs, {r.key: correct(r.key) for r in recs})
    base = ["report", "--store", str(store.path), "--out", str(tmp_path / "rep"), "--n-boot", "0"]
    assert main([*base, "--suite", str(suite), "--otdd", str(out)]) == 0
    assert "otdd_scatter.png" in capsys.readouterr().out
    assert (tmp_path / "rep" / "figures" / "otdd_scatter.png").stat().st_size > 1000

    # a vector of other models, another suite or another reference is refused, not ignored
    other = json.loads(out.read_text())
    for e in other["entries"]:
        e["model"] = "someone-else"
    (tmp_path / "other.json").write_text(json.dumps(other))
    assert main([*base, "--suite", str(suite), "--otdd", str(tmp_path / "other.json")]) == 2
    err = capsys.readouterr().err
    assert "models ['someone-else'], but the results are of [" in err and "'src-b'" in err
    wrong = {**json.loads(out.read_text()), "suite": "mini-rib"}
    (tmp_path / "wrong.json").write_text(json.dumps(wrong))
    assert main([*base, "--suite", str(suite), "--otdd", str(tmp_path / "wrong.json")]) == 2
    assert "holds distances of suite 'mini-rib'" in capsys.readouterr().err
