"""The benchmark matrix: a config expands to a plan of runs; `run` executes it and resumes.

A `BenchmarkConfig` (YAML/JSON) names models x methods x fine-tuning datasets x seeds, the
suite, the split, the ObjectNet rule and hyperparameter overrides. `plan` expands it to
`RunSpec`s in execution order:

1. one ``baseline`` run per model (the pretrained model, A_pre, reused by every run);
2. one ``train`` run per (model, training method, fine-tuning dataset D_i, seed);
3. one ``derived`` run per (model, derived method, D_i, seed), depending on its source
   runs (WiSE-FT from FT, soups from several methods); no training.

Each run evaluates its model(s) - all variants of a derived run in one pass - on the test
part of every suite dataset and of the reference, then writes its records, correctness
vectors and its ``done`` mark to the `ResultStore` in ONE transaction. A run id is a hash
of everything that defines the run, so re-running the same config after an interruption
(even ``kill -9`` mid-write) skips finished runs, resumes the interrupted one from its
checkpoint folder, and ends with the same store as an uninterrupted run.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__, distributed
from .config import ConfigBase, check_choice, field
from .data.splits import SplitConfig
from .errors import ConfigError
from .records import ResultRecord, run_id
from .results import ResultStore
from .suites import SuiteConfig, load_suite

if TYPE_CHECKING:
    from .evaluation import DatasetEval

logger = logging.getLogger(__name__)

KINDS = ("baseline", "train", "derived")


@dataclass(frozen=True)
class MethodEntry(ConfigBase):
    """One method of the matrix, with its options."""

    name: str = field(help="registered method name (e.g. 'ft', 'lora', 'ft+ewc', 'wise-ft')")
    label: str = field("", help="name recorded in results (default: name); distinguishes variants")
    config: dict[str, Any] = field({}, help="the method's options (its Config dataclass fields)")
    train: dict[str, Any] = field({}, help="TrainConfig overrides for this method only")
    sources: tuple[str, ...] = field(
        (), help="derived methods: labels of the runs they derive from"
    )

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", self.name)
        object.__setattr__(self, "sources", tuple(self.sources))

    @classmethod
    def parse(cls, value: str | dict[str, Any] | MethodEntry) -> MethodEntry:
        if isinstance(value, MethodEntry):
            return value
        return cls(name=value) if isinstance(value, str) else cls.from_dict(dict(value))


@dataclass(frozen=True)
class BenchmarkConfig(ConfigBase):
    """The benchmark matrix (see module docstring); loads from YAML/JSON with `load`."""

    models: tuple[str, ...] = field(help="pretrained model names, local folders or Hub ids")
    methods: tuple[Any, ...] = field(help="methods: names or {name, label, config, train, sources}")
    name: str = field("benchmark", help="benchmark name")
    suite: Any = field("mini-rib", help="built-in suite name, suite YAML path, or inline mapping")
    finetune_datasets: tuple[str, ...] = field((), help="fine-tuning sets D_i (default: the suite)")
    seeds: tuple[int, ...] = field((0,), help="fine-tuning seeds")
    split: dict[str, Any] = field({}, help="SplitConfig options (rule, test_fraction, seed)")
    objectnet_rule: str | None = field(None, help="ObjectNet rule (default: the suite's)")
    train: dict[str, Any] = field({}, help="TrainConfig overrides for every run")
    max_train_samples: dict[str, int] = field({}, help="dataset -> seeded training subsample size")
    opt_in: tuple[str, ...] = field((), help="datasets whose licence needs opt-in to be tuned on")
    output_dir: str = field("rib-runs", help="run folders (checkpoints) and the default store")
    store: str = field("", help="results store path (default: <output_dir>/results.sqlite)")
    eval_batch_size: int = field(256, help="evaluation batch size")

    def __post_init__(self) -> None:
        for name in ("models", "finetune_datasets", "seeds", "opt_in"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        object.__setattr__(self, "methods", tuple(MethodEntry.parse(m) for m in self.methods))
        if not self.models or not self.methods:
            raise ConfigError("BenchmarkConfig needs at least one model and one method")
        labels = [m.label for m in self.methods]
        dup = sorted({lab for lab in labels if labels.count(lab) > 1})
        if dup:
            raise ConfigError(
                f"method label(s) {dup} appear twice; give each entry a distinct 'label:'"
            )
        SplitConfig.from_dict(dict(self.split))  # validates

    @property
    def split_config(self) -> SplitConfig:
        return SplitConfig.from_dict(dict(self.split))

    @property
    def store_path(self) -> Path:
        return Path(self.store) if self.store else Path(self.output_dir) / "results.sqlite"

    def load_suite(self) -> SuiteConfig:
        suite = load_suite(self.suite)
        return suite.replace(objectnet_rule=self.objectnet_rule) if self.objectnet_rule else suite

    @classmethod
    def load(cls, path: str | Path, **overrides: Any) -> BenchmarkConfig:
        """Read a YAML/JSON config; a relative suite path resolves against the file's folder."""
        import yaml

        path = Path(path)
        if not path.is_file():
            raise ConfigError(
                f"benchmark config {path} does not exist; give a YAML or JSON file "
                "(see imagenet_rib/configs/*.yaml for examples)"
            )
        data = yaml.safe_load(path.read_text())
        if not isinstance(data, dict):
            raise ConfigError(f"{path} must hold a mapping of BenchmarkConfig options")
        suite = data.get("suite")
        if (
            isinstance(suite, str)
            and suite.endswith((".yaml", ".yml", ".json"))
            and not Path(suite).is_absolute()
        ):
            data["suite"] = str((path.parent / suite).resolve())
        data.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_dict(data)


