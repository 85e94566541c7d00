"""No silently wrong run: diverged training fails, validation precedes every write, run
folders are never someone else's and are locked while used, checkpoints resume exactly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from imagenet_rib.cli import main
from imagenet_rib.errors import TrainingDivergedError
from support import fault_inject
from test_bad_inputs import snapshot

TESTS = Path(__file__).parent
FAST = [
    "--max-steps", "4", "--batch-size", "8", "--warmup-steps", "0", "--scheduler", "constant",
    "--logging-steps", "1", "--save-steps", "0", "--split-rule", "none", "--num-workers", "0",
]  # fmt: skip


def finetune_argv(root: Path, out: Path, *extra: str) -> list[str]:
    return [
        "finetune",
        "--model",
        str(root / "model"),
        "--method",
        "ft",
        "--dataset",
        "mini-r",
        "--output-dir",
        str(out),
        *FAST,
        *extra,
    ]


# ------------------------------------------------------------------------ diverged runs


@pytest.mark.slow
def test_diverged_finetune_fails_and_records_nothing(tiny_env, tmp_path, capsys):
    assert main(finetune_argv(tiny_env, tmp_path / "good")) == 0
    before = snapshot(tmp_path / "good")
    capsys.readouterr()
    assert main(finetune_argv(tiny_env, tmp_path / "hot", "--lr", "1e6")) == 2
    err = capsys.readouterr().err
    assert "rib finetune: error: training diverged: the training" in err
    assert "lr=1e+06) is likely too high: lower --lr" in err
    assert "Nothing was recorded as done" in err
    hot = tmp_path / "hot"
    assert not (hot / "train_summary.json").exists() and not (hot / "model.safetensors").exists()
    assert snapshot(tmp_path / "good") == before  # what was written stays as it was
    # the same command fails the same way: a diverged folder is never returned as finished
    assert main(finetune_argv(tiny_env, hot, "--lr", "1e6")) == 2
    assert not (hot / "train_summary.json").exists()


def test_nonfinite_weights_are_refused_with_the_cause():
    import torch
    from transformers import TrainingArguments

    from imagenet_rib.training import check_finite_weights

    net = torch.nn.Linear(2, 2)
    args = TrainingArguments(output_dir="unused", learning_rate=3.0, use_cpu=True, report_to=[])
    check_finite_weights(net, args)  # finite: no error
    with torch.no_grad():
        net.bias[0] = float("nan")
    with pytest.raises(TrainingDivergedError, match=r"1 weight tensor\(s\) are NaN.*bias"):
        check_finite_weights(net, args)


SWEEP = """\
name: hot-matrix
suite: tiny/tiny-suite.yaml
models: [tiny/tiny-model]
methods:
  - {name: ft, label: ft-hot, train: {lr: 1.0e+6}}
  - ft
  - {name: wise-ft, label: wise-hot, config: {alphas: [0.5]}, sources: [ft-hot]}
finetune_datasets: [tiny-a]
split: {rule: holdout, test_fraction: 0.3, seed: 0}
train: {lr: 0.01, max_steps: 4, warmup_steps: 0, scheduler: constant, batch_size: 8,
        save_steps: 0, logging_steps: 1, num_workers: 0}
