"""`scripts/gpu_check.sh --smoke`: the prepared GPU check runs end to end (tiny, any device),
so it cannot rot between the rare runs on a GPU machine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_gpu_check_smoke_runs_every_step(tmp_path):
    env = {**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "gpu_check.sh"), "--smoke", "--out", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    for step in (
        "1. forward only",
        "2. end to end",
        "3. bf16 vs fp32",
        "4. bf16 fine-tuning",
        "5. rib run",
        "6. projected full row",
    ):
        assert any(line.startswith(step) for line in lines), (step, proc.stdout)
    for method in ("ft", "lora", "ewc", "lwf"):
        assert any(line.split()[:1] == [method] and "ms/step" in line for line in lines), method
    assert "alpha 0 == baseline and alpha 1 == ft on all 3 datasets: True" in proc.stdout
