"""The benchmark runner: suites as data, plans, and a matrix that survives kill -9 anywhere."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from imagenet_rib.errors import ConfigError, UnknownNameError
from imagenet_rib.results import ResultStore
from imagenet_rib.suites import builtin_suites, load_suite
from imagenet_rib.sweep import BenchmarkConfig, plan
from support import fault_inject
from support.rib_tiny import make_suite

CONFIG = """\
name: tiny-matrix
suite: tiny/tiny-suite.yaml
models: [tiny/tiny-model]
methods:
  - ft
  - name: wise-ft
    config: {alphas: [0.0, 0.5, 1.0]}
finetune_datasets: [tiny-a, tiny-b]
split: {rule: holdout, test_fraction: 0.3, seed: 0}
train: {lr: 0.01, epochs: 2, warmup_steps: 1, batch_size: 8, save_steps: 1, logging_steps: 1}
eval_batch_size: 16
output_dir: out
"""
#: (1 baseline + 2 ft + 2 wise-ft x 3 alphas) models x 4 evaluation datasets
EXPECTED_RECORDS = (1 + 2 + 2 * 3) * 4


@pytest.fixture(scope="module")
def matrix_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sweep")
    make_suite(root / "tiny")
    (root / "cfg.yaml").write_text(CONFIG)
    return root


# ---------------------------------------------------------------------------------- suites


def test_builtin_mini_suite_is_data():
    assert {"mini-rib", "imagenet-rib"} <= set(builtin_suites())
    suite = load_suite("mini-rib")
    assert suite.datasets == (
        "mini-v2",
        "mini-a",
        "mini-r",
        "mini-sketch",
        "mini-objectnet",
        "mini-cartoon",
        "mini-drawing",
        "mini-c",
    )
    assert suite.reference == "mini-val" and suite.eval_datasets[-1] == "mini-val"
    assert suite.label_space == "mini-digits"


def test_user_suite_defines_and_registers_datasets(matrix_root):
    from imagenet_rib.data.specs import get_dataset_spec
    from imagenet_rib.data.splits import SplitConfig

    suite = load_suite(matrix_root / "tiny" / "tiny-suite.yaml")
    assert suite.datasets == ("tiny-a", "tiny-b", "tiny-c") and suite.reference == "tiny-val"
    assert Path(suite.sources["tiny-a"]).is_absolute()
    assert get_dataset_spec("tiny-b").subset == ("zero", "one", "two", "three", "four", "five")
    assert load_suite(matrix_root / "tiny" / "tiny-suite.yaml") == suite  # idempotent
    part = suite.part("tiny-b", "test", SplitConfig(rule="none"))
    assert len(part) == 36 and part.protocol.rule == "subset" and part.targets.max() == 5


@pytest.mark.parametrize(
    "bad,match",
    [
        (
            {"name": "s", "label_space": "mini-digits", "datasets": ["mini-a", "mini-a"]},
            "more than once",
        ),
        (
            {
                "name": "s",
                "label_space": "mini-digits",
                "datasets": ["mini-a"],
                "reference": "mini-a",
            },
            "reference",
        ),
        (
            {
                "name": "s",
                "label_space": "mini-digits",
                "datasets": [{"name": "x", "colour": "red"}],
            },
            "unknown field",
        ),
        ({"name": "s", "datasets": ["mini-a"]}, "label_space"),
        (
            {
                "name": "s",
                "label_space": "mini-digits",
                "datasets": ["mini-a"],
                "objectnet_rule": "best",
            },
            "objectnet_rule",
        ),
    ],
)
def test_bad_suites_are_rejected(bad, match):
    with pytest.raises(ConfigError, match=match):
        load_suite(bad)


def test_unknown_suite_suggests_close_names():
    with pytest.raises(UnknownNameError, match="mini-rib"):
        load_suite("mini-ribb")


# ----------------------------------------------------------------------------------- plans


def _config(matrix_root, **kw) -> BenchmarkConfig:
    return BenchmarkConfig.load(
        matrix_root / "cfg.yaml", output_dir=str(matrix_root / "plan"), **kw
    )


def test_plan_orders_baselines_trained_derived(matrix_root):
    cfg = _config(
        matrix_root, seeds=[0, 1], models=[str(matrix_root / "tiny/tiny-model"), "mini-vit-clean"]
    )
    specs = plan(cfg)
    kinds = [s.kind for s in specs]
    assert kinds == ["baseline"] * 2 + ["train"] * 8 + ["derived"] * 8
    assert len({s.run_id for s in specs}) == len(specs)
    by_id = {s.run_id: s for s in specs}
    for s in specs:
        if s.kind == "derived":
            (src,) = (by_id[d] for d in s.depends_on)
            assert (src.label, src.model, src.finetune_dataset, src.seed) == (
                "ft",
                s.model,
                s.finetune_dataset,
                s.seed,
            )
    assert [s.run_id for s in plan(cfg)] == [s.run_id for s in specs]  # stable ids
    assert plan(cfg.replace(train={**cfg.train, "lr": 0.02}))[2].run_id != specs[2].run_id


def test_plan_errors(matrix_root):
    with pytest.raises(ConfigError, match="sources"):
        plan(_config(matrix_root, methods=["wise-ft"]))
    with pytest.raises(ConfigError, match="finetune_datasets"):
        plan(_config(matrix_root, finetune_datasets=["tiny-val"]))
    with pytest.raises(ConfigError, match="appear twice"):
        _config(matrix_root, methods=["ft", "ft"])
    with pytest.raises(ConfigError, match="unknown option"):
        _config(matrix_root, epochs=3)


# ----------------------------------------------------------------- kill -9 at random points


def _rib_run(root: Path, out: str, fault: str | None = None) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # a fault kills the process inside a store transaction (tests/support/fault_inject.py)
    launcher = [fault_inject.__file__, fault] if fault else ["-m", "imagenet_rib"]
    cmd = [
        sys.executable,
        *launcher,
        "run",
        "cfg.yaml",
        "--output-dir",
        out,
        "--no-progress",
    ]
    return subprocess.Popen(
        cmd, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _table(store: ResultStore) -> dict:
    return {
        r.key: (r.accuracy, r.num_images, r.per_group, r.method, r.protocol)
        for r in store.records()
    }


def test_kill_at_random_points_then_resume_equals_uninterrupted(matrix_root):
    start = time.time()
    ref = _rib_run(matrix_root, "ref")
    out, _ = ref.communicate(timeout=600)
    duration = time.time() - start
    assert ref.returncode == 0, out[-3000:]
    assert "5 run(s) executed, 0 already done" in out and "| mRI |" in out
    reference = ResultStore(matrix_root / "ref" / "results.sqlite")
    assert len(reference) == EXPECTED_RECORDS

    rng = np.random.default_rng(5)
    # a fault kill lands INSIDE a store transaction; the others at random instants of a run
    # (start-up, training, checkpointing, evaluation, writing), scaled to this machine's speed
    delays = list(rng.uniform(0.2, 0.7, size=3) * duration)
    schedule = ["store-add", delays[0], "store-add", delays[1], delays[2]]
    killed = 0
    for when in schedule:
        proc = _rib_run(matrix_root, "killed", fault=when if isinstance(when, str) else None)
        if isinstance(when, str):
            proc.wait(timeout=600)
        else:
            time.sleep(when)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        killed += proc.returncode == -signal.SIGKILL
    assert killed >= 3
    final = _rib_run(matrix_root, "killed")
    out, _ = final.communicate(timeout=600)
    assert final.returncode == 0, out[-3000:]
    store = ResultStore(matrix_root / "killed" / "results.sqlite")
    assert len(store) == EXPECTED_RECORDS
    assert _table(store) == _table(reference)
    assert all(v["status"] == "done" for v in store.runs().values())
    for rec in store.records():
        assert np.array_equal(store.correct(rec.key), reference.correct(rec.key))
    # re-running a finished matrix does nothing
    again = _rib_run(matrix_root, "killed")
    out, _ = again.communicate(timeout=600)
    assert "0 run(s) executed" in out and _table(store) == _table(reference)


# ----------------------------------------------------------------------- evaluation options


def test_eval_block_sets_how_every_evaluation_runs(matrix_root):
    from imagenet_rib.evaluation import EvalConfig

    cfg = _config(matrix_root, eval={"precision": "bf16", "decode": "cpu"})
    assert cfg.eval_config() == EvalConfig(batch_size=16, precision="bf16")
    assert cfg.eval_config(num_workers=0).num_workers == 0
    with pytest.raises(ConfigError, match=r"BenchmarkConfig.eval: .*precision.*'fp8'"):
        _config(matrix_root, eval={"precision": "fp8"})
    with pytest.raises(ConfigError, match=r"BenchmarkConfig.eval: .*unknown .*'precison'"):
        _config(matrix_root, eval={"precison": "bf16"})
    with pytest.raises(ConfigError, match="two evaluation batch sizes"):
        _config(matrix_root, eval={"batch_size": 32})


def test_a_store_never_mixes_two_evaluation_precisions(matrix_root, monkeypatch):
    """Finished runs evaluated in fp32 are not reused (nor joined) by a bf16 run of the same
    matrix: refused before anything runs, the store untouched; bf16 results record bf16."""
    import json

    from imagenet_rib.sweep import run

    monkeypatch.chdir(matrix_root)  # the config's paths are relative to it
    cfg = _config(matrix_root).replace(output_dir=str(matrix_root / "precision"))
    baseline = plan(cfg)[0]
    assert baseline.kind == "baseline"
    run(cfg, only=[baseline.run_id], progress=False, loader_workers=0)
    store = ResultStore(cfg.store_path)
    before = [(r.key, r.accuracy) for r in store.records()]
    assert {json.loads(r.provenance)["precision"] for r in store.records()} == {"fp32"}
    bf16 = cfg.replace(eval={"precision": "bf16"})
    with pytest.raises(ConfigError, match=r"evaluated with \{'precision': 'fp32'\}.*another store"):
        run(bf16, progress=False, loader_workers=0)
    assert [(r.key, r.accuracy) for r in store.records()] == before
    fresh = bf16.replace(store=str(matrix_root / "precision" / "bf16.sqlite"))
    run(fresh, only=[baseline.run_id], progress=False, loader_workers=0)
    recs = ResultStore(fresh.store_path).records()
    assert {json.loads(r.provenance)["precision"] for r in recs} == {"bf16"}
    assert len(recs) == len(before)
