"""The benchmark config and its plan: models x methods x fine-tuning sets x seeds -> runs.

A `BenchmarkConfig` (YAML/JSON) names models x methods x fine-tuning datasets x seeds, the
suite, the split, the ObjectNet rule and hyperparameter overrides. `plan` expands it to
`RunSpec`s in execution order:

1. one ``baseline`` run per model (the pretrained model, A_pre, reused by every run);
2. one ``train`` run per (model, training method, fine-tuning dataset D_i, seed);
3. one ``derived`` run per (model, derived method, D_i, seed), depending on its source
   runs (WiSE-FT from FT, soups from several methods); no training.

A run id is a hash of everything that defines the run, the pretrained weights' revision
and the data version included; `sweep.run` executes the plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import (
    ConfigBase,
    check_choice,
    check_range,
    coerce_fields,
    coerce_in_place,
    field,
    read_yaml,
)
from .data.splits import SplitConfig
from .errors import ConfigError
from .records import run_id
from .runs import RunSpec, baseline_spec, common_fields, model_revision
from .suites import SuiteConfig, load_suite

if TYPE_CHECKING:
    from .evaluation import EvalConfig

KINDS = ("baseline", "train", "derived")
EVAL_BATCH_SIZE = 256  # the default of eval_batch_size (eval.batch_size may set it instead)


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
    eval_batch_size: int = field(EVAL_BATCH_SIZE, help="evaluation batch size")
    eval: dict[str, Any] = field(
        {},
        help="EvalConfig options of every evaluation (precision, allow_tf32, decode, "
        "batch_size, num_workers, ...); precision and decode are recorded with each result, "
        "and a store never mixes results of two of them",
    )

    def __post_init__(self) -> None:
        coerce_in_place(self)  # types first: `models: name` is one model, `lr: 1e-3` a number
        object.__setattr__(self, "methods", tuple(MethodEntry.parse(m) for m in self.methods))
        if not self.models or not self.methods:
            raise ConfigError("BenchmarkConfig needs at least one model and one method")
        if not self.seeds:
            raise ConfigError("BenchmarkConfig.seeds is empty; give at least one seed, e.g. [0]")
        for name, n in self.max_train_samples.items():
            check_range("BenchmarkConfig", f"max_train_samples[{name!r}]", n, 1)
        check_range("BenchmarkConfig", "eval_batch_size", self.eval_batch_size, 1)
        self._check_eval()
        self._check_train_overrides()
        labels = [m.label for m in self.methods]
        dup = sorted({lab for lab in labels if labels.count(lab) > 1})
        if dup:
            raise ConfigError(
                f"method label(s) {dup} appear twice; give each entry a distinct 'label:'"
            )
        SplitConfig.from_dict(dict(self.split))  # validates

    def _check_eval(self) -> None:
        given = self.eval.get("batch_size", self.eval_batch_size)
        if self.eval_batch_size != EVAL_BATCH_SIZE and given != self.eval_batch_size:
            raise ConfigError(
                f"BenchmarkConfig gives two evaluation batch sizes (eval_batch_size: "
                f"{self.eval_batch_size}, eval.batch_size: {given}); keep one"
            )
        try:
            self.eval_config()
        except ConfigError as err:
            raise ConfigError(f"BenchmarkConfig.eval: {err}") from None

    def eval_config(self, **machine: Any) -> EvalConfig:
        """The `EvalConfig` of every evaluation; `machine` overrides (e.g. num_workers)."""
        from .evaluation import EvalConfig

        return EvalConfig.from_dict({"batch_size": self.eval_batch_size, **self.eval, **machine})

    def _check_train_overrides(self) -> None:
        """Validate `train` and every method's `train` as TrainConfig options now, not after
        the baselines ran; store the coerced values (``"1e-3"`` -> 0.001)."""
        from .training import TrainConfig

        def checked(overrides: dict[str, Any], where: str) -> dict[str, Any]:
            try:
                TrainConfig.from_dict(overrides)
            except ConfigError as err:
                raise ConfigError(f"{where}: {err}") from None
            return coerce_fields(TrainConfig, overrides)

        object.__setattr__(self, "train", checked(dict(self.train), "BenchmarkConfig.train"))
        methods = []
        for m in self.methods:
            merged = checked({**self.train, **m.train}, f"method {m.label!r} train")
            methods.append(m.replace(train={k: merged[k] for k in m.train}) if m.train else m)
        object.__setattr__(self, "methods", tuple(methods))

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
        path = Path(path)
        if not path.is_file():
            raise ConfigError(
                f"benchmark config {path} does not exist; give a YAML or JSON file "
                "(see imagenet_rib/configs/*.yaml for examples)"
            )
        data = read_yaml(path, what="benchmark config")
        if not isinstance(data, dict):
            raise ConfigError(
                f"{path} must hold a mapping of BenchmarkConfig options (models:, methods:, ...), "
                f"got {type(data).__name__}"
            )
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


def _method_kind(name: str) -> str:
    from .methods import get_method

    return get_method(name).kind


def _sources(m: MethodEntry) -> tuple[str, ...]:
    """Labels of the runs a derived method uses: the entry's `sources`, else the method's
    own (`Method.sources`: WiSE-FT's ``base_method``, a soup's ``ingredients``)."""
    from .methods import get_method

    if m.sources:
        return m.sources
    method = get_method(m.name)
    return tuple(method.sources(method.make_config(m.config)))


def plan(
    config: BenchmarkConfig,
    suite: SuiteConfig | None = None,
    revisions: dict[str, str] | None = None,
) -> list[RunSpec]:
    """Expand the matrix into runs in execution order (baselines, trained, derived).

    Every run id hashes the pretrained weights' revision (`revisions`: model -> revision,
    default `model_revision`, which loads the model) and the suite's `data_version`, so
    changed weights or data never reuse runs of the old ones.
    """
    suite = suite or config.load_suite()
    revisions = dict(revisions or {})
    ft_sets = _finetune_sets(config, suite)
    kinds = {m.label: _method_kind(m.name) for m in config.methods}
    _check_sources(config, kinds)  # before any model is loaded for its revision
    baselines, trained, derived = [], [], []
    for model in config.models:
        revision = revisions.get(model) or model_revision(model)
        common = common_fields(suite, config.split_config, model, revision)
        baselines.append(baseline_spec(model, suite, config.split_config, revision))
        for d in ft_sets:
            for seed in config.seeds:
                ids: dict[str, str] = {}  # training label -> run id, for the derived runs
                for m in config.methods:
                    if kinds[m.label] == "train":
                        trained.append(_train_spec(config, m, model, d, seed, common))
                        ids[m.label] = trained[-1].run_id
                for m in config.methods:
                    if kinds[m.label] == "derived":
                        derived.append(_derived_spec(m, model, d, seed, common, ids))
    return baselines + trained + derived


def _finetune_sets(config: BenchmarkConfig, suite: SuiteConfig) -> tuple[str, ...]:
    """The fine-tuning sets D_i: the config's, else every suite dataset whose licence allows
    tuning on it (or that the config opts in to); an opt-in set not opted in is refused."""
    from .data.specs import get_dataset_spec

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
    return ft_sets


def _check_sources(config: BenchmarkConfig, kinds: dict[str, str]) -> None:
    """Every derived method names at least one source, each the label of a training method."""
    training = sorted(m.label for m in config.methods if kinds[m.label] == "train")
    for m in config.methods:
        if kinds[m.label] == "derived":
            sources = _sources(m)
            missing = [s for s in sources if s not in training]
            if not sources or missing:
                raise ConfigError(
                    f"derived method {m.label!r} needs source runs: set `sources: [<label of a "
                    f"training method>]` in its entry (missing {missing or 'all'}; training "
                    f"methods in this config: {training})"
                )


def _train_spec(
    config: BenchmarkConfig,
    m: MethodEntry,
    model: str,
    d: str,
    seed: int,
    common: dict[str, Any],
) -> RunSpec:
    """The run training `m` on `model` with fine-tuning set `d` and `seed`; its id hashes the
    method, its options, the merged training options, the subsample size and `common`."""
    train = {**config.train, **m.train, "seed": seed}
    max_train = config.max_train_samples.get(d)
    rid = run_id(
        method=m.name,
        label=m.label,
        config=m.config,
        train=train,
        dataset=d,
        max_train=max_train,
        **common,
    )
    return _method_spec(m, "train", rid, model, d, seed, train=train, max_train_samples=max_train)


def _derived_spec(
    m: MethodEntry,
    model: str,
    d: str,
    seed: int,
    common: dict[str, Any],
    ids: dict[str, str],
) -> RunSpec:
    """The derived run of `m` for (`model`, `d`, `seed`); its id hashes the method, its options,
    the ids of its source runs (`ids`: training label -> run id) and `common`."""
    deps = tuple(ids[s] for s in _sources(m))
    rid = run_id(method=m.name, label=m.label, config=m.config, depends_on=deps, **common)
    return _method_spec(m, "derived", rid, model, d, seed, depends_on=deps)


def _method_spec(
    m: MethodEntry, kind: str, rid: str, model: str, d: str, seed: int, **extra: Any
) -> RunSpec:
    """The `RunSpec` of method entry `m`'s `kind` run of (`model`, `d`, `seed`)."""
    return RunSpec(
        run_id=rid,
        kind=kind,
        model=model,
        method=m.name,
        label=m.label,
        method_config=dict(m.config),
        finetune_dataset=d,
        seed=seed,
        **extra,
    )
