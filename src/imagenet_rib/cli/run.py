"""``rib run CONFIG``: run (or resume) a benchmark matrix from a YAML/JSON config.

Re-running the same command after any interruption finishes the plan without redoing
finished runs; a run that fails (training diverged) is reported, the others go on, and
the command lists the failures at the end and exits 1. ``--executor local|slurm`` dispatches one submitit job per run instead.
"""

from __future__ import annotations

import argparse

from ._options_file import NO_OPTIONS_FILE


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "run",
        help="run or resume a benchmark matrix (models x methods x datasets x seeds)",
        description="Expand a benchmark config into runs (pretrained baselines, fine-tuning runs, "
        "derived runs such as WiSE-FT), execute the ones the results store lacks, and "
        "print the RIB scores. Safe to interrupt and re-run at any moment.",
    )
    p.add_argument(
        "config",
        help="benchmark config (YAML/JSON path, or a built-in name such as 'mini-rib-demo')",
    )
    p.add_argument("--output-dir", default=None, help="override the config's output_dir")
    p.add_argument("--store", default=None, help="override the results store path")
    from ._args import add_data_argument

    add_data_argument(p)
    p.add_argument(
        "--executor",
        default="inline",
        choices=["inline", "local", "slurm"],
        help="inline: this process (default; works under torchrun/accelerate); "
        "local/slurm: one submitit job per run",
    )
    p.add_argument("--dry-run", action="store_true", help="print the plan and exit")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    s = p.add_argument_group("submitit options (--executor local|slurm)")
    s.add_argument(
        "--submitit-folder", default=None, help="job logs (default: <output_dir>/submitit)"
    )
    s.add_argument("--timeout-min", type=int, default=240, help="time limit per job, minutes")
    s.add_argument("--partition", default=None, help="Slurm partition")
    s.add_argument("--gpus-per-node", type=int, default=1, help="GPUs per job (Slurm)")
    s.add_argument("--cpus-per-task", type=int, default=8, help="CPUs per job (Slurm)")
    s.add_argument("--mem-gb", type=int, default=None, help="memory per job (Slurm)")
    s.add_argument(
        "--max-parallel", type=int, default=None, help="at most this many jobs at once (Slurm)"
    )
    # its CONFIG is the command's options file: a benchmark config (no --config FILE.yaml)
    p.set_defaults(func=run, **NO_OPTIONS_FILE)


def load_config(name_or_path: str, **overrides):
    from pathlib import Path

    from ..sweep import BenchmarkConfig, builtin_config

    path = Path(name_or_path)
    if not path.exists() and not path.suffix:
        path = builtin_config(name_or_path)
    return BenchmarkConfig.load(path, **overrides)


def print_summary(config, store=None, sources=None) -> None:
    """The config's RIB scores: mRI with its intervals beside the in-task gain, one row per
    complete configuration, and one sentence per configuration still missing cells."""
    from ..sweep import scores

    print(scores(config, store, sources=sources).to_markdown())


def run(args: argparse.Namespace) -> int:
    from .. import distributed
    from ..errors import ConfigError
    from ..results import ResultStore
    from ..sweep import plan
    from ..sweep import run as run_sweep
    from ._args import data_sources

    config = load_config(args.config, output_dir=args.output_dir, store=args.store)
    sources = data_sources(args.data)
    if sources and args.executor != "inline":
        raise ConfigError(
            "--data applies to --executor inline only; for local/slurm jobs give the sources "
            "in the suite YAML (sources:) or as IMAGENET_RIB_DATA_<NAME> variables"
        )
    if args.dry_run:
        specs = plan(config)
        for s in specs:
            deps = f" <- {','.join(s.depends_on)}" if s.depends_on else ""
            print(
                f"{s.run_id}  {s.kind:<8} {s.model}  {s.label}  {s.finetune_dataset or '-'}  "
                f"seed {s.seed}{deps}"
            )
        print(f"{len(specs)} runs; store {config.store_path}")
        return 0
    if args.executor != "inline":
        from ..slurm import dispatch

        result = dispatch(
            config,
            args.executor,
            folder=args.submitit_folder,
            timeout_min=args.timeout_min,
            partition=args.partition,
            gpus_per_node=args.gpus_per_node if args.executor == "slurm" else 0,
            cpus_per_task=args.cpus_per_task,
            mem_gb=args.mem_gb,
            max_parallel=args.max_parallel,
        )
        print(f"{len(result.jobs)} job(s) run, {len(result.skipped)} run(s) already done")
    else:
        result = run_sweep(config, progress=not args.no_progress, sources=sources)
        if not distributed.is_main_process():
            return 0
        print(
            f"{len(result.executed)} run(s) executed, {len(result.skipped)} already done "
            f"({result.seconds:.0f} s); results in {result.store}"
        )
    print_summary(config, ResultStore(config.store_path), sources)
    failed = getattr(result, "failed", {})
    if failed:
        print(f"{len(failed)} run(s) FAILED (nothing recorded for them):")
        by_id = {s.run_id: s for s in result.plan}
        for rid, error in failed.items():
            s = by_id[rid]
            print(f"  {rid}  {s.model} {s.label} {s.finetune_dataset} seed {s.seed}: {error}")
        return 1
    return 0
