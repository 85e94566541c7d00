"""The results store: round trips, no duplicates, concurrent writers, kill -9 mid-write."""

from __future__ import annotations

import multiprocessing as mp
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest

from imagenet_rib.errors import ConfigError
from imagenet_rib.records import ResultRecord
from imagenet_rib.results import ResultStore, pack_correct, unpack_correct


def make_record(
    run: str = "r0", dataset: str = "mini-a", variant: str = "", acc: float = 50.0, **kw
) -> ResultRecord:
    base = dict(
        run_id=run,
        model="m",
        model_revision="sha256:x",
        method="ft",
        method_config="{}",
        finetune_dataset="mini-r",
        variant=variant,
        eval_dataset=dataset,
        eval_part="test",
        suite="s",
        label_space="mini-digits",
        protocol="full",
        split_rule="holdout",
        split_seed=0,
        test_fraction=0.2,
        seed=0,
        accuracy=acc,
        num_images=10,
        per_group="{}",
        library_version="0.1.0",
        time="2024-01-01T00:00:00Z",
    )
    base.update(kw)
    return ResultRecord(**base)


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 1001])
def test_pack_roundtrip(n):
    vec = np.random.default_rng(n).random(n) < 0.4
    assert np.array_equal(unpack_correct(*pack_correct(vec)), vec)


