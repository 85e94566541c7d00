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
Per-image correctness vectors of N images reproduce each accuracy exactly. With
``endpoints=True`` the WiSE-FT run also holds alpha=0.0 (the pretrained model's accuracies)
and alpha=1.0 (ft's), as a real sweep does.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from imagenet_rib.records import RUN_ID_FILE, ResultRecord, run_id
from imagenet_rib.suites import SuiteConfig

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


def toy_suite(**sources: str) -> SuiteConfig:
    """The suite of the synthetic records (not registered: scoring needs no dataset specs)."""
    return SuiteConfig(
        name="toy-suite",
        label_space="mini-digits",
        datasets=SUITE,
        reference=REFERENCE,
        sources=dict(sources),
    )


def write_suite_yaml(path) -> Path:
    """The toy suite as a suite YAML (for the CLI's --suite)."""
    path = Path(path)
    entries = "".join(f"  - {{name: {d}, title: Toy {d}}}\n" for d in SUITE)
    path.write_text(
        "name: toy-suite\nlabel_space: mini-digits\n"
        f"reference: {{name: {REFERENCE}, title: Toy reference}}\ndatasets:\n{entries}"
    )
    return path


def run_id_of(model: str, method: str, dataset: str, seed: int = 0) -> str:
    return run_id(model=model, method=method, dataset=dataset, seed=seed)


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


def _accuracy(model: str, method: str, i: str, j: str, seed: int) -> float:
    if j == i:
        acc = PRE[j] + GAIN[method]
    elif j == REFERENCE:
        acc = PRE[j] + DEG[method] * SCALE[model]
    else:
        acc = PRE[j] + BASE[method] * SCALE[model] * W[j]
    return acc + 1.0 * seed  # seed 1: every accuracy one point higher


def synthetic_records(endpoints: bool = False) -> list[ResultRecord]:
    recs: list[ResultRecord] = []
    for model in SCALE:
        rid = run_id(model=model, method="pretrained")
        for j, acc in PRE.items():
            recs.append(
                _record(run_id=rid, model=model, method="pretrained", eval_dataset=j, accuracy=acc)
            )
        for method in BASE:
            variants = ["alpha=0.5"] if method == "wise-ft" else [""]
            if endpoints and method == "wise-ft":
                variants = ["alpha=0.0", "alpha=0.5", "alpha=1.0"]
            seeds = (0, 1) if (model, method) == ("src-b", "lwf") else (0,)
            config = json.dumps({"method": method, "config": {"lr_scale": 1.0}})
            for seed in seeds:
                for i in SUITE:
                    rid = run_id_of(model, method, i, seed)
                    for j in (*SUITE, REFERENCE):
                        if (model, method, i, j) == MISSING:
                            continue
                        for variant in variants:
                            acc = {
                                "alpha=0.0": PRE[j],
                                "alpha=1.0": _accuracy(model, "ft", i, j, seed),
                            }.get(variant, _accuracy(model, method, i, j, seed))
                            if variant == "alpha=1.0" and (model, "ft", i, j) == MISSING:
                                continue  # derived from the ft run, which lacks the cell
                            recs.append(
                                _record(
                                    run_id=rid,
                                    model=model,
                                    method=method,
                                    variant=variant,
                                    method_config=config,
                                    finetune_dataset=i,
                                    eval_dataset=j,
                                    accuracy=acc,
                                    seed=seed,
                                )
                            )
    return recs


def synthetic_results(endpoints: bool = False):
    """(DataFrame of the records, correctness getter ``key -> (N,) bool``)."""
    import pandas as pd

    recs = synthetic_records(endpoints)
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
    model: str = "src-a", method: str = "ft", dataset: str = "d1", seed: int = 0, **extra
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
        **extra,
    }


def make_run_dir(path, cfg: dict | None = None, *, run_id: str | None = "auto", weights=True):
    """A finished run folder as `rib run` leaves it: tiny ViT weights + processor,
    rib_model.json, rib_config.json, rib_run.json (`run_id`; "auto": the id of `cfg`'s run;
    None: none written), a training log and summary, plus what must never be uploaded: a
    leftover checkpoint, a hidden file, a stray note and a tracker folder."""
    from transformers import ViTForImageClassification

    from imagenet_rib.models.mini import image_processor, vit_config

    path = Path(path)
    cfg = cfg or run_config()
    path.mkdir(parents=True, exist_ok=True)
    if weights:
        model = ViTForImageClassification(
            vit_config(hidden_size=32, num_hidden_layers=2, intermediate_size=64)
        )
        model.save_pretrained(path)
        image_processor().save_pretrained(path)
        from imagenet_rib.transforms import from_hf_processor

        meta = {
            "kind": "hf",
            "format": "transformers",
            "wrapper": None,
            "label_space": "mini-digits",
            "transform": from_hf_processor(image_processor()).to_dict(),
        }
        (path / "rib_model.json").write_text(json.dumps(meta))
        (path / "train_summary.json").write_text(json.dumps({"global_steps": 1}))
    (path / "rib_config.json").write_text(json.dumps(cfg, indent=2))
    if run_id == "auto":
        run_id = run_id_of(
            cfg["model"]["name"], cfg["method"], cfg["dataset"], cfg["train"]["seed"]
        )
    if run_id is not None:
        (path / RUN_ID_FILE).write_text(json.dumps({"run_id": run_id}))
    (path / "train_log.jsonl").write_text('{"step": 1, "loss": 2.3}\n')
    (path / "checkpoints" / "checkpoint-1").mkdir(parents=True, exist_ok=True)
    (path / "checkpoints" / "checkpoint-1" / "optimizer.pt").write_bytes(b"junk")
    (path / ".cache").write_text("hidden")
    (path / "notes.txt").write_text(f"scratch notes written in {path}")
    (path / "wandb").mkdir(exist_ok=True)
    (path / "wandb" / "run.log").write_text("tracker")
    return path


def pair_groups(suite, split, part="test"):
    """Stands in for `scoring.part_groups` with `store_for_config`'s 50-image parts: two
    views per source on every dataset except the reference."""
    return {j: np.arange(50) // 2 for j in suite.eval_datasets if j != suite.reference}


def store_for_config(config, tmp_path, drop=()):
    """A store holding records for every run of `config`'s plan (no training), with exact
    correctness vectors; `drop`: (method, finetune set) pairs left out."""
    from imagenet_rib.records import ResultRecord
    from imagenet_rib.results import ResultStore
    from imagenet_rib.sweep import plan

    suite = config.load_suite()
    rng = np.random.default_rng(0)
    n = 50
    recs, correct = [], {}
    for spec in plan(config, suite):
        if (spec.label, spec.finetune_dataset) in drop:
            continue
        variants = ["alpha=0.0", "alpha=0.5", "alpha=1.0"] if spec.kind == "derived" else [""]
        for variant in variants:
            for k, j in enumerate(suite.eval_datasets):
                hits = int(rng.integers(10, 45)) if spec.kind != "baseline" else 30 + k
                rec = ResultRecord(
                    spec.run_id, spec.model, "rev-a", spec.label, json.dumps({"method": spec.method}),
                    spec.finetune_dataset, variant, j, "test", suite.name, suite.label_space,
                    "full", "holdout", 0, 0.2, spec.seed, 100.0 * hits / n, n, "{}", "0.1.0",
                    "2026-01-01T00:00:00+00:00",
                )  # fmt: skip
                vec = np.zeros(n, dtype=bool)
                vec[rng.permutation(n)[:hits]] = True
                recs.append(rec)
                correct[rec.key] = vec
    store = ResultStore(tmp_path / "results.sqlite")
    store.add(recs, correct)
    return store
