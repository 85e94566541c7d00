"""Run a benchmark plan in local worker processes, each on a fixed number of torch threads.

Pinning torch to one intra-op thread makes a CPU run's numbers independent of the core
count (`determinism`) but leaves the other cores idle; W worker processes of one thread
each use them again, without changing a bit of any result: every run is seeded and
self-contained, so which process executes it does not matter. The plan is cut into groups
that must stay in order - each pretrained baseline alone, and every (model, fine-tuning
set, seed) with its training runs followed by the derived runs built from them (WiSE-FT
reads FT's weights) - and the groups are dealt to the workers in turn. Each worker runs
``sweep.run(config, only=<its runs>)``, which skips runs already done and writes each
finished run in one transaction to the shared `ResultStore` (safe for concurrent writers),
so an interrupted parallel run resumes like a sequential one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from .errors import ConfigError, RIBError
from .sweep import BenchmarkConfig, RunSpec, SweepResult, plan

logger = logging.getLogger(__name__)


def shards(specs: Sequence[RunSpec], workers: int) -> list[list[str]]:
    """Run ids per worker: ordered groups (see module docstring) dealt round-robin."""
    groups: dict[tuple[Any, ...], list[str]] = {}
    for s in specs:  # plan order: baselines, trained, derived
        key = (
            ("baseline", s.model) if s.kind == "baseline" else (s.model, s.finetune_dataset, s.seed)
        )
        groups.setdefault(key, []).append(s.run_id)
    out: list[list[str]] = [[] for _ in range(min(workers, len(groups)) or 1)]
    for i, ids in enumerate(groups.values()):
        out[i % len(out)].extend(ids)
    return out


def _work(config: BenchmarkConfig, only: list[str], threads: int) -> dict[str, Any]:
    """Body of one worker process: its output is the runs' records, not the libraries' notices
    (`rib demo`'s own process keeps them out the same way)."""
    from .console import library_output

    with library_output():
        return _work_quietly(config, only, threads)


def _work_quietly(config: BenchmarkConfig, only: list[str], threads: int) -> dict[str, Any]:
    import gc

    import datasets  # noqa: F401 - the heavy libraries, imported before freezing (below)
    import peft  # noqa: F401
    import transformers.trainer  # noqa: F401

    from .determinism import torch_threads
    from .sweep import run

    # Trainer.train ends with a full gc.collect() (accelerate's free_memory), which walks the
    # ~0.5 M objects of these libraries: 0.3 s per run. Frozen, they are skipped.
    gc.freeze()
    # the worker processes are the parallelism: on their share of the cores, spawning data
    # loader processes per run costs more than it decodes (32-px images), so they load in process
    with torch_threads(threads):
        return run(config, only=only, progress=False, loader_workers=0).to_dict()


def run_parallel(
    config: BenchmarkConfig, *, workers: int = 2, threads: int = 1, progress: bool = True
) -> SweepResult:
    """Execute the plan of `config` in `workers` processes of `threads` torch threads each.

    Equivalent to `sweep.run` (same store, same records, bit for bit); ``workers=1`` runs
    in this process. A failed worker does not lose the runs the others finished.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from .determinism import torch_threads
    from .results import ResultStore
    from .sweep import run

    if not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"workers must be a positive integer, got {workers!r}")
    if workers == 1:
        with torch_threads(threads):
            return run(config, progress=progress)
    start = time.time()
    specs = plan(config)
    parts = shards(specs, workers)
    store = ResultStore(config.store_path)
    ids = {s.run_id for s in specs}
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(specs), desc=f"rib run {config.name} ({len(parts)} workers)")
    # spawn, not fork: a forked child of a process that already ran OpenMP code can hang
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(len(parts), mp_context=ctx) as pool:
        futures = [pool.submit(_work, config, part, threads) for part in parts]
        while not all(f.done() for f in futures):
            if bar is not None:
                done = sum(v["status"] == "done" for k, v in store.runs().items() if k in ids)
                bar.update(done - bar.n)
            time.sleep(1.0)
    if bar is not None:
        bar.update(len(specs) - bar.n)
        bar.close()
    errors = [f.exception() for f in futures if f.exception() is not None]
    if errors:
        raise RIBError(
            f"{len(errors)} of {len(parts)} worker(s) failed (first: {type(errors[0]).__name__}: "
            f"{errors[0]}); fix the cause and re-run: finished runs are kept and skipped"
        ) from errors[0]
    results = [f.result() for f in futures]
    return SweepResult(
        specs,
        [r for res in results for r in res["executed"]],
        [r for res in results for r in res["skipped"]],
        store.path,
        round(time.time() - start, 2),
        {k: v for res in results for k, v in res.get("failed", {}).items()},
    )
