"""``rib demo``: the whole Mini-RIB benchmark, end to end, offline, on a CPU in minutes.

Builds the Mini-RIB suite, loads the two Mini-RIB models (shipped with the package), runs the
``mini-rib-demo`` matrix through the benchmark runner (`sweep.run` in one single-threaded
worker process per core, `workers.run_parallel`: pretrained baselines,
4 fine-tuning methods on each of the 8 downstream sets x 3 seeds, WiSE-FT derived from FT),
then prints the RIB scores (mRI with image and seed intervals beside the in-task gain), the
OTDD between the pretraining reference and each fine-tuning set against the pretraining-set
degradation (`demo_otdd`), writes the store, a CSV export, ``scores.json`` and the report (with
its figures) to the output folder, and closes with the findings computed from the scores
(`scoring.findings`). Timings and run counts go to stderr, so stdout is the same on every
machine and for a fresh or a resumed run (the README's demo block is a stored copy of it:
``make demo-readme``). ``--quick`` runs the
reduced ``mini-rib-quick`` matrix. Re-running resumes: finished runs are kept.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
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
        "every downstream set with several methods and 3 seeds, evaluate everything and print "
        "the RIB matrix dA(i->j), RI_i, mRI with image and seed intervals, reference degradation "
        "and in-task gain, OTDD against the degradation, and the findings computed from them "
        "(timings go to stderr).",
    )
    p.add_argument("--output-dir", default="rib-demo", help="output folder (default: ./rib-demo)")
    p.add_argument(
        "--quick",
        action="store_true",
        help="reduced matrix (1 model x 2 trained methods + WiSE-FT x 2 datasets)",
    )
    p.add_argument("--config", default=None, help="another benchmark config to run instead")
    p.add_argument("--no-report", action="store_true", help="skip the HTML/Markdown report")
    p.add_argument(
        "--no-otdd",
        action="store_true",
        help="skip OTDD(pretraining reference, D_i) and its correlation with the degradation",
    )
    p.set_defaults(func=run)


def _step(title: str) -> float:
    print(f"\n== {title}", flush=True)
    return time.time()


def _took(since: float) -> None:
    """Timings go to stderr: stdout is the same on every machine and every re-run (the README
    shows it)."""
    print(f"   ({time.time() - since:.0f} s)", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    from ..data.mini import build_suite
    from ..models import load_model
    from ..paths import atomic_write_text
    from ..results import ResultStore
    from ..scoring.findings import findings
    from ..sweep import plan, scores
    from ..workers import run_parallel
    from .demo_otdd import otdd_section
    from .run import load_config

    start = time.time()
    out = Path(args.output_dir)
    name = args.config or ("mini-rib-quick" if args.quick else "mini-rib-demo")
    # run folders in <out>/runs/, the store <out>/results.sqlite (no runs/runs/ nesting)
    config = load_config(name, output_dir=str(out), store=str(out / "results.sqlite"))

    t = _step("building the Mini-RIB suite (cached after the first run)")
    print(f"   mini-rib {build_suite().name}: {', '.join(config.load_suite().eval_datasets)}")
    _took(t)
    t = _step(f"pretrained models: {', '.join(config.models)} (shipped, checksums verified)")
    for m in config.models:
        info = load_model(m).info.get("pretraining", {})
        acc = info.get("mini_val_accuracy")
        print(
            f"   {m}: pretrained on {info.get('pretrain_set', '?')}, mini-val accuracy {acc:.1f} %"
            if acc is not None
            else f"   {m}"
        )
    _took(t)

    t = _step(f"benchmark matrix {config.name}: {len(plan(config))} runs, fine-tune and evaluate")
    # one torch thread per run (the same numbers whatever the core count), one worker per core
    result = run_parallel(config, workers=demo_workers(), threads=DEMO_THREADS)
    # to stderr with the timings: a resumed demo prints the same stdout as a fresh one
    print(
        f"   {len(result.executed)} run(s) executed, {len(result.skipped)} reused",
        file=sys.stderr,
    )
    _took(t)

    t = _step("RIB scores (accuracies in %, dA in accuracy points)")
    store = ResultStore(config.store_path)
    table = scores(config, store)
    print(table.to_markdown())
    for res in table:
        if res.method == "ft" and not res.variant and res.complete:
            seeds = ", ".join(map(str, res.seeds))
            print(f"\n### {table.source(res)}, fine-tuned with ft (seed mean of {seeds})\n")
            print(res.scores.to_markdown())
    _took(t)

    section = None
    if not args.no_otdd:
        t = _step("OTDD(pretraining reference, D_i) against the pretraining-set degradation (ft)")
        section = otdd_section(table, config)
        print("\n".join(section.lines()) if section else "   no reference set or no ft results")
        _took(t)

    _step("outputs")
    csv = store.export(out / "results.csv")
    found = findings(table)
    extra = {"findings": [f.to_dict() for f in found]}
    if section is not None:
        extra["otdd"] = section.to_dict()
    atomic_write_text(
        out / "scores.json", json.dumps({**table.to_dict(), **extra}, indent=1) + "\n"
    )
    print(
        f"   results store  {store.path}\n   CSV export     {csv}\n   scores         {out / 'scores.json'}"
    )
    if not args.no_report:
        from ..report import build_report

        otdd = section.distances if section is not None else None
        rep = build_report(table, out / "report", config=config, otdd=otdd)
        for kind, path in {**rep.paths, **rep.figures}.items():
            print(f"   report: {kind}  {path}")

    _step(
        f"findings (differences with {100 * table.confidence:g} % intervals, from the scores above)"
    )
    print("\n".join(f"- {f}" for f in found) if found else "   none: no complete configurations")
    print(
        "   images: paired bootstrap over test images (the same draws for both sides); seeds: "
        "Student t over per-seed differences; separable: every interval excludes 0",
    )
    print(
        f"\ndone in {time.time() - start:.0f} s; re-run to reuse every finished run",
        file=sys.stderr,
    )
    return 0
