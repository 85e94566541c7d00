"""Synthetic results tables for the report / model-card / Hub tests (no training needed).

`synthetic_results()` builds ResultRecord rows of 2 pretraining sources x 3 methods (ft, lwf,
wise-ft with variant ``alpha=0.5``) on a 3-dataset suite plus a pretraining reference, with
accuracies in closed form so every score is known exactly:

    A_pre(j)       = PRE[j]
    A(i -> j)      = PRE[j] + BASE[method] * SCALE[model] * W[j]      (j != i, j in the suite)
    A(i -> i)      = PRE[i] + GAIN[method]                            (in-task)
    A(i -> ref)    = PRE[ref] + DEG[method] * SCALE[model]

so dA(i -> j) = BASE * SCALE * W[j] and RI_i = BASE * SCALE * mean_{j != i} W[j]. One cell
(src-a / ft: d2 -> d3) is missing, and src-b / lwf has a second seed (for seed intervals).
Per-image correctness vectors of N images reproduce each accuracy exactly.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np

from imagenet_rib.records import ResultRecord, run_id

SUITE = ("d1", "d2", "d3")
REFERENCE = "ref-val"
PRE = {"d1": 60.0, "d2": 50.0, "d3": 40.0, REFERENCE: 80.0}
W = {"d1": 1.0, "d2": 2.0, "d3": 3.0}
BASE = {"ft": -2.0, "lwf": -1.0, "wise-ft": -0.5}
GAIN = {"ft": 20.0, "lwf": 15.0, "wise-ft": 10.0}
DEG = {"ft": -15.0, "lwf": -5.0, "wise-ft": -2.0}
SCALE = {"src-a": 1.0, "src-b": 2.0}
MISSING = ("src-a", "ft", "d2", "d3")  # (model, method, finetune set, eval set)
N = 200


def expected_ri(model: str, method: str, i: str) -> float:
    others = [W[j] for j in SUITE if j != i]
    return BASE[method] * SCALE[model] * float(np.mean(others))


def _record(**kw) -> ResultRecord:
    base = dict(
        run_id="",
        model="",
        model_revision="rev0",
        method="",
        method_config="{}",
        finetune_dataset="",
        variant="",
        eval_dataset="",
        eval_part="test",
        suite="toy-suite",
        label_space="mini-digits",
        protocol="full",
        split_rule="holdout",
        split_seed=0,
        test_fraction=0.2,
        seed=0,
        accuracy=0.0,
        num_images=N,
        per_group="{}",
        library_version="0.1.0",
        time="2026-01-01T00:00:00+00:00",
    )
    base.update(kw)
    return ResultRecord(**base)


def synthetic_records() -> list[ResultRecord]:
    recs: list[ResultRecord] = []
    for model, scale in SCALE.items():
        rid = run_id(model=model, method="pretrained")
        for j, acc in PRE.items():
            recs.append(
                _record(run_id=rid, model=model, method="pretrained", eval_dataset=j, accuracy=acc)
            )
        for method in BASE:
            variant = "alpha=0.5" if method == "wise-ft" else ""
            seeds = (0, 1) if (model, method) == ("src-b", "lwf") else (0,)
            for seed in seeds:
                for i in SUITE:
                    rid = run_id(model=model, method=method, dataset=i, seed=seed)
                    for j in (*SUITE, REFERENCE):
                        if (model, method, i, j) == MISSING:
                            continue
                        if j == i:
                            acc = PRE[j] + GAIN[method]
                        elif j == REFERENCE:
                            acc = PRE[j] + DEG[method] * scale
                        else:
                            acc = PRE[j] + BASE[method] * scale * W[j]
                        acc += 1.0 * seed  # seed 1: every accuracy one point higher
                        recs.append(
                            _record(
                                run_id=rid,
                                model=model,
                                method=method,
                                variant=variant,
                                method_config=json.dumps({"lr": 1e-3}),
                                finetune_dataset=i,
                                eval_dataset=j,
                                accuracy=acc,
                                seed=seed,
                            )
                        )
    return recs


def synthetic_results():
    """(DataFrame of the records, correctness getter ``key -> (N,) bool``)."""
    import pandas as pd

    recs = synthetic_records()
    rng = np.random.default_rng(0)
    correct = {}
    for r in recs:
        k = int(round(r.accuracy * N / 100))
        vec = np.zeros(N, dtype=bool)
        vec[rng.permutation(N)[:k]] = True
        correct[r.key] = vec
    df = pd.DataFrame([r.to_dict() for r in recs], columns=ResultRecord.columns())
    return df, correct.get


def with_changes(rec: ResultRecord, **kw) -> ResultRecord:
    return replace(rec, **kw)


def run_config(
    model: str = "src-a", method: str = "ft", dataset: str = "d1", seed: int = 0
) -> dict:
    """A `rib_config.json` as `finetune()` writes it (the fields the card reads)."""
    return {
        "model": {"name": model, "revision": "rev0", "kind": "hf", "label_space": "mini-digits"},
        "method": method,
        "method_config": {"lr_scale": 1.0},
        "dataset": dataset,
        "protocol": {"rule": "full"},
        "split": {"rule": "holdout", "seed": 0, "test_fraction": 0.2},
        "train": {"seed": seed, "learning_rate": 1e-3, "epochs": 1},
    }


def make_run_dir(path, cfg: dict | None = None):
    """A finished run folder: tiny ViT weights + processor, rib_config.json, a training log and
    a leftover checkpoint (which must never be uploaded)."""
    from pathlib import Path

    from transformers import ViTForImageClassification

    from imagenet_rib.models.mini import image_processor, vit_config

    path = Path(path)
    model = ViTForImageClassification(
        vit_config(hidden_size=32, num_hidden_layers=2, intermediate_size=64)
    )
    model.save_pretrained(path)
    image_processor().save_pretrained(path)
    (path / "rib_config.json").write_text(json.dumps(cfg or run_config(), indent=2))
    (path / "train_log.jsonl").write_text('{"step": 1, "loss": 2.3}\n')
    (path / "checkpoints" / "checkpoint-1").mkdir(parents=True)
    (path / "checkpoints" / "checkpoint-1" / "optimizer.pt").write_bytes(b"junk")
    return path
