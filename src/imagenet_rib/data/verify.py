"""Verify a converted dataset against its registry entry: counts, class sets, checksums.

``verify(name, source)`` reads only the metadata columns (never decodes an image) and
reports exactly what is missing, extra or wrong:

- rows: the number of rows against the registry's count (per (corruption, severity) set
  for ImageNet-C, with every missing set named);
- classes: the set of class ids present (wnids, or ObjectNet class names) against the
  expected set (all 1000 wnids, the A/R subset, the ObjectNet mapping's classes);
- labels: every row's ``wnid`` agrees with its ``label`` (and, for ObjectNet, the label is
  the first-match class of its ``class_name``); row ids are unique;
- checksums: every Parquet shard has the SHA-256 recorded at conversion, no shard is
  missing or unrecorded (local folders, and Hub repos through their LFS hashes); for the
  Mini-RIB suite, the content hash of its build manifest;
- readability: a truncated or damaged file (Arrow, Parquet, manifest) is reported as a
  problem with the command that rebuilds it, never as a traceback.

A report that is not ``ok`` makes ``rib datasets verify`` exit with status 1: an incomplete
download (FLYP's ObjectNet numbers came from one) cannot go unnoticed.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import DatasetError
from .labels import get_label_space
from .rows import READ_ERRORS, RowMeta, read_source
from .specs import DatasetSpec, Expected, get_dataset_spec

logger = logging.getLogger(__name__)


@dataclass
class VerifyReport:
    """Result of `verify`; ``ok`` only if ``problems`` is empty."""

    name: str
    source: str
    num_rows: int = 0
    expected_rows: int | None = None
    num_classes: int = 0
    expected_classes: int | None = None
    missing_classes: list[str] = field(default_factory=list)
    extra_classes: list[str] = field(default_factory=list)
    set_counts: dict[str, int] = field(default_factory=dict)
    missing_sets: list[str] = field(default_factory=list)
    label_mismatches: int = 0
    duplicate_ids: int = 0
    checksum_errors: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    skipped_in_conversion: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}

    def to_text(self) -> str:
        head = f"{self.name} ({self.source}): {'OK' if self.ok else 'WRONG'} - {self.num_rows} rows"
        head += f" (expected {self.expected_rows})" if self.expected_rows is not None else ""
        head += f", {self.num_classes} classes" + (
            f" (expected {self.expected_classes})" if self.expected_classes is not None else ""
        )
        return "\n".join(
            [head]
            + [f"  PROBLEM: {p}" for p in self.problems]
            + [f"  note: {n}" for n in self.notes]
        )


def _short(values: Sequence[Any], n: int = 10) -> str:
    values = list(values)
    return f"{values[:n]}" + (f" and {len(values) - n} more" if len(values) > n else "")


# --------------------------------------------------------------------------- checks


def check_rows(
    meta: RowMeta,
    spec: DatasetSpec,
    expected: Expected,
    report: VerifyReport,
    *,
    source: str | None = None,
) -> None:
    """Counts, class set, label consistency, unique ids, ImageNet-C sets (into `report`).

    `source`: where the rows were read from (an ObjectNet-style dataset's mapping is there).
    """
    space = get_label_space(spec.label_space)
    report.num_rows = len(meta)
    report.expected_rows = expected.num_images
    if expected.num_images is not None and len(meta) != expected.num_images:
        report.problems.append(
            f"{len(meta)} rows but {spec.name} has {expected.num_images} "
            f"({len(meta) - expected.num_images:+d}): incomplete or wrong download"
        )
    present = set(meta[expected.class_key])
    report.num_classes = len(present)
    report.expected_classes = len(expected.classes) if expected.classes else expected.num_classes
    if expected.classes is not None:
        report.missing_classes = sorted(set(expected.classes) - present)
        report.extra_classes = sorted(present - set(expected.classes))
        if report.missing_classes:
            report.problems.append(
                f"{len(report.missing_classes)} classes missing: {_short(report.missing_classes)}"
            )
        if report.extra_classes:
            report.problems.append(
                f"{len(report.extra_classes)} classes not in {spec.name}: {_short(report.extra_classes)}"
            )
    elif expected.num_classes is not None and len(present) != expected.num_classes:
        report.problems.append(f"{len(present)} classes but {spec.name} has {expected.num_classes}")
    wrong = [
        i
        for i, (lab, w) in enumerate(zip(meta["label"], meta["wnid"]))
        if not 0 <= lab < space.num_classes or space.wnids[lab] != w
    ]
    if spec.is_objectnet:
        wrong += _objectnet_label_errors(meta, spec, space, report, source)
    report.label_mismatches = len(set(wrong))
    if wrong:
        report.problems.append(
            f"{len(set(wrong))} rows whose label disagrees with their class "
            f"(e.g. id {meta['id'][wrong[0]]!r}); rebuild with `rib datasets build --force`"
        )
    dupes = [k for k, n in Counter(meta["id"]).items() if n > 1]
    report.duplicate_ids = len(dupes)
    if dupes:
        report.problems.append(f"{len(dupes)} row ids occur more than once: {_short(dupes, 5)}")
    if expected.sets is not None:
        _check_sets(meta, expected, report)


def _objectnet_label_errors(
    meta: RowMeta, spec: DatasetSpec, space: Any, report: VerifyReport, source: str | None
) -> list[int]:
    from .protocol import objectnet_protocol

    try:
        first = objectnet_protocol(space, spec.objectnet_mapping(source), "first-match")
    except DatasetError as err:
        report.notes.append(f"ObjectNet labels not checked against the mapping: {err}")
        return []
    label_of = {name: first.groups[k][0] for name, k in first.target_index.items()}
    return [
        i
        for i, (lab, name) in enumerate(zip(meta["label"], meta["class_name"]))
        if label_of.get(name, lab) != lab
    ]


def _check_sets(meta: RowMeta, expected: Expected, report: VerifyReport) -> None:
    counts = Counter(f"{c}/{s}" for c, s in zip(meta["corruption"], meta["severity"]))
    report.set_counts = dict(sorted(counts.items()))
    wanted = [f"{c}/{s}" for c, s in expected.sets]
    report.missing_sets = [k for k in wanted if k not in counts]
    if report.missing_sets:
        report.problems.append(
            f"{len(report.missing_sets)} of {len(wanted)} (corruption, severity) sets "
            f"are missing: {_short(report.missing_sets)}"
        )
    unknown = sorted(set(counts) - set(wanted))
    if unknown:
        report.problems.append(f"rows of unknown (corruption, severity) sets: {_short(unknown)}")
    if expected.num_images:
        per_set = expected.num_images // len(wanted)
        off = {k: n for k, n in counts.items() if k in wanted and n != per_set}
        if off:
            report.problems.append(
                f"{len(off)} sets do not have {per_set} rows: {_short(sorted(off.items()))}"
            )


# --------------------------------------------------------------------------- entry point


def _verify_mini(spec: DatasetSpec, expected: Expected, seed: int) -> VerifyReport:
    import json

    import datasets

    from .mini.build import suite_root
    from .schema import content_hash

    root = suite_root(seed)
    report = VerifyReport(spec.name, str(root / spec.name))
    manifest_path = root / "manifest.json"
    if not manifest_path.is_file():
        report.problems.append("the Mini-RIB suite is not built; run `rib datasets build mini-rib`")
        return report
    rebuild = "rebuild with `rib datasets build mini-rib --force`"
    try:
        entry = json.loads(manifest_path.read_text())["datasets"].get(spec.name)
        ds = datasets.load_from_disk(str(root / spec.name))
        meta = RowMeta.from_dataset(ds)
        digest = content_hash(ds)
    except (*READ_ERRORS, json.JSONDecodeError) as err:
        report.problems.append(
            f"the cached {spec.name} is unreadable ({type(err).__name__}: {err}); {rebuild}"
        )
        return report
    check_rows(meta, spec, expected, report)
    if entry is None:
        report.problems.append(f"{spec.name} is not in {manifest_path}; {rebuild}")
    elif entry["num_rows"] != len(ds) or entry["sha256"] != digest:
        report.checksum_errors.append(
            f"content hash of {spec.name} differs from {manifest_path} (damaged cache); {rebuild}"
        )
    report.problems.extend(f"checksum: {e}" for e in report.checksum_errors)
    return report


def verify(
    name: str,
    source: str | None = None,
    *,
    expected: Expected | None = None,
    spec: DatasetSpec | None = None,
    seed: int = 0,
) -> VerifyReport:
    """Check the copy of dataset `name` at `source` (folder or Hub id) against its registry entry.

    `source` defaults to the configured one (``IMAGENET_RIB_DATA_<NAME>``, ...); Mini-RIB
    datasets without a source are checked against their build manifest. `expected`
    overrides the registry's counts and class set.
    """
    from .sources import default_source

    spec = spec or get_dataset_spec(name)
    parent = spec.parent
    source = source or default_source(parent or name)
    if source is None and spec.layout == "mini":
        return _verify_mini(spec, expected or spec.expected(), seed)
    if source is None:
        raise DatasetError(
            f"no copy of {name!r} to verify; pass --source <folder or Hub id> or set "
            f"IMAGENET_RIB_DATA_DIR (convert it first with `rib datasets build {parent or name}`)"
        )
    source = str(source)
    report = VerifyReport(name, source)
    meta, manifest = read_source(source, report)
    if parent:
        meta = meta.select(
            [
                c == spec.corruption and s == spec.severity
                for c, s in zip(meta["corruption"], meta["severity"])
            ]
        )
    report.problems.extend(report.unreadable)
    check_rows(meta, spec, expected or spec.expected(source=source), report, source=source)
    report.problems.extend(f"checksum: {e}" for e in report.checksum_errors)
    if manifest is not None:
        if not manifest.get("complete"):
            report.problems.append(
                "the conversion did not finish; re-run `rib datasets build` to resume it"
            )
        skipped = manifest.get("report", {}).get("skipped", [])
        report.skipped_in_conversion = len(skipped)
        if skipped:
            report.notes.append(
                f"{len(skipped)} images/folders were skipped during conversion "
                f"({dict(Counter(s['kind'] for s in skipped))}); see conversion.json"
            )
    elif spec.layout != "mini":
        report.notes.append("no conversion manifest: shard checksums not checked")
    return report
