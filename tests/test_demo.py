"""`rib demo --quick`: the reduced Mini-RIB matrix end to end through the benchmark runner."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from imagenet_rib.records import ResultRecord
from imagenet_rib.results import ResultStore


def _demo(out, *extra: str) -> str:
    # the command exactly as a user types it (`make demo` runs the full version)
    proc = subprocess.run(
        [sys.executable, "-m", "imagenet_rib", "demo", "--quick", "--output-dir", str(out), *extra],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ},
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.slow
def test_quick_demo_end_to_end(tmp_path):
    out = tmp_path / "demo"
    text = _demo(out)
    assert "| mRI |" in text and "RI_i" in text and "in-task gain" in text
    store = ResultStore(out / "results.sqlite")
    recs = store.records()
    # 1 baseline + 2 ft + 2 linear-probe + 2 wise-ft x 3 alphas, each on 8 sets + mini-val
    assert len(recs) == (1 + 2 + 2 + 6) * 9 == len({r.key for r in recs})
    assert all(v["status"] == "done" for v in store.runs().values())
    df = pd.read_csv(out / "results.csv")
    assert list(df.columns) == ResultRecord.columns() and len(df) == len(recs)
    scores = json.loads((out / "scores.json").read_text())
    assert any(r["method"] == "ft" for r in scores["results"])
    # one set of figures, the report's
    assert (out / "report" / "figures" / "delta_mini-vit-clean.png").is_file()
    assert not (out / "figures").exists()
    # the pretrained model's mini-c score is the mean over its 75 corruption/severity sets
    (c,) = store.records(method="pretrained", eval_dataset="mini-c")
    per_group = json.loads(c.per_group)
    assert len(per_group) == 75
    assert c.accuracy == pytest.approx(sum(per_group.values()) / 75)
    # WiSE-FT's end points are exactly the pretrained and the fine-tuned models
    acc = {(r.method, r.variant, r.finetune_dataset, r.eval_dataset): r.accuracy for r in recs}
    for d in ("mini-v2", "mini-val"):
        assert acc[("wise-ft", "alpha=0.0", "mini-r", d)] == acc[("pretrained", "", "", d)]
        assert acc[("wise-ft", "alpha=1.0", "mini-r", d)] == acc[("ft", "", "mini-r", d)]
    # a second run reuses every finished run
    assert "0 run(s) executed" in _demo(out, "--no-report")
