"""Suites are data: a family of related datasets, their label space and reference set.

A suite is the set D_1..D_n of the benchmark plus the pretraining reference (ImageNet-val).
The ImageNet-RIB suite, the Mini-RIB suite and a user's own family (DomainNet's six domains,
a folder of class folders per domain, C-variants of their own dataset made with
`data.corruptions.apply_to_dataset`) are all the same kind of YAML file; the schema is
documented in ``docs/suites.md``::

    name: my-domains
    label_space: mini-digits            # a registered label space, or
                                        # {name: ..., classes: [c0, c1, ...], lemmas: [...]}
    reference: my-val                   # the pretraining reference set (optional)
    objectnet_rule: max-over-mapped     # for ObjectNet-style datasets (optional)
    datasets:                           # the ordered set D_1..D_n
      - mini-sketch                     # a registered dataset, default source
      - name: my-clipart                # a dataset defined by this suite
        source: ./clipart               # save_to_disk / Parquet / class-folder tree or Hub id
        title: My clipart domain        # optional (relative paths: relative to the YAML file)
        subset: [zero, one, two]        # optional class subset (masked protocol)
        aggregate: mean                 # or mean-over-corruption-severity
    sources: {my-val: ./val}            # sources of the other datasets (optional)

A defined dataset's rows are mapped onto the label space by class NAME (its ``wnid``
column or the class names of its ``label`` feature, see `data.conform`), never by integer
position. Built-in suites live beside this module (``imagenet_rib/suites/<name>.yaml``); plugins add theirs with
`register_suite` (``docs/extending.md``). `load_suite` takes a suite name or a YAML path and
registers the datasets the suite defines.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import ConfigBase, coerce_in_place, field, read_yaml
from ..errors import ConfigError, DuplicateNameError, UnknownNameError
from ..registry import Registry

if TYPE_CHECKING:
    from ..data.loading import SplitPart
    from ..data.splits import SplitConfig

#: spec fields a suite may set for a dataset it defines
SPEC_FIELDS = (
    "title",
    "description",
    "homepage",
    "licence",
    "citation",
    "subset",
    "aggregate",
    "num_images",
    "num_classes",
)
_DEFINED: dict[str, dict[str, Any]] = {}  # dataset name -> definition registered by a suite


@dataclass(frozen=True)
class SuiteConfig(ConfigBase):
    """A suite: ordered datasets, their label space and the pretraining reference."""

    name: str = field(help="suite name (recorded with every result)")
    label_space: str = field(help="label space every dataset and model head of the suite uses")
    datasets: tuple[str, ...] = field(help="the ordered datasets D_1..D_n")
    reference: str | None = field(None, help="pretraining reference dataset (ImageNet-val analog)")
    objectnet_rule: str | None = field(None, help="ObjectNet rule (None: each dataset's default)")
    sources: dict[str, str] = field({}, help="dataset -> local folder or Hub id")
    define: dict[str, dict[str, Any]] = field(
        {}, help="definitions of datasets not in the registry"
    )
    description: str = field("", help="free text")

    def __post_init__(self) -> None:
        coerce_in_place(self)
        if not self.datasets:
            raise ConfigError(
                f"suite {self.name!r} lists no datasets; add at least two under 'datasets:'"
            )
        dup = sorted({d for d in self.datasets if self.datasets.count(d) > 1})
        if dup:
            raise ConfigError(
                f"suite {self.name!r} lists dataset(s) {dup} more than once; list each once"
            )
        if self.reference in self.datasets:
            raise ConfigError(
                f"suite {self.name!r}: the reference {self.reference!r} must not also "
                f"be one of its datasets; remove it from 'datasets:'"
            )
        if self.objectnet_rule is not None:
            from ..data.protocol import OBJECTNET_RULES

            if self.objectnet_rule not in OBJECTNET_RULES:
                raise ConfigError(
                    f"suite {self.name!r}: objectnet_rule {self.objectnet_rule!r} "
                    f"unknown; choose one of {list(OBJECTNET_RULES)}"
                )
        for key, names in (("sources", self.sources), ("define", self.define)):
            stray = sorted(set(names) - set(self.eval_datasets))
            if stray:
                raise ConfigError(
                    f"suite {self.name!r}: '{key}:' names {stray}, which are not among its "
                    f"datasets {list(self.eval_datasets)}; fix the names or list the datasets"
                )
        for name, spec in self.define.items():
            bad = sorted(set(spec) - set(SPEC_FIELDS))
            if bad:
                raise ConfigError(
                    f"suite {self.name!r}, dataset {name!r}: unknown field(s) {bad}; "
                    f"allowed: {['name', 'source', *SPEC_FIELDS]}"
                )

    @property
    def eval_datasets(self) -> tuple[str, ...]:
        """Every dataset a run is evaluated on: the suite, then the reference."""
        return self.datasets + ((self.reference,) if self.reference else ())

    def register(self) -> SuiteConfig:
        """Register the datasets this suite defines (idempotent); check all others exist."""
        from ..data.specs import (
            DATASETS,
            DatasetSpec,
            get_dataset_spec,
            is_registered,
            register_dataset,
        )

        for name, definition in self.define.items():
            full = {"label_space": self.label_space, **definition}
            if name in DATASETS:
                if _DEFINED.get(name) != full:
                    raise ConfigError(
                        f"suite {self.name!r} defines dataset {name!r}, but a different dataset "
                        f"of that name is already registered; rename it in the suite file"
                    )
                continue
            kw = dict(definition)
            if kw.get("subset") is not None:
                kw["subset"] = tuple(kw["subset"])
            kw.setdefault("title", name)
            register_dataset(
                DatasetSpec(name=name, label_space=self.label_space, layout="local", **kw)
            )
            _DEFINED[name] = full
        for name in self.eval_datasets:
            if not is_registered(name):
                raise _not_defined(self.name, name)
            spec = get_dataset_spec(name)
            if spec.label_space != self.label_space:
                raise ConfigError(
                    f"suite {self.name!r} uses label space {self.label_space!r} but "
                    f"dataset {name!r} lives in {spec.label_space!r}"
                )
        return self

    def part(
        self, name: str, part: str, split: SplitConfig, *, max_samples: int | None = None
    ) -> SplitPart:
        """`part` ("train"/"test") of dataset `name` with the suite's source and ObjectNet rule."""
        from ..data.loading import load_split

        if name not in self.eval_datasets:
            raise ConfigError(
                f"dataset {name!r} is not in suite {self.name!r}: {list(self.eval_datasets)}"
            )
        return load_split(
            name,
            part,
            split,
            rule=self.objectnet_rule,
            source=self.sources.get(name),
            max_samples=max_samples,
        )


