"""The one OTDD file format: `OTDDVector`, written by ``rib otdd --json``, returned by the
``otdd`` evaluate metric and read by ``rib report --otdd``.

An OTDD vector is a list of entries OTDD(reference, D_i) measured with the features of one
model (``model``; None when the features were given directly), each with its full result
(distance, label-distance matrix, diagnostics, `OTDDConfig`). As JSON::

    {
      "format": "imagenet-rib-otdd",
      "schema_version": 1,
      "suite": "mini-rib",                  # or null (pairs outside a suite)
      "part": "train",                      # split part the features were taken from, or null
      "entries": [
        {"model": "mini-vit-clean", "reference": "mini-val", "dataset": "mini-v2",
         "distance": 812.4, "method": "exact", "classes_a": [...], "classes_b": [...],
         "label_distances": [[...]], "diagnostics": {...}, "config": {...}},
        ...
      ]
    }

``reference`` is dataset a of the distance and ``dataset`` dataset b (the distance is
symmetric); in a vector of a suite every entry's reference is the suite's reference set.
`OTDDVector.load` refuses any other shape with the expected format and the command that
writes it, so a hand-made ``{dataset: value}`` file cannot be half read.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from .distance import OTDDConfig, OTDDResult

FORMAT = "imagenet-rib-otdd"
SCHEMA_VERSION = 1
WRITER = "`rib otdd --suite SUITE --model MODEL --json FILE`"
_RESULT_KEYS = ("distance", "method", "classes_a", "classes_b", "diagnostics", "config")


class OTDDFormatError(ConfigError):
    """A file or mapping is not an OTDD vector of this schema version."""


def _fail(where: str, problem: str) -> OTDDFormatError:
    return OTDDFormatError(
        f"{where} is not an OTDD file of schema version {SCHEMA_VERSION}: {problem}. Expected "
        f'{{"format": "{FORMAT}", "schema_version": {SCHEMA_VERSION}, "entries": [{{"model", '
        f'"reference", "dataset", "distance", ...}}]}}, as written by {WRITER} (see '
        f"docs/protocol.md)"
    )


def result_from_dict(data: Mapping[str, Any]) -> OTDDResult:
    """The `OTDDResult` of ``result.to_dict()`` (the label-distance matrix may be absent)."""
    classes_a, classes_b = np.asarray(data["classes_a"]), np.asarray(data["classes_b"])
    matrix = data.get("label_distances")
    w = (
        np.full((len(classes_a), len(classes_b)), math.nan)
        if matrix is None
        else np.asarray(matrix, dtype=np.float64).reshape(len(classes_a), len(classes_b))
    )
    return OTDDResult(
        distance=float(data["distance"]),
        label_distances=w,
        classes_a=classes_a,
        classes_b=classes_b,
        method=str(data["method"]),
        diagnostics=dict(data["diagnostics"]),
        config=OTDDConfig.from_dict(data["config"]),
    )


@dataclass(frozen=True)
class OTDDEntry:
    """OTDD(`reference`, `dataset`) with the features of `model` (None: features given)."""

    model: str | None
    reference: str
    dataset: str
    result: OTDDResult

    @property
    def distance(self) -> float:
        return self.result.distance

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "reference": self.reference,
            "dataset": self.dataset,
            **self.result.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Any, where: str = "entry") -> OTDDEntry:
        if not isinstance(data, Mapping):
            raise _fail(where, f"an entry must be a mapping, got {type(data).__name__}")
        missing = [k for k in ("model", "reference", "dataset", *_RESULT_KEYS) if k not in data]
        if missing:
            raise _fail(where, f"an entry lacks {missing}")
        model, ref, ds = data["model"], data["reference"], data["dataset"]
        if not (model is None or isinstance(model, str)) or not all(
            isinstance(v, str) and v for v in (ref, ds)
        ):
            raise _fail(where, "'model' must be a string or null, 'reference'/'dataset' strings")
        d = data["distance"]
        if isinstance(d, bool) or not isinstance(d, (int, float)) or not math.isfinite(d):
            raise _fail(where, f"'distance' must be a finite number, got {d!r}")
        try:
            result = result_from_dict(data)
        except (TypeError, ValueError, KeyError) as err:
            raise _fail(where, f"its result fields are malformed ({err})") from None
        return cls(model, ref, ds, result)


@dataclass(frozen=True)
class OTDDVector:
    """OTDD(reference, D_i) per model and dataset: the entries, and where they come from.

    Attributes:
        entries: one `OTDDEntry` per (model, reference, dataset); no pair twice.
        suite: the suite the datasets belong to (None: pairs given outside a suite).
        part: the split part ("train"/"test") the features were taken from (None: given).
    """

    entries: tuple[OTDDEntry, ...]
    suite: str | None = None
    part: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. max_per_class, split

    def __post_init__(self) -> None:
        keys = [(e.model, e.reference, e.dataset) for e in self.entries]
        dup = sorted({k for k in keys if keys.count(k) > 1}, key=str)
        if dup:
            raise OTDDFormatError(f"OTDD vector lists (model, reference, dataset) twice: {dup}")

    @property
    def models(self) -> list[str | None]:
        return list(dict.fromkeys(e.model for e in self.entries))

    @property
    def references(self) -> list[str]:
        return list(dict.fromkeys(e.reference for e in self.entries))

    def distances(self) -> dict[str | None, dict[str, float]]:
        """``{model: {dataset: OTDD(reference, dataset)}}``."""
        out: dict[str | None, dict[str, float]] = {}
        for e in self.entries:
            out.setdefault(e.model, {})[e.dataset] = e.distance
        return out

    def report_mapping(self, reference: str | None = None) -> dict[str, Any]:
        """The `report.build_report(otdd=...)` mapping: ``{model: {D_i: d}}`` (``{D_i: d}``
        when no entry names a model). Refuses entries against another reference set than
        `reference` (the suite's), whose degradation the report plots them against."""
        refs = self.references
        if len(refs) != 1 or (reference is not None and refs != [reference]):
            want = f"the suite's reference {reference!r}" if reference else "one reference set"
            raise OTDDFormatError(
                f"the OTDD file measures distances from {refs}, but the report plots the "
                f"degradation of {want}; recompute it with {WRITER}"
            )
        models = self.models
        if None in models and len(models) > 1:
            raise OTDDFormatError(
                "the OTDD file mixes entries with and without a model; keep one kind"
            )
        by_model = self.distances()
        return dict(by_model[None]) if models == [None] else by_model  # type: ignore[return-value]

    def to_dict(self, *, label_matrix: bool = True) -> dict[str, Any]:
        out = {
            "format": FORMAT,
            "schema_version": SCHEMA_VERSION,
            "suite": self.suite,
            "part": self.part,
            **self.extra,
            "entries": [e.to_dict() for e in self.entries],
        }
        if not label_matrix:
            for e in out["entries"]:
                e.pop("label_distances", None)
        return out

    @classmethod
    def from_dict(cls, data: Any, where: str = "the OTDD data") -> OTDDVector:
        if not isinstance(data, Mapping):
            raise _fail(where, f"it holds a {type(data).__name__}, not a mapping")
        if data.get("format") != FORMAT or "entries" not in data:
            raise _fail(
                where,
                f'no "format": "{FORMAT}" with "entries" (keys: {sorted(map(str, data))[:8]})',
            )
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise _fail(where, f"its schema_version is {version!r}")
        entries = data["entries"]
        if not isinstance(entries, list) or not entries:
            raise _fail(where, "'entries' must be a non-empty list")
        parsed = tuple(
            OTDDEntry.from_dict(e, f"{where} (entry {k})") for k, e in enumerate(entries)
        )
        known = {"format", "schema_version", "suite", "part", "entries"}
        extra = {k: v for k, v in data.items() if k not in known}
        return cls(parsed, data.get("suite"), data.get("part"), extra)

    def save(self, path: str | Path) -> Path:
        from ..paths import atomic_write_text

        path = Path(path)
        atomic_write_text(path, json.dumps(self.to_dict(), indent=1, allow_nan=False) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> OTDDVector:
        path = Path(path)
        if not path.is_file():
            raise OTDDFormatError(f"OTDD file {path} does not exist; write it with {WRITER}")
        try:
            data = json.loads(path.read_text())
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise _fail(str(path), f"it is not JSON ({err})") from None
        return cls.from_dict(data, str(path))
