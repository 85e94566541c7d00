"""`rib demo --quick`: the reduced Mini-RIB matrix end to end through the benchmark runner."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from imagenet_rib.cli import main
from imagenet_rib.records import ResultRecord
from imagenet_rib.results import ResultStore


@pytest.mark.slow
def test_quick_demo_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--output-dir", str(out)]) == 0
    text = capsys.readouterr().out
    assert "mRI" in text and "RI" in text
    store = ResultStore(out / "results.sqlite")
    recs = store.records()
    # 1 baseline + 2 ft + 2 linear-probe + 2 wise-ft x 3 alphas, each on 8 sets + mini-val
    assert len(recs) == (1 + 2 + 2 + 6) * 9 == len({r.key for r in recs})
    assert all(v["status"] == "done" for v in store.runs().values())
    df = pd.read_csv(out / "results.csv")
    assert list(df.columns) == ResultRecord.columns() and len(df) == len(recs)
    scores = json.loads((out / "scores.json").read_text())
    assert any("/ft/" in k for k in scores)
    assert list((out / "figures").glob("delta-*.png"))
    # the pretrained model's mini-c score is the mean over its 75 corruption/severity sets
    (c,) = store.records(method="pretrained", eval_dataset="mini-c")
    per_group = json.loads(c.per_group)
    assert len(per_group) == 75
    assert c.accuracy == pytest.approx(sum(per_group.values()) / 75)
    # a second run reuses every finished run
    assert main(["demo", "--quick", "--output-dir", str(out), "--no-report"]) == 0
    assert "0 run(s) executed" in capsys.readouterr().out