def _not_defined(suite: str, name: str) -> ConfigError:
    import difflib

    from ..data.specs import DATASETS

    close = difflib.get_close_matches(name, DATASETS.names(), n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return ConfigError(
        f"suite {suite!r}: dataset {name!r} is neither registered nor defined by the suite.{hint} "
        f"To use your own data, give it a source: `- {{name: {name}, source: <folder or Hub "
        "id>}` (see docs/suites.md); `rib datasets list` shows the registered datasets"
    )


def builtin_suites() -> list[str]:
    return sorted(p.name[:-5] for p in files(__name__).iterdir() if p.name.endswith(".yaml"))


def builtin_reference(label_space: str) -> str | None:
    """The pretraining reference of the built-in suite over `label_space` (``imagenet-val``
    for imagenet-1k, ``mini-val`` for mini-digits), or None when no built-in suite uses it."""
    for name in builtin_suites():
        suite = load_suite(name)
        if suite.label_space == label_space and suite.reference:
            return suite.reference
    return None


def _load_plugin_suites() -> None:
    from ..data.specs import DATASETS

    DATASETS.load()  # plugins register suites with their datasets (imagenet_rib.datasets)


#: suites registered by plugins: name -> suite YAML path or mapping
SUITES: Registry[Path | dict[str, Any]] = Registry("suite", loader=_load_plugin_suites)


def register_suite(name: str, suite: str | Path | dict[str, Any]) -> None:
    """Make `load_suite(name)` (and ``suite: name`` in a benchmark config) find `suite`, a
    suite YAML path or mapping whose ``name:`` is `name`; a plugin's datasets module calls it."""
    if name in builtin_suites():
        raise DuplicateNameError(
            f"suite {name!r} is built in; give the plugin's suite another name"
        )
    SUITES.register(name, dict(suite) if isinstance(suite, dict) else Path(suite))


def _register_label_space(value: Any) -> str:
    from ..data.labels import LABEL_SPACES, LabelSpace

    if isinstance(value, str):
        LABEL_SPACES.get(value)  # an unknown name raises, listing close matches
        return value

    if not isinstance(value, dict) or "name" not in value or "classes" not in value:
        raise ConfigError(
            "label_space must be a registered name or {name: ..., classes: [...], "
            f"lemmas: [...] (optional)}}; got {value!r}"
        )
    classes = tuple(str(c) for c in value["classes"])
    space = LabelSpace(value["name"], classes, tuple(value.get("lemmas") or classes))
    if value["name"] in LABEL_SPACES:
        if LABEL_SPACES.get(value["name"])() != space:
            raise ConfigError(
                f"label space {value['name']!r} is already registered with other "
                "classes; give the suite's label space another name"
            )
    else:
        LABEL_SPACES.register(value["name"], lambda: space)
    return value["name"]


def _mapping(value: Any, key: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"suite '{key}:' must be a mapping (name: value), got {value!r}")
    return value


def suite_from_dict(data: dict[str, Any], base: Path | None = None) -> SuiteConfig:
    """Build a suite from its YAML mapping; relative sources resolve against `base`."""
    data = dict(data)
    for key in ("name", "label_space", "datasets"):
        if key not in data:
            raise ConfigError(
                f"suite file lacks '{key}:'; a suite needs name, label_space, datasets"
            )
    from ..data.specs import is_registered

    data["label_space"] = _register_label_space(data["label_space"])
    sources = dict(_mapping(data.pop("sources", None), "sources"))
    define = dict(_mapping(data.pop("define", None), "define"))
    entries = data["datasets"]
    if isinstance(entries, (str, dict)):
        entries = [entries]  # one dataset, not its letters
    if not isinstance(entries, list):
        raise ConfigError(f"suite 'datasets:' must be a list of entries, got {entries!r}")
    names = []
    for entry in [
        *entries,
        *([data["reference"]] if isinstance(data.get("reference"), dict) else []),
    ]:
        if isinstance(entry, str):
            names.append(entry)
            continue
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise ConfigError(
                f"a suite dataset entry must be a name or a mapping with 'name:'; got {entry!r}"
            )
        entry = dict(entry)
        name = entry.pop("name")
        if "source" in entry:
            if not isinstance(entry["source"], str) or not entry["source"]:
                raise ConfigError(
                    f"suite dataset {name!r}: source={entry['source']!r} must be a folder path "
                    "or a Hub dataset id"
                )
            sources[name] = entry.pop("source")
        # an entry with only a source defines a new dataset (title defaults to its name);
        # a registered dataset with only a source is that dataset, read from there
        if entry or (name in sources and not is_registered(name) and name not in define):
            define[name] = entry
        names.append(name)
    if isinstance(data.get("reference"), dict):
        data["reference"] = names.pop()
    if base is not None:
        for name, src in sources.items():
            local = base / src
            if not Path(src).is_absolute() and (src.startswith(".") or local.exists()):
                sources[name] = str(local.resolve())
    data.update(datasets=tuple(names), sources=sources, define=define)
    return SuiteConfig.from_dict(data)


def load_suite(name_or_path: str | Path | SuiteConfig | dict[str, Any]) -> SuiteConfig:
    """A built-in suite by name, a suite YAML/JSON path, or a mapping; registered and checked."""
    import yaml

    if isinstance(name_or_path, SuiteConfig):
        return name_or_path.register()
    if isinstance(name_or_path, dict):
        return suite_from_dict(name_or_path).register()
    path = Path(name_or_path)
    if not path.suffix and not path.is_file() and str(name_or_path) in SUITES:
        suite = load_suite(SUITES.get(str(name_or_path)))
        if suite.name != str(name_or_path):
            raise ConfigError(f"suite registered as {str(name_or_path)!r} is named {suite.name!r}")
        return suite
    if not path.suffix and not path.is_file():  # a folder named "mini-rib" is no suite
        resource = files(__name__) / f"{name_or_path}.yaml"
        if not resource.is_file():
            import difflib

            known = sorted(builtin_suites() + SUITES.names())
            close = difflib.get_close_matches(str(name_or_path), known, n=3)
            hint = f" Did you mean {close}?" if close else ""
            raise UnknownNameError(
                f"unknown suite {str(name_or_path)!r}.{hint} Suites: "
                f"{known}; or pass the path of a suite YAML file"
            )
        return suite_from_dict(yaml.safe_load(resource.read_text())).register()
    if not path.is_file():
        raise ConfigError(
            f"suite file {path} does not exist; give a built-in suite name "
            f"({builtin_suites()}) or an existing YAML path"
        )
    data = read_yaml(path, what="suite file")
    if not isinstance(data, dict):
        raise ConfigError(f"suite file {path} must hold a mapping (name:, label_space:, datasets:)")
    return suite_from_dict(data, base=path.parent).register()
