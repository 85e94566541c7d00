"""Evaluation provenance in every record, and stores written before it existed."""

from __future__ import annotations

import json
import sqlite3

import numpy as np

from imagenet_rib.records import ResultRecord
from imagenet_rib.results import SCHEMA_VERSION, ResultStore
from test_results_store import make_record

V1_COLUMNS = [c for c in ResultRecord.columns() if c != "provenance"]


def _v1_store(path) -> None:
    """A store as the library wrote it before records had a provenance column."""
    rec = make_record(run="old", acc=42.0).to_dict()
    cols = ", ".join(f"{c} TEXT" for c in V1_COLUMNS)
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    con.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    con.execute(
        f"CREATE TABLE records ({cols}, PRIMARY KEY (run_id, variant, eval_dataset, eval_part))"
    )
    con.execute(
        f"INSERT INTO records VALUES ({', '.join('?' * len(V1_COLUMNS))})",
        [rec[c] for c in V1_COLUMNS],
    )
    con.commit()
    con.close()


def test_a_v1_store_opens_keeps_its_records_and_takes_new_ones(tmp_path):
    path = tmp_path / "old.sqlite"
    _v1_store(path)
    store = ResultStore(path)
    (old,) = store.records()
    assert old.run_id == "old" and float(old.accuracy) == 42.0 and old.provenance == "{}"
    prov = json.dumps({"precision": "bf16", "decode": "cpu"})
    store.add([make_record(run="new", provenance=prov)], {})
    assert store.records(run_id="new")[0].provenance == prov
    with sqlite3.connect(path) as con:
        (version,) = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    assert int(version) == SCHEMA_VERSION == 2
    assert len(ResultStore(path)) == 2  # reopening an upgraded store is a no-op


def test_records_from_older_exports_load_without_provenance():
    data = make_record().to_dict()
    del data["provenance"]
    assert ResultRecord.from_dict(data).provenance == "{}"


def test_make_records_writes_the_evaluation_provenance():
    from imagenet_rib.data.splits import SplitConfig
    from imagenet_rib.evaluation import DatasetEval, EvalConfig
    from imagenet_rib.suites import load_suite
    from imagenet_rib.sweep import RunSpec, make_records

    suite = load_suite("mini-rib")
    spec = RunSpec(
        run_id="rid", kind="baseline", model="m", method="pretrained", label="pretrained"
    )
    ev = DatasetEval("mini-a", "test", "subset", 50.0, 2, np.array([True, False]))
    prov = EvalConfig(precision="bf16", batch_size=64).provenance()
    (rec,) = make_records(suite, SplitConfig(), spec, "rev", {}, "", {"mini-a": ev}, prov)
    import torch

    got = json.loads(rec.provenance)
    # how the evaluation ran, and what else decides the float bits on this machine
    assert got == {
        **prov,
        "torch_version": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "device_name": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
    }
    assert got["precision"] == "bf16" and got["device"] == prov["device"]
