"""A real 2-process data-parallel fine-tune on CPU (gloo) through ``accelerate launch``.

Both ranks must end with identical weights, equal to a 1-process run with the same global
batch (8 images, batch 8: every step sees the same samples in both runs).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import torch

from imagenet_rib.data.splits import SplitConfig
from imagenet_rib.finetune import finetune, load_run
from support.rib_train_helpers import make_dataset, make_model_dir

TRAIN = [
    "--lr",
    "0.2",
    "--warmup-steps",
    "1",
    "--epochs",
    "3",
    "--batch-size",
    "8",
    "--save-steps",
    "0",
    "--logging-steps",
    "1",
    "--split-rule",
    "none",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_run_matches_one_process_run(tmp_path):
    model = make_model_dir(tmp_path / "model")
    make_dataset(tmp_path / "data" / "mini-r", (0, 1, 2, 3, 4, 7), 8)
    env = {**os.environ, "IMAGENET_RIB_DATA_DIR": str(tmp_path / "data"), "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        str(_free_port()),
        "-m",
        "imagenet_rib",
        "finetune",
        "--model",
        str(model),
        "--method",
        "l2sp",
        "--dataset",
        "mini-r",
        "--output-dir",
        str(tmp_path / "ddp"),
        *TRAIN,
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads((tmp_path / "ddp" / "train_summary.json").read_text())
    assert len(summary["weight_checksums"]) == 2 and summary["ranks_agree"]
    config = json.loads((tmp_path / "ddp" / "rib_config.json").read_text())
    assert config["provenance"]["world_size"] == 2

    os.environ["IMAGENET_RIB_DATA_DIR"] = str(tmp_path / "data")
    try:
        single = finetune(
            str(model),
            "l2sp",
            "mini-r",
            split=SplitConfig(rule="none"),
            train={
                "lr": 0.2,
                "warmup_steps": 1,
                "epochs": 3,
                "batch_size": 8,
                "save_steps": 0,
                "logging_steps": 1,
            },
            output_dir=tmp_path / "single",
        )
    finally:
        del os.environ["IMAGENET_RIB_DATA_DIR"]
    ddp = load_run(tmp_path / "ddp").model
    changed = 0
    for n, t in single.model.state_dict().items():
        torch.testing.assert_close(ddp.state_dict()[n], t, atol=1e-5, rtol=1e-4)
        changed += not torch.equal(t, make_model_state(model)[n])
    assert changed > 0
    # the logged loss of each step is the global-batch loss in both runs
    ddp_rows = [
        json.loads(line) for line in (tmp_path / "ddp" / "train_log.jsonl").read_text().splitlines()
    ]
    ddp_loss = [r["loss"] for r in ddp_rows if "loss" in r]
    single_loss = [r["loss"] for r in single.log if "loss" in r]
    assert len(ddp_loss) == len(single_loss) == 3
    for a, b in zip(ddp_loss, single_loss):
        assert abs(a - b) < 1e-4 * max(1.0, abs(b))


_STATES: dict = {}


def make_model_state(folder):
    if folder not in _STATES:
        from imagenet_rib.models import load_model

        _STATES[folder] = load_model(str(folder)).model.state_dict()
    return _STATES[folder]