def builtin_config(name: str) -> Path:
    from importlib.resources import files

    res = files(__package__) / "configs" / f"{name}.yaml"
    if not res.is_file():
        raise ConfigError(f"no built-in benchmark config {name!r}")
    return Path(str(res))


@dataclass(frozen=True)
class RunSpec:
    """One run of the plan; `run_id` hashes every field that defines its results."""

    run_id: str
    kind: str
    model: str
    method: str
    label: str
    method_config: dict[str, Any]
    train: dict[str, Any]
    finetune_dataset: str
    seed: int
    depends_on: tuple[str, ...] = ()
    max_train_samples: int | None = None

    def to_dict(self) -> dict[str, Any]:
        import dataclasses

        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSpec:
        return cls(**{**data, "depends_on": tuple(data.get("depends_on", ()))})


def _method_kind(name: str) -> str:
    from .methods import get_method

    return get_method(name).kind


def _sources(m: MethodEntry) -> tuple[str, ...]:
    """Labels of the runs a derived method uses: the entry's `sources`, else its config's
    ``base_method`` (WiSE-FT) or ``ingredients`` (soup)."""
    from .methods import get_method

    if m.sources:
        return m.sources
    cfg = get_method(m.name).make_config(m.config)
    if hasattr(cfg, "base_method"):
        return (cfg.base_method,)
    return tuple(getattr(cfg, "ingredients", ()))