def test_add_is_idempotent_and_replaces_by_key(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    recs = [make_record(dataset=d, acc=a) for d, a in (("mini-a", 10.0), ("mini-r", 20.0))]
    vec = np.array([1, 0, 1, 1, 0], dtype=bool)
    store.add(recs, {recs[0].key: vec})
    store.add(recs, {recs[0].key: vec})
    assert len(store) == 2
    store.add([make_record(dataset="mini-a", acc=99.0)])
    got = {r.eval_dataset: r.accuracy for r in store.records()}
    assert got == {"mini-a": 99.0, "mini-r": 20.0}
    assert np.array_equal(store.correct(recs[0].key), vec)
    assert store.correct(recs[1].key) is None
    assert [r.eval_dataset for r in store.records(eval_dataset="mini-r")] == ["mini-r"]
    with pytest.raises(ConfigError, match="unknown record column"):
        store.records(accuracyy=1)


def test_run_status_and_atomic_done(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    store.mark_planned("r0", {"method": "ft"})
    assert not store.is_done("r0")
    store.add([make_record()], done=("r0", {"seconds": 1.5}))
    assert store.is_done("r0")
    store.mark_planned("r0", {"method": "ft"})  # never downgrades a finished run
    runs = store.runs()
    assert runs["r0"]["status"] == "done" and runs["r0"]["info"] == {"seconds": 1.5}
    assert runs["r0"]["spec"] == {"method": "ft"}


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_export_roundtrip(tmp_path, suffix):
    store = ResultStore(tmp_path / "r.sqlite")
    store.add([make_record(dataset=f"d{i}", acc=float(i)) for i in range(5)])
    path = store.export(tmp_path / f"out{suffix}")
    df = {
        ".parquet": pd.read_parquet,
        ".csv": pd.read_csv,
        ".jsonl": lambda p: pd.read_json(p, lines=True),
    }[suffix](path)
    assert list(df.columns) == ResultRecord.columns()
    assert df["accuracy"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    with pytest.raises(ConfigError, match="must end in one of"):
        store.export(tmp_path / "out.xlsx")


def test_merge(tmp_path):
    a, b = ResultStore(tmp_path / "a.sqlite"), ResultStore(tmp_path / "b.sqlite")
    rec = make_record(run="rb")
    b.add([rec], {rec.key: np.ones(3, bool)}, done=("rb", {}))
    a.add([make_record(run="ra")])
    assert a.merge(b) == 1
    assert {r.run_id for r in a.records()} == {"ra", "rb"}
    assert a.is_done("rb") and a.correct(rec.key).tolist() == [True] * 3


def _writer(path: str, worker: int, n: int) -> None:
    store = ResultStore(path)
    for i in range(n):
        rec = make_record(run=f"w{worker}", dataset=f"d{i}", acc=float(i))
        store.add([rec], {rec.key: np.arange(i + 1) % 2 == 0})


def test_concurrent_writers(tmp_path):
    path = str(tmp_path / "r.sqlite")
    ResultStore(path)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, w, 25)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    store = ResultStore(path)
    recs = store.records()
    assert len(recs) == 100 and len({r.key for r in recs}) == 100
    assert all(store.correct(r.key).sum() == (int(r.eval_dataset[1:]) + 2) // 2 for r in recs)


_KILL_WRITER = textwrap.dedent("""
    import sys, numpy as np
    sys.path.insert(0, {tests!r})
    from test_results_store import make_record
    from imagenet_rib.results import ResultStore
    store = ResultStore({path!r})
    i = 0
    while True:
        recs = [make_record(run=f"r{{i}}", dataset=f"d{{j}}", acc=float(i)) for j in range(50)]
        store.add(recs, {{r.key: np.ones(500, bool) for r in recs}}, done=(f"r{{i}}", {{}}))
        i += 1
""")


def test_kill_9_mid_write_keeps_whole_transactions(tmp_path):
    """A run's 50 records, their vectors and its done mark appear all together or not at all."""
    path = tmp_path / "r.sqlite"
    ResultStore(path)
    script = _KILL_WRITER.format(
        tests=str(__import__("pathlib").Path(__file__).parent), path=str(path)
    )
    rng = np.random.default_rng(0)
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, "-c", script])
        start, written = time.time(), len(ResultStore(path, read_only=True))
        # kill it while it writes: once it has started (imports can take seconds on a
        # loaded machine), at a random instant
        while len(ResultStore(path, read_only=True)) == written and time.time() - start < 120:
            time.sleep(0.05)
        time.sleep(rng.random())
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    store = ResultStore(path)
    recs = store.records()
    runs = store.runs()
    assert len(recs) > 0
    by_run: dict[str, int] = {}
    for r in recs:
        by_run[r.run_id] = by_run.get(r.run_id, 0) + 1
        assert store.correct(r.key) is not None
    assert all(n == 50 for n in by_run.values())
    assert set(by_run) == {k for k, v in runs.items() if v["status"] == "done"}


def _files(folder) -> dict:
    import hashlib

    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def test_read_only_store_reads_everything_and_changes_nothing(tmp_path):
    path = tmp_path / "r.sqlite"
    store = ResultStore(path)
    rec = make_record()
    store.add([rec], {rec.key: np.array([1, 0, 1], bool)}, done=("r0", {"s": 1}))
    del store
    before = _files(tmp_path)
    reader = ResultStore(path, read_only=True)
    assert reader.records() == [rec] and reader.is_done("r0") and len(reader) == 1
    assert reader.correct(rec.key).tolist() == [True, False, True]
    assert _files(tmp_path) == before  # no -wal/-shm left behind, no byte changed


def test_report_reads_a_store_without_writing_it(tmp_path):
    from imagenet_rib.report import load_results

    path = tmp_path / "r.sqlite"
    ResultStore(path).add([make_record()])
    before = _files(tmp_path)
    df, correct = load_results(path)
    assert len(df) == 1 and correct(make_record().key) is None
    assert _files(tmp_path) == before


def test_opening_a_foreign_sqlite_file_leaves_it_untouched(tmp_path):
    import sqlite3

    from imagenet_rib.errors import RIBError

    path = tmp_path / "app.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    before = _files(tmp_path)
    for read_only in (False, True):
        with pytest.raises(RIBError, match="not an imagenet-rib results store"):
            ResultStore(path, read_only=read_only)
    assert _files(tmp_path) == before
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # never switched to WAL
    con.close()


@pytest.mark.parametrize("refused", [("mode=rw",), ("mode=rw", "mode=ro")])
def test_read_only_store_in_a_folder_that_cannot_be_written(tmp_path, monkeypatch, refused):
    """Without write permission (simulated: those opens fail) the store is still read, from
    a ``mode=ro`` connection or, failing that, from the file as it is on disk."""
    import hashlib
    import sqlite3

    from imagenet_rib import results

    path = tmp_path / "r.sqlite"
    ResultStore(path).add([make_record(acc=12.5)])
    real = sqlite3.connect

    def no_write(target, *args, **kwargs):
        if any(flag in str(target) for flag in refused):
            raise sqlite3.OperationalError("unable to open database file")
        return real(target, *args, **kwargs)

    monkeypatch.setattr(results.sqlite3, "connect", no_write)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    reader = ResultStore(path, read_only=True)
    assert [r.accuracy for r in reader.records()] == [12.5]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