eval_batch_size: 64
output_dir: out
"""


@pytest.mark.slow
def test_sweep_reports_a_diverged_run_goes_on_and_exits_nonzero(tmp_path, capsys, monkeypatch):
    from imagenet_rib.results import ResultStore
    from imagenet_rib.sweep import BenchmarkConfig, plan
    from support.rib_tiny import make_suite

    make_suite(tmp_path / "tiny")
    (tmp_path / "cfg.yaml").write_text(SWEEP)
    monkeypatch.chdir(tmp_path)
    assert main(["run", "cfg.yaml", "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert "2 run(s) FAILED (nothing recorded for them):" in out
    assert "ft-hot tiny-a seed 0: training diverged" in out
    assert "wise-hot tiny-a seed 0: its source run(s)" in out
    specs = {s.label: s for s in plan(BenchmarkConfig.load("cfg.yaml"))}
    store = ResultStore("out/results.sqlite", read_only=True)
    runs = store.runs()
    assert runs[specs["ft-hot"].run_id]["status"] == "failed"
    assert runs[specs["wise-hot"].run_id]["status"] == "failed"
    assert runs[specs["ft"].run_id]["status"] == "done"
    assert {r.method for r in store.records()} == {"pretrained", "ft"}  # nothing from hot runs
    import torch

    for rec in store.records():  # every record says what decided its float bits
        prov = json.loads(rec.provenance)
        assert prov["torch_threads"] == torch.get_num_threads()
        assert prov["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert not (Path("out/runs") / specs["ft-hot"].folder_name / "train_summary.json").exists()
    # readable run folders, one level under out/runs, and no lock file left behind
    ft = specs["ft"]
    assert ft.folder_name == f"tiny-model-ft-tiny-a-s0-{ft.run_id[:8]}"
    assert sorted(p.name for p in Path("out/runs").iterdir()) == sorted(
        [ft.folder_name, specs["ft-hot"].folder_name]
    )


# ------------------------------------------------------------------------ late validation


@pytest.mark.parametrize(
    "extra, match",
    [
        (["--batch-size", "6", "--gradient-accumulation-steps", "4"], "multiple of 4"),
        (["--mixed-precision", "fp16"], "fp16' needs a CUDA device; use --mixed-precision"),
        (["--max-train-samples", "0"], r"max_train_samples=0 is out of range"),
        (["--batch-size", "0"], r"batch_size=0 is out of range"),
        (["--method-config", "rank=4"], r"unknown option"),
    ],
    ids=["batch-not-divisible", "fp16-on-cpu", "max-train-samples-0", "batch-0", "method-opt"],
)
def test_refused_finetune_writes_nothing_and_the_fix_then_works(
    extra, match, tiny_env, tmp_path, capsys
):
    import torch

    if "fp16" in extra and torch.cuda.is_available():
        pytest.skip("fp16 runs on CUDA")
    out = tmp_path / "run"
    assert main(finetune_argv(tiny_env, out, *extra)) == 2
    err = capsys.readouterr().err
    assert "rib finetune: error:" in err and __import__("re").search(match, err), err
    assert list(tmp_path.iterdir()) == []  # no folder, no lock file, nothing
    assert main(finetune_argv(tiny_env, out)) == 0  # the corrected command works
    assert (out / "train_summary.json").exists()


# ------------------------------------------------------------------------ user folders


def test_user_folder_is_refused_untouched(tiny_env, tmp_path, capsys):
    folder = tmp_path / "mine"
    (folder / "checkpoints").mkdir(parents=True)
    (folder / "config.json").write_text('{"my": "settings"}')
    (folder / "checkpoints" / "model.pt").write_bytes(b"precious")
    before = snapshot(tmp_path)
    assert main(finetune_argv(tiny_env, folder)) == 2
    err = capsys.readouterr().err
    assert "is not empty (['checkpoints', 'config.json']) and is not a run folder" in err
    assert "left untouched: give a new or empty folder" in err
    assert snapshot(tmp_path) == before
    (tmp_path / "empty").mkdir()
    # an empty folder is fine, and so is one where a killed run left its half-written config
    (tmp_path / "empty" / ".rib_config.json.tmp-0123abcd").write_text('{"mod')
    assert main(finetune_argv(tiny_env, tmp_path / "empty")) == 0


def test_run_folder_in_use_is_refused_and_locks_leave_no_file(tiny_env, tmp_path, capsys):
    """A second `rib finetune` on a folder another process holds is refused; a lock dies
    with its process (kill -9 included) and leaves no file behind."""
    from imagenet_rib.locks import folder_lock, lock_path

    out = tmp_path / "run"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from imagenet_rib.locks import folder_lock\n"
            "with folder_lock(sys.argv[1]):\n    print('held', flush=True); time.sleep(60)",
            str(out),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(TESTS.parent / "src")},
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        assert main(finetune_argv(tiny_env, out)) == 2
        err = capsys.readouterr().err
        assert f"run folder {out} is in use by another process (pid {holder.pid})" in err
        assert not out.exists()
    finally:
        holder.kill()
        holder.wait()
    # the killed holder's lock is free at once, and a lock is re-entrant in one process
    with folder_lock(out), folder_lock(out):
        assert lock_path(out).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no stale lock file
    assert main(finetune_argv(tiny_env, out)) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_folder_lock_refuses_a_second_holder(tmp_path):
    from imagenet_rib.locks import folder_lock

    code = (
        "import sys\nfrom imagenet_rib.locks import folder_lock\n"
        "try:\n    with folder_lock(sys.argv[1], what='run folder'): pass\n"
        "except Exception as e: print(type(e).__name__, e)"
    )
    env = {**os.environ, "PYTHONPATH": str(TESTS.parent / "src")}
    with folder_lock(tmp_path / "r"):
        res = subprocess.run(
            [sys.executable, "-c", code, str(tmp_path / "r")],
            capture_output=True,
            text=True,
            env=env,
        )
    assert res.stdout.startswith(f"ConfigError run folder {tmp_path / 'r'} is in use"), res


# ------------------------------------------------------------------------ checkpoints


def _rib(root: Path, out: Path, *fault: str) -> subprocess.CompletedProcess:
    """`rib finetune` in a fresh process (optionally under tests/support/fault_inject.py)."""
    argv = finetune_argv(root, out, "--max-steps", "6", "--save-steps", "2")
    head = [fault_inject.__file__, *fault] if fault else ["-m", "imagenet_rib"]
    env = {
        **os.environ,
        "PYTHONPATH": str(TESTS.parent / "src"),
        "IMAGENET_RIB_DATA_DIR": str(root / "data"),
    }
    return subprocess.run(
        [sys.executable, *head, *argv], capture_output=True, text=True, env=env, timeout=600
    )


def _weights(run: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(run / "model.safetensors")


@pytest.mark.slow
def test_kill_during_a_checkpoint_write_then_restart_gives_the_uninterrupted_weights(
    tiny_root, tmp_path
):
    import torch

    ref = _rib(tiny_root, tmp_path / "ref")
    assert ref.returncode == 0, ref.stderr[-3000:]
    killed = _rib(tiny_root, tmp_path / "run", "checkpoint-write:4")
    assert killed.returncode == -9, killed.stderr[-3000:]  # SIGKILL inside checkpoint-4's write
    ckpts = tmp_path / "run" / "checkpoints" / "ft"
    # the half-written checkpoint never appears under its final name; the previous one stays
    assert sorted(p.name for p in ckpts.iterdir()) == [".staging-4", "checkpoint-2"]
    assert not (ckpts / ".staging-4" / "checkpoint-4" / "optimizer.pt").exists()
    again = _rib(tiny_root, tmp_path / "run")
    assert again.returncode == 0, again.stderr[-3000:]
    got, want = _weights(tmp_path / "run"), _weights(tmp_path / "ref")
    assert got.keys() == want.keys()
    assert all(torch.equal(got[k], want[k]) for k in want)  # bit-identical
    log = [json.loads(line) for line in (tmp_path / "run" / "train_log.jsonl").open()]
    assert [r["step"] for r in log if "loss" in r] == [1, 2, 3, 4, 5, 6]
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_resume_skips_a_checkpoint_without_optimizer_state(tmp_path, caplog):
    from imagenet_rib.checkpoints import REQUIRED, last_complete_checkpoint

    for step in (2, 4):
        folder = tmp_path / f"checkpoint-{step}"
        folder.mkdir()
        for name in (*REQUIRED, "rng_state.pth"):
            (folder / name).write_text("{}")
    (tmp_path / ".staging-6" / "checkpoint-6").mkdir(parents=True)  # a killed write
    assert last_complete_checkpoint(tmp_path) == str(tmp_path / "checkpoint-4")
    assert not (tmp_path / ".staging-6").exists()
    (tmp_path / "checkpoint-4" / "optimizer.pt").unlink()
    (tmp_path / "checkpoint-2" / "trainer_state.json").write_text('{"global_st')  # cut short
    assert last_complete_checkpoint(tmp_path) is None  # a fresh start: exact, never a guess
    text = caplog.text
    assert "skipping incomplete checkpoint" in text and "missing optimizer.pt" in text
    assert "missing a readable trainer_state.json" in text


# ------------------------------------------------------------------------ console


def test_finetune_shows_a_progress_bar_and_reports_the_true_loss_and_steps(
    tiny_env, tmp_path, capsys
):
    logging_every = ["--logging-steps", "50"]  # longer than the run: no step is logged
    assert main(finetune_argv(tiny_env, tmp_path / "run", *logging_every)) == 0
    out, err = capsys.readouterr()
    report = json.loads(out.strip().splitlines()[-1])
    assert report["steps"] == 4  # the run's step count, not the last logged step
    log = [json.loads(line) for line in (tmp_path / "run" / "train_log.jsonl").open()]
    (mean,) = [r["train_loss"] for r in log if "train_loss" in r]
    assert report["final_loss"] == mean and mean > 0  # the Trainer's mean: never null
    assert "fine-tuning" in err and "4/4" in err  # our bar, run to its end
    assert "{'loss'" not in out + err and "'train_runtime'" not in out + err  # no Trainer dicts
    # LoRA (peft) without a bar: no library FutureWarnings either
    quiet = ("--method", "lora", "--no-progress")
    assert main(finetune_argv(tiny_env, tmp_path / "quiet", *quiet)) == 0
    out, err = capsys.readouterr()
    assert "fine-tuning" not in err and json.loads(out.strip().splitlines()[-1])["steps"] == 4
    assert "Warning" not in err and "WARNING" not in err, err