def plan(config: BenchmarkConfig, suite: SuiteConfig | None = None) -> list[RunSpec]:
    """Expand the matrix into runs in execution order (baselines, trained, derived)."""
    from .data.specs import get_dataset_spec

    suite = suite or config.load_suite()
    ft_sets = config.finetune_datasets or tuple(
        d for d in suite.datasets if not get_dataset_spec(d).requires_opt_in or d in config.opt_in
    )
    for d in ft_sets:
        check_choice("BenchmarkConfig", "finetune_datasets", d, suite.datasets)
        if get_dataset_spec(d).requires_opt_in and d not in config.opt_in:
            raise ConfigError(
                f"the licence of {d!r} forbids tuning model parameters on it unless you "
                f"opt in: add `opt_in: [{d}]` to the config, or drop it from finetune_datasets"
            )
    common = {
        "suite": suite.name,
        "split": config.split_config.to_dict(),
        "rule": suite.objectnet_rule,
        "datasets": list(suite.eval_datasets),
    }
    kinds = {m.label: _method_kind(m.name) for m in config.methods}
    baselines, trained, derived = [], [], []
    for model in config.models:
        base = RunSpec(
            run_id(model=model, method="pretrained", **common),
            "baseline",
            model,
            "pretrained",
            "pretrained",
            {},
            {},
            "",
            0,
        )
        baselines.append(base)
        for d in ft_sets:
            for seed in config.seeds:
                ids: dict[str, str] = {}
                for m in config.methods:
                    if kinds[m.label] != "train":
                        continue
                    train = {**config.train, **m.train, "seed": seed}
                    rid = run_id(
                        model=model,
                        method=m.name,
                        label=m.label,
                        config=m.config,
                        train=train,
                        dataset=d,
                        max_train=config.max_train_samples.get(d),
                        **common,
                    )
                    ids[m.label] = rid
                    trained.append(
                        RunSpec(
                            rid,
                            "train",
                            model,
                            m.name,
                            m.label,
                            dict(m.config),
                            train,
                            d,
                            seed,
                            (),
                            config.max_train_samples.get(d),
                        )
                    )
                for m in config.methods:
                    if kinds[m.label] != "derived":
                        continue
                    sources = _sources(m)
                    missing = [s for s in sources if s not in ids]
                    if not sources or missing:
                        raise ConfigError(
                            f"derived method {m.label!r} needs source runs: set `sources: [<label of a "
                            f"training method>]` in its entry (missing {missing or 'all'}; training "
                            f"methods in this config: {sorted(ids)})"
                        )
                    deps = tuple(ids[s] for s in sources)
                    rid = run_id(
                        model=model,
                        method=m.name,
                        label=m.label,
                        config=m.config,
                        depends_on=deps,
                        **common,
                    )
                    derived.append(
                        RunSpec(
                            rid,
                            "derived",
                            model,
                            m.name,
                            m.label,
                            dict(m.config),
                            {},
                            d,
                            seed,
                            deps,
                        )
                    )
    return baselines + trained + derived


# ------------------------------------------------------------------------------ execution


class _Context:
    """What a sweep process keeps between runs: suite, test parts, pretrained models, store."""

    def __init__(self, config: BenchmarkConfig, store: ResultStore | None = None) -> None:
        self.config = config
        self.suite = config.load_suite()
        self.split = config.split_config
        self.store = store or ResultStore(config.store_path)
        self._parts: dict[str, Any] = {}
        self._models: dict[str, Any] = {}

    def parts(self) -> list[Any]:
        for name in self.suite.eval_datasets:
            if name not in self._parts:
                self._parts[name] = self.suite.part(name, "test", self.split)
        return [self._parts[n] for n in self.suite.eval_datasets]

    def pretrained(self, name: str) -> Any:
        from .models import load_model

        if name not in self._models:
            self._models[name] = load_model(name)
        return self._models[name]

    def run_dir(self, spec: RunSpec) -> Path:
        return Path(self.config.output_dir) / "runs" / spec.run_id

    def finetune(self, spec: RunSpec) -> Any:
        """The finished fine-tuning result of a train run (trains or resumes if needed)."""
        from .finetune import finetune

        return finetune(
            spec.model,
            spec.method,
            spec.finetune_dataset,
            method_config=spec.method_config,
            train=spec.train,
            split=self.split,
            rule=self.suite.objectnet_rule,
            max_train_samples=spec.max_train_samples,
            output_dir=self.run_dir(spec),
            resume=True,
            source=self.suite.sources.get(spec.finetune_dataset),
            opt_in=spec.finetune_dataset in self.config.opt_in,
        )


