"""The dataset registry: every dataset owns its label space, label protocol and metadata.

A `DatasetSpec` says what a dataset is (label space, class subset or ObjectNet mapping,
scoring rule, expected counts, licence, citation) - never how a script should treat it.
`spec.protocol()` is the only place a label protocol is built.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, DatasetError
from ..registry import Registry
from .labels import get_label_space
from .protocol import (
    OBJECTNET_RULES,
    LabelProtocol,
    full_protocol,
    objectnet_protocol,
    subset_protocol,
)

if TYPE_CHECKING:
    import datasets
    import numpy as np

AGGREGATES = ("mean", "mean-over-corruption-severity")


@dataclass(frozen=True)
class Expected:
    """What a complete copy holds. Tests and partial builds override the registry's values."""

    num_images: int | None = None
    num_classes: int | None = None
    classes: tuple[str, ...] | None = None  # class ids (wnids, or ObjectNet class names)
    sets: tuple[tuple[str, int], ...] | None = None  # ImageNet-C (corruption, severity) sets
    class_key: str = "wnid"


@dataclass(frozen=True)
class DatasetSpec:
    """Registry entry of one dataset.

    Attributes:
        name: registry key (``"imagenet-r"``, ``"mini-sketch"``).
        label_space: name of the pretraining label space its labels live in.
        title, description, homepage, licence, citation: for dataset cards.
        subset: wnids of a class subset (scored with the masked protocol), or None.
        objectnet_mapping: loader of ``{objectnet class: "lemma; lemma"}`` for
            ObjectNet-style datasets, else None. It is given the source the rows are read
            from (a folder, a Hub id, or None for the configured one), so rows are scored
            with the mapping that belongs to them and two copies never share one.
        objectnet_order: loader (given the source, as `objectnet_mapping`) of the ObjectNet
            classes in the reference code's walk order (``folder_to_objectnet_label.json``
            order), used only by the ``paper-compat`` rule; None walks the mapping in its
            own order.
        default_rule: ObjectNet rule used when none is given (never ``paper-compat``).
        aggregate: ``"mean"`` over rows, or the mean over (corruption, severity) sets.
        num_images, num_classes: expected counts (verification).
        layout: source layout a converter reads (``"mini"`` for generated datasets).
        requires_opt_in: ObjectNet's licence forbids tuning on it; needs explicit opt-in.
        parent, corruption, severity: for one set of a parent dataset (an ImageNet-C
            set ``imagenet-c/fog/3`` is the parent's rows of that corruption and severity).
        extra: free-form metadata (a parent's corruption list, source folder, ...).
    """

    name: str
    label_space: str
    title: str
    description: str = ""
    homepage: str = ""
    licence: str = ""
    citation: str = ""
    subset: tuple[str, ...] | None = None
    objectnet_mapping: Callable[[str | None], Mapping[str, str]] | None = None
    objectnet_order: Callable[[str | None], Sequence[str]] | None = None
    default_rule: str = "max-over-mapped"
    aggregate: str = "mean"
    num_images: int | None = None
    num_classes: int | None = None
    layout: str = "mini"
    requires_opt_in: bool = False
    parent: str | None = None
    corruption: str | None = None
    severity: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.aggregate not in AGGREGATES:
            raise ConfigError(f"aggregate {self.aggregate!r} not in {AGGREGATES}")
        if self.default_rule == "paper-compat":
            raise ConfigError(
                f"dataset {self.name!r}: paper-compat is a known defect of the reference code "
                f"and cannot be a default rule; use 'max-over-mapped' or 'first-match'"
            )
        if (self.parent is None) != (self.corruption is None) or (
            (self.parent is None) != (self.severity is None)
        ):
            raise ConfigError(
                f"dataset {self.name!r}: a set of a parent dataset gives parent, corruption "
                f"and severity together"
            )
        if self.subset is not None and self.objectnet_mapping is not None:
            raise ConfigError(
                f"dataset {self.name!r}: give a subset or an ObjectNet mapping, not both"
            )

    @property
    def is_objectnet(self) -> bool:
        return self.objectnet_mapping is not None

    def protocol(self, rule: str | None = None, *, source: str | None = None) -> LabelProtocol:
        """The label protocol; `rule` picks the ObjectNet rule (ignored otherwise).

        `source`: where the rows are read from (folder or Hub id; None: the configured
        source); an ObjectNet-style dataset reads its mapping from there.
        """
        space = get_label_space(self.label_space)
        if self.objectnet_mapping is not None:
            rule = rule or self.default_rule
            if rule not in OBJECTNET_RULES:
                raise ConfigError(
                    f"ObjectNet rule {rule!r} unknown; choose one of {list(OBJECTNET_RULES)}"
                )
            order = None
            if rule == "paper-compat" and self.objectnet_order is not None:
                order = self.objectnet_order(source)
            return objectnet_protocol(space, self.objectnet_mapping(source), rule, order=order)
        if self.subset is not None:
            return subset_protocol(space, self.subset)
        return full_protocol(space)

    def expected(
        self, classes: Sequence[str] | None = None, *, source: str | None = None
    ) -> Expected:
        """What a complete copy of this dataset holds (`classes` overrides the class set).

        `source`: where the copy is (an ObjectNet-style dataset's classes are its mapping's).
        """
        space = get_label_space(self.label_space)
        if classes is None:
            if self.subset:
                classes = self.subset
            elif self.is_objectnet:
                try:
                    classes = tuple(sorted(self.objectnet_mapping(source)))
                except DatasetError:
                    classes = None  # mapping not available: count-only check
            elif self.num_classes == space.num_classes:
                classes = space.wnids
        sets = None
        if "corruptions" in self.extra:
            sets = tuple(
                (c, s) for c in self.extra["corruptions"] for s in self.extra["severities"]
            )
        return Expected(
            self.num_images,
            self.num_classes,
            tuple(classes) if classes else None,
            sets,
            "class_name" if self.is_objectnet else "wnid",
        )

    def accuracy(self, correct: np.ndarray, rows: datasets.Dataset) -> tuple[float, dict]:
        """Top-1 accuracy (%) of `correct` (bool (N,), one per row of `rows`) with this
        dataset's aggregation, and the per-set accuracies it averages.

        ``mean``: 100 * mean(correct). ``mean-over-corruption-severity``: the unweighted mean
        of the 100 * mean(correct) of every (corruption, severity) set, keyed
        ``"<corruption>/<severity>"``. NaN for no rows.
        """
        import numpy as np

        if self.aggregate == "mean":
            return (100.0 * float(correct.mean()) if len(correct) else float("nan")), {}
        meta = rows.select_columns(["corruption", "severity"]).to_dict()
        keys = np.array([f"{c}/{s}" for c, s in zip(meta["corruption"], meta["severity"])])
        per_set = {k: 100.0 * float(correct[keys == k].mean()) for k in sorted(set(keys))}
        return (float(np.mean(list(per_set.values()))) if per_set else float("nan")), per_set

    def card_fields(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "homepage": self.homepage,
            "licence": self.licence,
            "citation": self.citation,
            "label_space": self.label_space,
            "num_images": self.num_images,
            "num_classes": self.num_classes,
            "subset_size": len(self.subset) if self.subset else None,
            "objectnet": self.is_objectnet,
            "default_rule": self.default_rule if self.is_objectnet else None,
            "aggregate": self.aggregate,
            "requires_opt_in": self.requires_opt_in,
        }


# built-in entries register themselves on import; plugins come from the entry-point group
DATASETS: Registry[DatasetSpec] = Registry(
    "dataset",
    builtins=("imagenet_rib.data.imagenet", "imagenet_rib.data.mini.specs"),
    plugins="imagenet_rib.datasets",
)


def register_dataset(spec: DatasetSpec) -> DatasetSpec:
    DATASETS.register(spec.name, spec)
    return spec


def get_dataset_spec(name: str) -> DatasetSpec:
    return DATASETS.get(name)


def is_registered(name: str) -> bool:
    """Whether `name` is a registered dataset (built-in, plugin or defined by a loaded suite)."""
    return name in DATASETS
