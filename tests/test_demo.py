"""`rib demo`: the reduced Mini-RIB matrix end to end, and its numbers under 1 and 2 threads."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from imagenet_rib.records import ResultRecord
from imagenet_rib.results import ResultStore

#: a reduced matrix for the thread-count check: 1 model x 2 methods x 1 set, 1 epoch
THREADS_CONFIG = """
name: mini-rib-threads
suite: mini-rib
models: [mini-vit-clean]
methods:
  - ft
  - name: lora
    config: {rank: 4, alpha: 8}
finetune_datasets: [mini-r]
seeds: [0]
split: {rule: holdout, test_fraction: 0.2, seed: 0}
train: {lr: 0.05, epochs: 1, warmup_steps: 2, batch_size: 64, save_steps: 0, logging_steps: 5}
eval_batch_size: 512
"""


def _demo(out, *extra: str, env: dict[str, str] | None = None, stream: str = "stdout") -> str:
    # the command exactly as a user types it (`make demo` runs the full version)
    args = extra if "--config" in extra else ("--quick", *extra)
    proc = subprocess.run(
        [sys.executable, "-m", "imagenet_rib", "demo", "--output-dir", str(out), *args],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, **(env or {})},
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return getattr(proc, stream)


@pytest.mark.slow
def test_quick_demo_end_to_end(tmp_path):
    out = tmp_path / "demo"
    text = _demo(out)
    assert "| mRI |" in text and "RI_i" in text and "in-task gain" in text
    # the OTDD section (2 sets: distances, no correlation) and the computed findings
    assert "| fine-tuning set | OTDD mini-vit-clean | ref. degradation mini-vit-clean |" in text
    assert "no correlation: it needs >= 3 fine-tuning sets" in text
    closing = text[text.index("== findings") :].splitlines()
    assert closing[1].startswith("- mini-vit-clean, wise-ft [alpha=0.0] vs ft: ΔmRI = ")
    assert all(line.endswith("separable at 95 %") for line in closing[1:] if line.startswith("- "))
    # timings and run counts go to stderr: stdout is the same on every machine and every re-run
    assert "done in" not in text and "executed" not in text
    assert "== benchmark matrix mini-rib-quick: 7 runs" in text
    store = ResultStore(out / "results.sqlite")
    recs = store.records()
    # 1 baseline + 2 ft + 2 linear-probe + 2 wise-ft x 3 alphas, each on 8 sets + mini-val
    assert len(recs) == (1 + 2 + 2 + 6) * 9 == len({r.key for r in recs})
    assert all(v["status"] == "done" for v in store.runs().values())
    df = pd.read_csv(out / "results.csv")
    assert list(df.columns) == ResultRecord.columns() and len(df) == len(recs)
    scores = json.loads((out / "scores.json").read_text())
    assert any(r["method"] == "ft" for r in scores["results"])
    assert [f"- {f['text']}" for f in scores["findings"]] == [
        line for line in closing if line.startswith("- ")
    ]
    assert set(scores["otdd"]["distances"]["mini-vit-clean"]) == {"mini-r", "mini-sketch"}
    # one set of figures, the report's, with the OTDD scatter
    assert (out / "report" / "figures" / "delta_mini-vit-clean.png").is_file()
    assert (out / "report" / "figures" / "otdd_scatter.png").is_file()
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
    # a second run reuses every finished run, and prints the same results
    again = _demo(out, "--no-report", "--no-otdd", stream="stderr")
    assert "0 run(s) executed, 7 reused" in again


@pytest.mark.slow
def test_demo_numbers_do_not_depend_on_the_thread_count(tmp_path):
    """Under OMP_NUM_THREADS=1 and =2 the demo gives bit-identical weights and accuracies,
    and prints the same tables, OTDD values and findings: it pins torch to one intra-op
    thread, and records the threads and CPU capability."""
    import torch

    probe = "import torch; print(torch.get_num_threads())"
    env2 = {"OMP_NUM_THREADS": "2"}
    seen = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env={**os.environ, **env2}
    )
    assert seen.stdout.strip() == "2"  # without the pin, the second run WOULD use 2 threads
    cfg = tmp_path / "threads.yaml"
    cfg.write_text(THREADS_CONFIG)
    results, printed = [], []
    for threads in ("1", "2"):
        out = tmp_path / "threads" / threads
        text = _demo(out, "--config", str(cfg), "--no-report", env={"OMP_NUM_THREADS": threads})
        printed.append(text.replace(str(out), "OUT"))
        store = ResultStore(out / "results.sqlite")
        accuracy = {r.key: r.accuracy for r in store.records()}
        correct = {k: store.correct(k).tolist() for k in accuracy}
        weights, provenance = {}, []
        for path in sorted(out.rglob("train_summary.json")):
            config = json.loads((path.parent / "rib_config.json").read_text())
            weights[config["method"]] = json.loads(path.read_text())["weight_checksums"]
            provenance.append(config["provenance"])
        provenance += [v["info"]["provenance"] for v in store.runs().values()]
        assert len(weights) == 2 and len(accuracy) == 3 * 9
        assert {p["torch_threads"] for p in provenance} == {1}
        assert {p["cpu_capability"] for p in provenance} == {
            torch.backends.cpu.get_cpu_capability()
        }
        results.append((accuracy, correct, weights))
    assert results[0] == results[1]
    assert "| mini-vit-clean | ft | - | 1 |" in printed[0] and "OTDD mini-vit-clean" in printed[0]
    assert printed[0] == printed[1]  # the demo's whole table, OTDD and findings
