"""Dispatch a plan through submitit (local executor): one job per run, one shared store."""

from __future__ import annotations

import pytest

from imagenet_rib.results import ResultStore
from imagenet_rib.slurm import dispatch, make_executor
from imagenet_rib.sweep import BenchmarkConfig, plan
from support.rib_tiny import make_suite

pytest.importorskip("submitit")


def test_local_dispatch_one_job_per_run(tmp_path):
    suite = make_suite(tmp_path / "tiny")
    config = BenchmarkConfig(
        models=(str(tmp_path / "tiny" / "tiny-model"),),
        methods=("ft", {"name": "wise-ft", "config": {"alphas": [0.0, 1.0]}}),
        suite=str(suite),
        finetune_datasets=("tiny-c",),
        split={"rule": "holdout", "test_fraction": 0.3},
        train={"lr": 0.01, "epochs": 1, "warmup_steps": 1, "batch_size": 8, "save_steps": 0},
        eval_batch_size=16,
        output_dir=str(tmp_path / "out"),
    )
    specs = plan(config)
    assert [s.kind for s in specs] == ["baseline", "train", "derived"]
    result = dispatch(config, "local", folder=tmp_path / "jobs", timeout_min=10)
    assert set(result.jobs) == {s.run_id for s in specs} and not result.failed
    assert len(set(result.jobs.values())) == 3
    for s in specs:  # each job executed exactly its own run
        assert result.results[s.run_id]["executed"] == [s.run_id]
    store = ResultStore(config.store_path)
    assert all(store.is_done(s.run_id) for s in specs)
    recs = store.records()
    assert len(recs) == (1 + 1 + 2) * 4 == len({r.key for r in recs})
    # wise-ft alpha=0 is the pretrained model and alpha=1 the fine-tuned one, exactly
    acc = {(r.method, r.variant, r.eval_dataset): r.accuracy for r in recs}
    for d in ("tiny-a", "tiny-b", "tiny-c", "tiny-val"):
        assert acc[("wise-ft", "alpha=0.0", d)] == acc[("pretrained", "", d)]
        assert acc[("wise-ft", "alpha=1.0", d)] == acc[("ft", "", d)]
    again = dispatch(config, "local", folder=tmp_path / "jobs", timeout_min=10)
    assert again.jobs == {} and sorted(again.skipped) == sorted(s.run_id for s in specs)


def test_executor_choices(tmp_path):
    from imagenet_rib.errors import ConfigError

    with pytest.raises(ConfigError, match="choose one of"):
        make_executor("kubernetes", tmp_path)
    assert type(make_executor("local", tmp_path)).__name__ == "LocalExecutor"