def make_records(
    suite: SuiteConfig,
    split: SplitConfig,
    spec: RunSpec,
    revision: str,
    method_config: dict[str, Any],
    variant: str,
    evals: dict[str, DatasetEval],
) -> list[ResultRecord]:
    """One `ResultRecord` per evaluated dataset of one model (variant) of run `spec`."""
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    cfg = json.dumps(method_config, sort_keys=True, default=str)
    return [
        ResultRecord(
            run_id=spec.run_id,
            model=spec.model,
            model_revision=revision,
            method=spec.label,
            method_config=cfg,
            finetune_dataset=spec.finetune_dataset,
            variant=variant,
            eval_dataset=ev.dataset,
            eval_part=ev.part,
            suite=suite.name,
            label_space=suite.label_space,
            protocol=ev.protocol,
            split_rule=split.rule,
            split_seed=split.seed,
            test_fraction=split.test_fraction,
            seed=spec.seed,
            accuracy=float(ev.accuracy),
            num_images=int(ev.num_images),
            per_group=json.dumps(ev.per_group, sort_keys=True),
            library_version=__version__,
            time=now,
        )
        for ev in evals.values()
    ]


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
    evals = distributed.evaluate_many(
        [m for _, m in variants], transform, ctx.parts(), batch_size=ctx.config.eval_batch_size
    )
    info = {
        "seconds": round(time.time() - start, 2),
        "kind": spec.kind,
        "variants": [v for v, _ in variants],
    }
    if distributed.is_main_process():
        records, correct = [], {}
        for (variant, _), ev in zip(variants, evals):
            recs = make_records(ctx.suite, ctx.split, spec, pre.revision, cfg, variant, ev)
            records += recs
            correct.update({r.key: ev[r.eval_dataset].correct for r in recs})
        ctx.store.add(records, correct, done=(spec.run_id, info))
    distributed.barrier()
    return info


@contextlib.contextmanager
def _run_lock(run_dir: Path) -> Iterator[None]:
    """Keep two sweeps (e.g. two `rib run` of one config) from running the same run at once.

    Ranks of one data-parallel launch run every run together, so they take no lock. The OS
    releases the lock of a killed process.
    """
    if distributed.world_size() > 1:
        yield
        return
    from filelock import FileLock

    run_dir.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(run_dir) + ".lock"):
        yield


@dataclass
class SweepResult:
    """What `run` did: the plan, which runs it executed / skipped, and the store path."""

    plan: list[RunSpec]
    executed: list[str]
    skipped: list[str]
    store: Path
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "runs": len(self.plan),
            "executed": self.executed,
            "skipped": self.skipped,
            "store": str(self.store),
            "seconds": self.seconds,
        }


def run(
    config: BenchmarkConfig,
    *,
    only: list[str] | None = None,
    progress: bool = True,
    store: ResultStore | None = None,
) -> SweepResult:
    """Execute the plan in order, skipping runs the store already has (see module docstring).

    `only` restricts execution to these run ids (their dependencies must already be done or
    be in `only` too): this is how `slurm.dispatch` runs one job per run.
    """
    start = time.time()
    distributed.init()
    ctx = _Context(config, store)
    specs = plan(config, ctx.suite)
    by_id = {s.run_id: s for s in specs}
    if distributed.is_main_process():
        for s in specs:
            ctx.store.mark_planned(s.run_id, s.to_dict())
    todo = [s for s in specs if only is None or s.run_id in only]
    executed, skipped = [], []
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
                execute(spec, ctx, by_id)
                executed.append(spec.run_id)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return SweepResult(specs, executed, skipped, ctx.store.path, round(time.time() - start, 2))


def scores(
    config: BenchmarkConfig, store: ResultStore | None = None
) -> dict[tuple[str, str, str, int], Any]:
    """`compute_rib` for every (model, method label, variant, seed) present in the store."""
    from .scores import compute_rib

    suite = config.load_suite()
    store = store or ResultStore(config.store_path)
    recs = [
        r for r in store.records(suite=suite.name, eval_part="test") if r.model in config.models
    ]
    pre: dict[str, dict[str, float]] = {}
    post: dict[tuple[str, str, str, int], dict[str, dict[str, float]]] = {}
    for r in recs:
        if r.method == "pretrained":
            pre.setdefault(r.model, {})[r.eval_dataset] = r.accuracy
        else:
            post.setdefault((r.model, r.method, r.variant, r.seed), {}).setdefault(
                r.finetune_dataset, {}
            )[r.eval_dataset] = r.accuracy
    out = {}
    for key, acc_post in sorted(post.items()):
        if key[0] in pre:
            out[key] = compute_rib(pre[key[0]], acc_post, list(suite.datasets), suite.reference)
    return out
