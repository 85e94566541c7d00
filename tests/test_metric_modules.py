"""The shipped `evaluate` modules load offline by path (from any directory) and wrap the library."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from imagenet_rib import metrics
from imagenet_rib.intervals import bootstrap_rib
from imagenet_rib.otdd import OTDDConfig, OTDDVector, otdd
from imagenet_rib.scores import compute_rib

evaluate = pytest.importorskip("evaluate")
METRICS = ("rib", "otdd")


@pytest.fixture()
def elsewhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.chdir(tmp_path)  # the modules must not depend on the working directory
    return tmp_path


def _load(name: str, *args):
    return evaluate.load(metrics.path(name), *args)


def test_registry_lists_the_shipped_modules() -> None:
    assert metrics.names() == sorted(METRICS)
    for name in METRICS:
        folder = Path(metrics.path(name))
        assert (folder / f"{name}.py").is_file() and folder.is_relative_to(
            Path(metrics.__file__).parent
        )


@pytest.mark.parametrize("name", METRICS)
def test_module_loads_offline_and_has_a_card(name: str, elsewhere: Path) -> None:
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["HF_EVALUATE_OFFLINE"] == "1"
    module = _load(name)
    assert isinstance(module, evaluate.Metric)
    assert module.citation and module.inputs_description
    card = (Path(metrics.path(name)) / "README.md").read_text()
    assert card.startswith("---\n") and "\n---\n" in card[4:]  # YAML front matter for a Space
    front = card.split("---")[1]
    for key in ("title:", "sdk:", "app_file: app.py", "tags:", "- evaluate", "- metric"):
        assert key in front, key
    for section in ("## Metric Description", "## How to Use", "### Inputs", "### Output Values",
                    "## Limitations and Bias", "## Citation"):  # fmt: skip
        assert section in card, section
    assert (Path(metrics.path(name)) / "app.py").exists()


PAPER_PRE = {
    "imagenet-v2": 74.0,
    "imagenet-a": 43.2,
    "imagenet-sketch": 43.2,
    "objectnet": 48.4,
    "imagenet-val": 84.5,
}
PAPER_POST = {
    "imagenet-v2": 63.7,
    "imagenet-a": 33.9,
    "imagenet-sketch": 52.4,
    "objectnet": 42.5,
    "imagenet-val": 73.8,
}
SUITE = ["imagenet-v2", "imagenet-a", "imagenet-r", "imagenet-sketch", "objectnet"]


def test_rib_accuracy_config_wraps_compute_rib(elsewhere: Path) -> None:
    rib = _load("rib")
    rows = list(PAPER_PRE)
    out = rib.compute(
        predictions=[PAPER_POST[j] for j in rows],
        references=[PAPER_PRE[j] for j in rows],
        finetune_set=["imagenet-r"] * len(rows),
        eval_set=rows,
        suite=SUITE,
        reference="imagenet-val",
        finetune_sets=["imagenet-r"],
    )
    expected = compute_rib(
        PAPER_PRE, {"imagenet-r": PAPER_POST}, SUITE, "imagenet-val", ["imagenet-r"]
    )
    assert out == expected.to_dict()
    assert out["ri"]["imagenet-r"] == pytest.approx(-4.075)
    assert out["reference_degradation"]["imagenet-r"] == pytest.approx(-10.7)
    assert out["in_task_gain"]["imagenet-r"] is None  # missing, not 0


def test_rib_incremental_add_and_errors(elsewhere: Path) -> None:
    rib = _load("rib")
    for pred, ref, i, j in [
        (60.0, 50.0, "a", "b"),
        (40.0, 50.0, "b", "a"),
        (70.0, 60.0, "a", "ref"),
    ]:
        rib.add(predictions=pred, references=ref, finetune_set=i, eval_set=j)
    out = rib.compute(reference="ref")  # suite inferred: ["b", "a"]
    assert out["suite"] == ["b", "a"] and out["mri"] == pytest.approx(0.0)
    assert out["reference_degradation"] == {"b": None, "a": pytest.approx(10.0)}
    assert ["b", "ref"] in out["missing"]
    with pytest.raises(ValueError, match="must carry the same reference"):
        rib.compute(
            predictions=[60.0, 70.0],
            references=[50.0, 51.0],
            finetune_set=["a", "c"],
            eval_set=["b", "b"],
        )
    with pytest.raises(ValueError, match="give each pair once"):
        rib.compute(
            predictions=[60.0, 70.0],
            references=[50.0, 50.0],
            finetune_set=["a", "a"],
            eval_set=["b", "b"],
        )
    with pytest.raises(ValueError, match=r"outside \[0, 100\]"):
        rib.compute(
            predictions=[0.6, 140.0],
            references=[0.5, 0.5],
            finetune_set=["a", "b"],
            eval_set=["b", "a"],
        )


def test_rib_correctness_config_wraps_bootstrap(elsewhere: Path) -> None:
    rib = _load("rib", "correctness")
    rng = np.random.default_rng(0)
    pre = {"a": rng.random(120) < 0.5, "b": rng.random(90) < 0.6}
    post = {"a": {"b": rng.random(90) < 0.7}, "b": {"a": rng.random(120) < 0.4}}
    out = rib.compute(
        predictions=[post["a"]["b"], post["b"]["a"]],
        references=[pre["b"], pre["a"]],
        finetune_set=["a", "b"],
        eval_set=["b", "a"],
        suite=["a", "b"],
        n_boot=200,
        seed=1,
    )
    expected = bootstrap_rib(pre, post, ["a", "b"], n_boot=200, seed=1)
    assert out["mri"] == pytest.approx(expected.mri.estimate)
    assert out["intervals"]["mri"] == pytest.approx(expected.mri.to_dict())
    assert out["intervals"]["mri"]["low"] <= out["mri"] <= out["intervals"]["mri"]["high"]


def test_otdd_module_wraps_otdd(elsewhere: Path) -> None:
    module = _load("otdd")
    rng = np.random.default_rng(2)
    xa, ya = rng.normal(size=(60, 4)).astype(np.float32), rng.integers(0, 3, 60)
    xb, yb = (rng.normal(size=(50, 4)) + 0.5).astype(np.float32), rng.integers(0, 2, 50)
    out = module.compute(
        features=np.concatenate([xa, xb]),
        labels=np.concatenate([ya, yb]),
        dataset=["in"] * 60 + ["out"] * 50,
        outer="exact",
    )
    expected = otdd(xa, ya, xb, yb, OTDDConfig(outer="exact"))
    # the one OTDD file format: what `rib otdd --json` writes and `rib report --otdd` reads
    assert (out["format"], out["schema_version"]) == ("imagenet-rib-otdd", 1)
    (entry,) = out["entries"]
    assert entry["distance"] == pytest.approx(expected.distance, rel=1e-12)
    assert (entry["reference"], entry["dataset"], entry["model"]) == ("in", "out", None)
    assert entry["method"] == "exact"
    np.testing.assert_allclose(entry["label_distances"], expected.label_distances, rtol=1e-12)
    back = OTDDVector.from_dict(json.loads(json.dumps(out)))
    assert back.report_mapping() == {"out": entry["distance"]}
    doc = module.compute(
        features=[[0.0], [0.2], [1.0], [1.2], [0.1], [0.3], [1.1], [1.3]],
        labels=[0, 0, 1, 1, 0, 0, 1, 1],
        dataset=["a"] * 4 + ["b"] * 4,
    )
    assert doc["entries"][0]["distance"] == pytest.approx(
        0.01, rel=1e-5
    )  # the card's example (float32 features)
    with pytest.raises(ValueError, match="exactly two distinct values"):
        module.compute(features=[[0.0]] * 6, labels=[0] * 6, dataset=["a", "a", "b", "b", "c", "c"])
    assert not math.isnan(entry["diagnostics"]["mean_feature_cost"])


@pytest.mark.slow
def test_modules_load_from_any_working_directory_in_a_fresh_process(tmp_path: Path) -> None:
    import subprocess
    import sys

    script = (
        "import evaluate\n"
        "from imagenet_rib import metrics\n"
        "rib = evaluate.load(metrics.path('rib'))\n"
        "out = rib.compute(predictions=[60.0, 40.0], references=[50.0, 50.0],\n"
        "                  finetune_set=['a', 'b'], eval_set=['b', 'a'])\n"
        "otdd = evaluate.load(metrics.path('otdd'))\n"
        "x = [[0.0], [0.2], [1.0], [1.2]]\n"
        "d = otdd.compute(features=x + x, labels=[0, 0, 1, 1] * 2, dataset=['x'] * 4 + ['y'] * 4,\n"
        "                 outer='exact')\n"
        "print(out['mri'], round(d['entries'][0]['distance'], 9))\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_EVALUATE_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["0.0", "0.0"]  # (+10 - 10) / 2; identical datasets
    assert list(tmp_path.iterdir()) == []  # nothing written to the working directory


def test_rib_scale_option_and_integer_correctness(elsewhere: Path) -> None:
    rib = _load("rib")
    rows = dict(finetune_set=["a", "b"], eval_set=["b", "a"], suite=["a", "b"])
    frac = rib.compute(predictions=[0.6, 0.4], references=[0.5, 0.5], scale="fraction", **rows)
    pct = rib.compute(predictions=[60.0, 40.0], references=[50.0, 50.0], **rows)
    assert frac == pct and frac["ri"] == {"a": pytest.approx(10.0), "b": pytest.approx(-10.0)}
    tiny = rib.compute(predictions=[0.4, 0.2], references=[0.5, 0.1], scale="percent", **rows)
    assert tiny["ri"]["a"] == pytest.approx(-0.1)  # real sub-1 % accuracies, trusted
    correctness = _load("rib", "correctness")
    as_int = correctness.compute(
        predictions=[[1, 0, 1, 1], [0, 0, 1]],
        references=[[1, 1, 0, 0], [1, 0, 1]],
        n_boot=50,
        **rows,
    )
    as_bool = correctness.compute(
        predictions=[[True, False, True, True], [False, False, True]],
        references=[[True, True, False, False], [True, False, True]],
        n_boot=50,
        **rows,
    )
    assert as_int == as_bool


@pytest.mark.hub
def test_rib_metrics_push_publishes_spaces(fake_hub, capsys) -> None:
    from imagenet_rib.cli import main

    assert main(["metrics", "push", "--namespace", "my-org"]) == 0
    out = capsys.readouterr().out
    for name in METRICS:
        files = fake_hub.files("space", f"my-org/{name}")
        folder = Path(metrics.path(name))
        for fname in (f"{name}.py", "README.md", "app.py", "requirements.txt"):
            assert files[fname] == (folder / fname).read_bytes(), (name, fname)
        assert f"pushed {name} to my-org/{name}" in out
    assert main(["metrics", "push", "--namespace", "my-org", "--metric", "ribb"]) == 2
    assert "unknown metric 'ribb'. Did you mean 'rib'?" in capsys.readouterr().err
