"""Dispatch a benchmark plan to a Slurm cluster through submitit: one job per run.

The plan is submitted in three waves, each waiting for the previous one: the pretrained
baselines, then every training run, then the derived runs (which read their source runs'
weights). Every job calls ``sweep.run(config, only=[run_id])``, so it skips a run the store
already holds and writes its results in one transaction to the SAME results store;
re-dispatching after a failure resubmits only the missing runs.

`executor="local"` runs the jobs as local subprocesses (submitit's `LocalExecutor`), which
is how the tests exercise this path. On a cluster, the store and ``output_dir`` must live on
a file system every node sees; see `results` for SQLite's caveat on network file systems.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import check_choice
from .errors import ConfigError, RIBError
from .sweep import BenchmarkConfig, plan

logger = logging.getLogger(__name__)

EXECUTORS = ("slurm", "local")
WAVES = ("baseline", "train", "derived")


def _job(config: BenchmarkConfig, run_id: str) -> dict[str, Any]:
    """Body of one job (runs on the worker)."""
    import logging as _logging

    from .sweep import run

    _logging.basicConfig(level=_logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return run(config, only=[run_id], progress=False).to_dict()


@dataclass
class DispatchResult:
    """Job ids per run, runs already done before dispatch, and each job's `SweepResult` dict."""

    jobs: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "jobs": self.jobs,
            "skipped": self.skipped,
            "results": self.results,
            "failed": self.failed,
        }


def make_executor(
    kind: str,
    folder: str | Path,
    *,
    timeout_min: int = 240,
    partition: str | None = None,
    gpus_per_node: int = 0,
    cpus_per_task: int = 4,
    mem_gb: int | None = None,
    max_parallel: int | None = None,
    extra: dict[str, Any] | None = None,
) -> Any:
    """A submitit executor: ``"slurm"`` (sbatch) or ``"local"`` (subprocesses)."""
    check_choice("dispatch", "executor", kind, EXECUTORS)
    try:
        import submitit
    except ModuleNotFoundError as err:
        raise ConfigError(
            "dispatching jobs needs submitit: pip install 'imagenet-rib[slurm]'"
        ) from err
    if kind == "local":
        ex = submitit.LocalExecutor(folder=str(folder))
        ex.update_parameters(timeout_min=timeout_min)
        return ex
    ex = submitit.AutoExecutor(folder=str(folder), cluster="slurm")
    params: dict[str, Any] = {
        "timeout_min": timeout_min,
        "cpus_per_task": cpus_per_task,
        "gpus_per_node": gpus_per_node,
        "tasks_per_node": 1,
        "nodes": 1,
    }
    if partition:
        params["slurm_partition"] = partition
    if mem_gb:
        params["mem_gb"] = mem_gb
    if max_parallel:
        params["slurm_array_parallelism"] = max_parallel
    params.update(extra or {})
    ex.update_parameters(**params)
    return ex


def dispatch(
    config: BenchmarkConfig,
    executor: Any = "local",
    *,
    folder: str | Path | None = None,
    wait: bool = True,
    **executor_kw: Any,
) -> DispatchResult:
    """Submit every run of `config` not yet done, one job each, wave by wave (module docstring).

    `executor` is ``"slurm"``, ``"local"`` or a ready submitit executor. With ``wait=False``
    only the first non-empty wave is submitted (derived runs need their sources finished).
    """
    from .results import ResultStore

    if isinstance(executor, str):
        executor = make_executor(
            executor, folder or Path(config.output_dir) / "submitit", **executor_kw
        )
    store = ResultStore(config.store_path)
    specs = plan(config)
    out = DispatchResult()
    for wave in WAVES:
        todo = [s for s in specs if s.kind == wave and not store.is_done(s.run_id)]
        out.skipped += [s.run_id for s in specs if s.kind == wave and store.is_done(s.run_id)]
        if not todo:
            continue
        with executor.batch():
            jobs = [(s, executor.submit(_job, config, s.run_id)) for s in todo]
        logger.info("submitted %d %s job(s)", len(jobs), wave)
        for s, job in jobs:
            out.jobs[s.run_id] = str(job.job_id)
        if not wait:
            return out
        for s, job in jobs:
            try:
                out.results[s.run_id] = job.result()
                out.failed.update(out.results[s.run_id].get("failed", {}))  # e.g. diverged
            except Exception as err:  # noqa: BLE001 - report every failed job, then stop
                out.failed[s.run_id] = f"{type(err).__name__}: {err}"[-2000:]
        if out.failed:
            raise RIBError(
                f"{len(out.failed)} {wave} job(s) failed (first: "
                f"{next(iter(out.failed.values()))[:500]}); fix the cause and re-dispatch: "
                f"finished runs are kept and skipped"
            )
    return out
