"""Data-parallel evaluation counts every sample exactly once (2 CPU processes == 1 process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from imagenet_rib.distributed import gather_exact, shard_bounds
from support.rib_tiny import DATASETS, make_suite


@pytest.mark.parametrize("n,world", [(0, 2), (1, 2), (37, 2), (36, 3), (100, 7), (5, 8)])
def test_shard_bounds_cover_each_row_once(n, world):
    bounds = shard_bounds(n, world)
    rows = np.concatenate([np.arange(lo, hi) for lo, hi in bounds])
    assert np.array_equal(rows, np.arange(n))
    sizes = [hi - lo for lo, hi in bounds]
    assert max(sizes) - min(sizes) <= 1


def test_gather_single_process_is_identity():
    x = np.arange(5)
    assert gather_exact(x, 5) is x


def _evaluate(cmd_prefix: list[str], suite, out, tmp_path) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        *cmd_prefix,
        "-m",
        "imagenet_rib",
        "evaluate",
        "--model",
        str(suite.parent / "tiny-model"),
        "--suite",
        str(suite),
        "--split-rule",
        "none",
        "--batch-size",
        "8",
        "--json",
        str(out),
    ]
    proc = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text())


def test_two_process_evaluation_equals_one_process(tmp_path):
    suite = make_suite(tmp_path / "tiny")
    # every dataset size is indivisible by batch (8) x processes (2)
    assert all(n % 16 for n, _ in DATASETS.values())
    one = _evaluate([sys.executable], suite, tmp_path / "one.json", tmp_path)
    two = _evaluate(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"],
        suite,
        tmp_path / "two.json",
        tmp_path,
    )
    (model,) = one
    assert set(one[model]) == set(DATASETS)
    for name, (n, _) in DATASETS.items():
        a, b = one[model][name], two[model][name]
        assert a["num_images"] == b["num_images"] == n
        assert a["correct"] == b["correct"]
        assert a["accuracy"] == b["accuracy"] == pytest.approx(100 * np.mean(a["correct"]))
