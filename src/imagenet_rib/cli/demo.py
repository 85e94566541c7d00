"""``rib demo``: the whole Mini-RIB benchmark, end to end, offline, on a CPU in minutes.

Builds the Mini-RIB suite, loads the two Mini-RIB models (shipped with the package), runs the
``mini-rib-demo`` matrix through the benchmark runner (`sweep.run` in one single-threaded
worker process per core, `workers.run_parallel`: pretrained baselines,
4 fine-tuning methods on each of the 8 downstream sets, WiSE-FT derived from FT), then
prints the RIB scores and writes the store, a CSV export, ``scores.json`` and the report
(with its figures) to the output folder. ``--quick`` runs the reduced ``mini-rib-quick`` matrix.
Re-running resumes: finished runs are kept.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

#: torch intra-op threads of every demo run: CPU float sums depend on the thread count
DEMO_THREADS = 1


def demo_workers() -> int:
    """Worker processes of the demo: one per core, at most 4 (about 1.3 GB each)."""
    return max(1, min(4, os.cpu_count() or 1))


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo",
        help="run the Mini-RIB benchmark end to end (offline, CPU, minutes)",
        description="Build the Mini-RIB suite, load the two shipped mini models, fine-tune each on "
        "every downstream set with several methods, evaluate everything and print "
        "the RIB matrix dA(i->j), RI_i, mRI, reference degradation and in-task gain.",
    )
    p.add_argument("--output-dir", default="rib-demo", help="output folder (default: ./rib-demo)")
    p.add_argument(
        "--quick",
        action="store_true",
        help="reduced matrix (1 model x 2 trained methods + WiSE-FT x 2 datasets)",
    )
    p.add_argument("--config", default=None, help="another benchmark config to run instead")
    p.add_argument("--no-report", action="store_true", help="skip the HTML/Markdown report")
    p.set_defaults(func=run)


def _step(title: str) -> float:
    print(f"\n== {title}", flush=True)
    return time.time()


def run(args: argparse.Namespace) -> int:
    from ..data.mini import build_suite
    from ..models import load_model
    from ..paths import atomic_write_text
    from ..results import ResultStore
    from ..sweep import scores
    from ..workers import run_parallel
    from .run import load_config, print_summary

    start = time.time()
    out = Path(args.output_dir)
    name = args.config or ("mini-rib-quick" if args.quick else "mini-rib-demo")
    # run folders in <out>/runs/, the store <out>/results.sqlite (no runs/runs/ nesting)
    config = load_config(name, output_dir=str(out), store=str(out / "results.sqlite"))

    t = _step("building the Mini-RIB suite (cached after the first run)")
    print(f"   {build_suite()}  ({time.time() - t:.0f} s)")
    t = _step(f"pretrained models: {', '.join(config.models)} (shipped, checksums verified)")
    for m in config.models:
        info = load_model(m).info.get("pretraining", {})
        acc = info.get("mini_val_accuracy")
        print(
            f"   {m}: pretrained on {info.get('pretrain_set', '?')}, mini-val accuracy {acc:.1f} %"
            if acc is not None
            else f"   {m}"
        )
    print(f"   ({time.time() - t:.0f} s)")

    t = _step(f"benchmark matrix {config.name}: fine-tune and evaluate")
    # one torch thread per run (the same numbers whatever the core count), one worker per core
    result = run_parallel(config, workers=demo_workers(), threads=DEMO_THREADS)
    print(
        f"   {len(result.executed)} run(s) executed, {len(result.skipped)} reused "
        f"({time.time() - t:.0f} s)"
    )

    _step("RIB scores (accuracies in %, dA in accuracy points)")
    store = ResultStore(config.store_path)
    print_summary(config, store)
    table = scores(config, store)
    for res in table:
        if res.method == "ft" and not res.variant:
            print(
                f"\n### {res.model}, fine-tuned with ft (seeds {', '.join(map(str, res.seeds))})\n"
            )
            print(res.scores.to_markdown())

    _step("outputs")
    csv = store.export(out / "results.csv")
    atomic_write_text(out / "scores.json", json.dumps(table.to_dict(), indent=1) + "\n")
    print(
        f"   results store  {store.path}\n   CSV export     {csv}\n   scores         {out / 'scores.json'}"
    )
    if not args.no_report:
        from ..report import build_report

        rep = build_report(table, out / "report", config=config)
        for kind, path in {**rep.paths, **rep.figures}.items():
            print(f"   report: {kind}  {path}")
    print(f"\ndone in {time.time() - start:.0f} s; re-run to reuse every finished run")
    return 0
