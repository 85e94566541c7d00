"""Parallel local workers: ordered groups per worker, and the same store as a sequential run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from imagenet_rib.errors import ConfigError
from imagenet_rib.results import ResultStore
from imagenet_rib.sweep import BenchmarkConfig, plan
from imagenet_rib.sweep import run as run_sweep
from imagenet_rib.workers import run_parallel, shards
from support.rib_tiny import make_suite

CONFIG = """\
name: tiny-parallel
suite: tiny/tiny-suite.yaml
models: [tiny/tiny-model]
methods:
  - ft
  - linear-probe
  - name: wise-ft
    config: {alphas: [0.5]}
finetune_datasets: [tiny-a, tiny-b]
seeds: [0, 1]
split: {rule: holdout, test_fraction: 0.3, seed: 0}
train: {lr: 0.01, epochs: 2, warmup_steps: 1, batch_size: 8, save_steps: 0, logging_steps: 1}
eval_batch_size: 16
output_dir: out
"""


@pytest.fixture(scope="module")
def matrix_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("workers")
    make_suite(root / "tiny")
    (root / "cfg.yaml").write_text(CONFIG)
    return root


def _config(root: Path, out: str, **overrides) -> BenchmarkConfig:
    return BenchmarkConfig.load(
        root / "cfg.yaml",
        models=[str(root / "tiny" / "tiny-model")],
        output_dir=str(root / out),
        **overrides,
    )


def test_shards_keep_each_group_in_order_on_one_worker(matrix_root):
    specs = plan(_config(matrix_root, "plan"))
    parts = shards(specs, 3)
    flat = [r for part in parts for r in part]
    assert sorted(flat) == sorted(s.run_id for s in specs)  # every run exactly once
    where = {r: (w, i) for w, part in enumerate(parts) for i, r in enumerate(part)}
    by_id = {s.run_id: s for s in specs}
    derived = [s for s in specs if s.kind == "derived"]
    assert len(derived) == 4
    for s in derived:
        for dep in s.depends_on:  # same worker, and after its source
            assert where[dep][0] == where[s.run_id][0] and where[dep][1] < where[s.run_id][1]
            assert by_id[dep].seed == s.seed
    assert len(parts) == 3 and all(parts)
    assert len(shards(specs, 50)) == 1 + 2 * 2  # one baseline + (dataset, seed) groups


@pytest.mark.slow
def test_two_workers_write_the_same_store_as_one_process(matrix_root, capfd):
    # one fine-tuning set and seed: 1 baseline + 2 trained + 1 derived run, in 2 groups;
    # LoRA (peft) is the run that makes transformers raise a FutureWarning
    methods = ["ft", "lora", {"name": "wise-ft", "config": {"alphas": [0.5]}}]
    small = {"finetune_datasets": ["tiny-a"], "seeds": [0], "methods": methods}
    sequential = run_sweep(_config(matrix_root, "seq", **small), progress=False)
    capfd.readouterr()
    parallel = run_parallel(_config(matrix_root, "par", **small), workers=2, progress=False)
    # the worker processes' stderr: no library deprecation notices (transformers' Trainer
    # raises a FutureWarning per run)
    assert "Warning" not in capfd.readouterr().err
    assert sorted(parallel.executed) == sorted(sequential.executed)
    assert len(parallel.executed) == 1 + 2 + 1
    a = ResultStore(matrix_root / "seq" / "results.sqlite")
    b = ResultStore(matrix_root / "par" / "results.sqlite")
    table = {r.key: (r.accuracy, r.num_images, r.per_group) for r in a.records()}
    assert table == {r.key: (r.accuracy, r.num_images, r.per_group) for r in b.records()}
    for key in table:
        assert np.array_equal(a.correct(key), b.correct(key))
    again = run_parallel(_config(matrix_root, "par", **small), workers=2, progress=False)
    assert again.executed == [] and len(again.skipped) == len(parallel.executed)


def test_worker_count_is_validated(matrix_root):
    with pytest.raises(ConfigError, match="workers"):
        run_parallel(_config(matrix_root, "x"), workers=0)
