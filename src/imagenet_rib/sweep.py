"""The benchmark matrix: `run` executes the plan of a `BenchmarkConfig` and resumes.

The config and its expansion into runs live in `plan.py` (re-exported here). Each run
evaluates its model(s) - all variants of a derived run in one pass - on the test part of
every suite dataset and of the reference, then writes its records, correctness
vectors and its ``done`` mark to the `ResultStore` in ONE transaction. A run id is a hash
of everything that defines the run, so re-running the same config after an interruption
(even ``kill -9`` mid-write) skips finished runs, resumes the interrupted one from its
checkpoint folder, and ends with the same store as an uninterrupted run. A run that
diverges is marked failed (no records) and the sweep goes on with the others.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import distributed
from .determinism import compute_provenance
from .errors import ConfigError, TrainingDivergedError
from .paths import atomic_write_text
from .plan import KINDS, BenchmarkConfig, MethodEntry, builtin_config, plan
from .records import RUN_ID_FILE
from .results import ResultStore
from .runs import RunSpec, make_records

if TYPE_CHECKING:
    from .evaluation import EvalConfig
    from .scoring import ScoreTable

__all__ = [
    "KINDS",
    "BenchmarkConfig",
    "MethodEntry",
    "RunSpec",
    "SweepResult",
    "builtin_config",
    "execute",
    "make_records",
    "plan",
    "run",
    "scores",
]

logger = logging.getLogger(__name__)


# ------------------------------------------------------------------------------ execution


class _Context:
    """What a sweep process keeps between runs: suite, test parts, pretrained models, store.

    `sources` (dataset -> folder, e.g. from ``rib run --data``) override the suite's. The
    cached pretrained models stay on the CPU: evaluation moves them to its device and back.
    """

    def __init__(
        self,
        config: BenchmarkConfig,
        store: ResultStore | None = None,
        *,
        sources: dict[str, str] | None = None,
        eval_config: EvalConfig | None = None,
        loader_workers: int | None = None,
    ) -> None:
        self.config = config
        self.loader_workers = loader_workers
        suite = config.load_suite()
        self.suite = suite.replace(sources={**suite.sources, **(sources or {})})
        self.split = config.split_config
        self.store = store or ResultStore(config.store_path)
        workers = {} if loader_workers is None else {"num_workers": loader_workers}
        self.eval_config = eval_config or config.eval_config(**workers)
        self._parts: dict[str, Any] = {}
        self._models: dict[str, Any] = {}

    def parts(self) -> list[Any]:
        for name in self.suite.eval_datasets:
            if name not in self._parts:
                self._parts[name] = self.suite.part(name, "test", self.split)
        return [self._parts[n] for n in self.suite.eval_datasets]

    def pretrained(self, name: str) -> Any:
        """The pretrained model `name`, its `revision` the one its run ids hash."""
        import dataclasses

        from .models import load_model
        from .runs import model_revision

        if name not in self._models:
            loaded = load_model(name)
            revision = model_revision(name, loaded)
            self._models[name] = dataclasses.replace(loaded, revision=revision)
        return self._models[name]

    def run_dir(self, spec: RunSpec) -> Path:
        return Path(self.config.output_dir) / "runs" / spec.folder_name

    def finetune(self, spec: RunSpec) -> Any:
        """The finished fine-tuning result of a train run (trains or resumes if needed)."""
        from .finetune import finetune

        result = finetune(
            spec.model,
            spec.method,
            spec.finetune_dataset,
            method_config=spec.method_config,
            train=spec.train
            if self.loader_workers is None
            else {**spec.train, "num_workers": self.loader_workers},  # a machine field
            split=self.split,
            rule=self.suite.objectnet_rule,
            max_train_samples=spec.max_train_samples,
            output_dir=self.run_dir(spec),
            resume=True,
            source=self.suite.sources.get(spec.finetune_dataset),
            sources=dict(self.suite.sources),
            opt_in=spec.finetune_dataset in self.config.opt_in,
        )
        if distributed.is_main_process():  # which run the folder holds, for `rib card`/`push`
            atomic_write_text(self.run_dir(spec) / RUN_ID_FILE, json.dumps({"run_id": spec.run_id}))
        return result


def execute(
    spec: RunSpec, ctx: _Context, specs: dict[str, RunSpec] | None = None
) -> dict[str, Any]:
    """Run one spec to completion and write it to the store (rank 0); returns its info."""
    start = time.time()
    pre = ctx.pretrained(spec.model)
    if spec.kind == "baseline":
        variants, transform, cfg = [("", pre.model)], pre.transform, {"method": "pretrained"}
    elif spec.kind == "train":
        result = ctx.finetune(spec)
        variants, transform = [("", result.model)], result.transform
        resolved = getattr(result, "config", {})  # machine-specific fields stay in the run folder
        cfg = {
            "method": spec.method,
            "config": resolved.get("method_config", spec.method_config),
            "train": resolved.get("train", spec.train),
            "max_train_samples": spec.max_train_samples,
        }
    else:
        from .finetune import derived_models

        specs = specs or {}
        sources = [ctx.finetune(specs[d]) for d in spec.depends_on]
        variants = derived_models(spec.method, pre, sources, spec.method_config)
        transform = pre.transform
        from .methods import get_method

        cfg = {
            "method": spec.method,
            "config": get_method(spec.method).make_config(spec.method_config).to_dict(),
            "sources": [specs[d].label for d in spec.depends_on],
        }
    from .evaluation import evaluate

    evals = evaluate([m for _, m in variants], transform, ctx.parts(), config=ctx.eval_config)
    provenance = ctx.eval_config.provenance()
    info = {
        "seconds": round(time.time() - start, 2),
        "kind": spec.kind,
        "variants": [v for v, _ in variants],
        "provenance": compute_provenance(),  # threads, CPU capability: they decide the bits
    }
    if distributed.is_main_process():
        records, correct = [], {}
        for (variant, _), ev in zip(variants, evals):
            recs = make_records(
                ctx.suite, ctx.split, spec, pre.revision, cfg, variant, ev, provenance
            )
            records += recs
            correct.update({r.key: ev[r.eval_dataset].correct for r in recs})
        ctx.store.add(records, correct, done=(spec.run_id, info))
    distributed.barrier()
    return info


#: EvalConfig options that change the numbers: a store never mixes two settings of them
MEASUREMENT = ("precision", "decode")


def _check_measured_alike(ctx: _Context, specs: list[RunSpec]) -> None:
    """Refuse to reuse (or add to) finished runs evaluated with another precision or decoder:
    skipped and new runs would be scored together as if measured alike."""
    wanted = {k: getattr(ctx.eval_config, k) for k in MEASUREMENT}
    stored_by_run = ctx.store.provenances()  # one query, not one per run
    for spec in specs:
        for text in stored_by_run.get(spec.run_id, []):
            stored = json.loads(text or "{}")
            diff = {k: stored[k] for k in MEASUREMENT if k in stored and stored[k] != wanted[k]}
            if diff:
                raise ConfigError(
                    f"the results store {ctx.store.path} holds run {spec.run_id} ({spec.model} "
                    f"{spec.label}) evaluated with {diff}, but this run evaluates with "
                    f"{ {k: wanted[k] for k in diff} }: its numbers would be scored with "
                    f"results measured differently. Use another store (--store, or another "
                    f"output_dir), or set eval: back to {diff}"
                )


def _run_lock(run_dir: Path):
    """Keep two sweeps (e.g. two `rib run` of one config) from running the same run at once:
    the second waits, then finds it done. Ranks of one data-parallel launch run every run
    together, so they take no lock; the OS releases the lock of a killed process."""
    if distributed.world_size() > 1:
        return contextlib.nullcontext()
    from .locks import folder_lock

    return folder_lock(run_dir, wait=True, what="run folder")


@dataclass
class SweepResult:
    """What `run` did: the plan, which runs it executed / skipped / saw fail (run id ->
    error message; a failed run records nothing), and the store path."""

    plan: list[RunSpec]
    executed: list[str]
    skipped: list[str]
    store: Path
    seconds: float
    failed: dict[str, str] = dataclass_field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "runs": len(self.plan),
            "executed": self.executed,
            "skipped": self.skipped,
            "failed": self.failed,
            "store": str(self.store),
            "seconds": self.seconds,
        }


def run(
    config: BenchmarkConfig,
    *,
    only: list[str] | None = None,
    progress: bool = True,
    store: ResultStore | None = None,
    sources: dict[str, str] | None = None,
    eval_config: EvalConfig | None = None,
    loader_workers: int | None = None,
) -> SweepResult:
    """Execute the plan in order, skipping runs the store already has (see module docstring).

    `only` restricts execution to these run ids (their dependencies must already be done or
    be in `only` too): this is how `slurm.dispatch` runs one job per run. `sources`
    (dataset -> folder or Hub id) override the suite's; `eval_config` sets how evaluation
    runs (default: the config's ``eval:`` block, `BenchmarkConfig.eval_config`), recorded
    with every result; a store whose finished runs were evaluated with another precision or
    decoder is refused before anything runs. `loader_workers` overrides the data-loader worker processes of every run's
    training and evaluation (0: decode in this process); like every machine setting it
    changes neither run ids nor results.
    """
    start = time.time()
    distributed.init()
    ctx = _Context(
        config, store, sources=sources, eval_config=eval_config, loader_workers=loader_workers
    )
    specs = plan(config, ctx.suite, {m: ctx.pretrained(m).revision for m in config.models})
    by_id = {s.run_id: s for s in specs}
    if distributed.is_main_process():
        for s in specs:
            ctx.store.mark_planned(s.run_id, s.to_dict())
    todo = [s for s in specs if only is None or s.run_id in only]
    _check_measured_alike(ctx, todo)
    executed, skipped, failed = [], [], {}
    bar = None
    if progress and distributed.is_main_process():
        from tqdm.auto import tqdm

        bar = tqdm(total=len(todo), desc=f"rib run {config.name}", unit="run")
    for spec in todo:
        with _run_lock(ctx.run_dir(spec)):
            if ctx.store.is_done(
                spec.run_id
            ):  # re-checked under the lock: another process may have run it
                skipped.append(spec.run_id)
            else:
                if bar is not None:
                    bar.set_postfix_str(
                        f"{spec.model} {spec.label} {spec.finetune_dataset}".strip()
                    )
                logger.info(
                    "run %s: %s %s on %s (seed %d)",
                    spec.run_id,
                    spec.model,
                    spec.label,
                    spec.finetune_dataset or "-",
                    spec.seed,
                )
                lost = [d for d in spec.depends_on if d in failed]
                if lost:
                    failed[spec.run_id] = f"its source run(s) {lost} failed"
                else:
                    try:
                        execute(spec, ctx, by_id)
                        executed.append(spec.run_id)
                    except TrainingDivergedError as err:  # this run's fault: go on with the others
                        failed[spec.run_id] = str(err)
                if spec.run_id in failed:
                    logger.error("run %s failed: %s", spec.run_id, failed[spec.run_id])
                    if distributed.is_main_process():
                        ctx.store.mark_failed(spec.run_id, failed[spec.run_id])
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return SweepResult(
        specs, executed, skipped, ctx.store.path, round(time.time() - start, 2), failed
    )


def scores(
    config: BenchmarkConfig,
    store: ResultStore | None = None,
    *,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    sources: dict[str, str] | None = None,
) -> ScoreTable:
    """The RIB scores of this config's runs (`scoring.score_records` over the records of the
    runs its plan names, with image intervals from the store's correctness vectors unless
    `n_boot` is 0; resampled by group where test images share a source: `part_groups` reads
    the test parts' `group` column, from `sources` as `run` takes them)."""
    from .scoring import part_groups, score_records

    suite = config.load_suite()
    store = store or ResultStore(config.store_path)
    specs = plan(config, suite)
    ids = {s.run_id for s in specs}
    trained = {s.finetune_dataset for s in specs}
    return score_records(
        [r for r in store.records(suite=suite.name) if r.run_id in ids],
        suite,
        correct=store.correct if n_boot else None,
        groups=(
            part_groups(
                suite.replace(sources={**suite.sources, **(sources or {})}), config.split_config
            )
            if n_boot
            else None
        ),
        finetune_sets=[d for d in suite.datasets if d in trained],
        n_boot=n_boot,
        confidence=confidence,
        seed=seed,
        models=config.models,
        methods=[m.label for m in config.methods],
    )
