"""The conversion engine: scanned items -> Parquet shards in the shared schema, resumably.

Output folder (``out``)::

    data/train-00000-of-00008.parquet ...        (ImageNet-C: data/<corruption>/<severity>/...)
    conversion.json                               manifest: plan hash, shards + SHA-256, skips
    README.md                                     dataset card (configs for `load_dataset`)
    objectnet_to_imagenet_1k.json ...             side files of the layout (ObjectNet)

Images are embedded (bytes in the Parquet rows, never paths). Source bytes are kept as they
are unless the layout needs a pixel change (ObjectNet's border) or the image is not RGB/L
(RGBA, CMYK, palette): then it is converted to RGB and stored as lossless PNG.

Resumption. Work happens in ``<out>.partial/``; the shard plan (sorted items chunked by
``shard_size``) is hashed; each finished shard is written to a temporary file, moved into
place, and recorded with its SHA-256 in the partial manifest. A re-run with the same plan
reuses every recorded shard whose checksum still matches and converts only the rest, so an
interrupted run neither duplicates nor loses rows. The finished folder replaces ``out`` in
one rename.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from collections import Counter
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ...errors import ConfigError, DatasetError
from ...paths import atomic_write_text
from ..rows import MANIFEST, read_manifest
from ..specs import DatasetSpec
from .base import ConvertConfig, Scan, ScanContext, SourceItem, summary
from .shards import ShardTask, convert_shard, sha256_file

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1


@dataclass
class ConversionReport:
    """What a conversion did. ``skipped`` lists every skipped image/folder with the reason."""

    name: str
    out: str
    num_rows: int
    expected_images: int | None
    num_shards: int
    reused_shards: int
    skipped: list[dict[str, str]] = field(default_factory=list)
    ignored: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    source_bytes: int = 0
    output_bytes: int = 0

    @property
    def images_per_s(self) -> float:
        return self.num_rows / self.seconds if self.seconds > 0 else float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "images_per_s": self.images_per_s}

    def summary(self) -> str:
        lines = [
            f"{self.name}: {self.num_rows} rows in {self.num_shards} shards at {self.out} "
            f"({self.reused_shards} shards reused from an interrupted run)"
        ]
        if self.skipped:
            kinds = Counter(s["kind"] for s in self.skipped)
            lines.append(f"  SKIPPED {len(self.skipped)}: {dict(kinds)}")
            lines += [f"    {s['kind']}: {s['path']}: {s['detail']}" for s in self.skipped[:20]]
        if self.dropped:
            lines.append(
                f"  dropped by design: {sum(self.dropped.values())} images of "
                f"{len(self.dropped)} classes outside the label mapping"
            )
        if self.ignored:
            lines.append(f"  ignored: {self.ignored}")
        lines += [f"  WARNING: {w}" for w in self.warnings]
        return "\n".join(lines)


# --------------------------------------------------------------------------- plan + manifest


def _plan(
    items: list[SourceItem], shard_size: int
) -> list[tuple[str, str, tuple[SourceItem, ...]]]:
    by_set: dict[str, list[SourceItem]] = {}
    for item in items:
        by_set.setdefault(item.set_key, []).append(item)
    plan = []
    for set_key, rows in by_set.items():
        n = (len(rows) + shard_size - 1) // shard_size
        prefix = f"data/{set_key}/" if set_key else "data/"
        for k in range(n):
            plan.append(
                (
                    f"{set_key}#{k}",
                    f"{prefix}train-{k:05d}-of-{n:05d}.parquet",
                    tuple(rows[k * shard_size : (k + 1) * shard_size]),
                )
            )
    return plan


def _plan_hash(spec: DatasetSpec, scan: Scan, shard_size: int) -> str:
    h = hashlib.sha256(
        json.dumps(
            [
                FORMAT_VERSION,
                spec.name,
                spec.layout,
                spec.label_space,
                asdict(scan.prepare),
                shard_size,
            ]
        ).encode()
    )
    for item in scan.items:
        h.update(json.dumps(item.row()).encode())
    return h.hexdigest()


def _write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    atomic_write_text(folder / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True) + "\n")


def _reusable(
    partial: Path, manifest: dict[str, Any] | None, plan_hash: str, force: bool
) -> dict[str, Any]:
    if manifest is None or force:
        return {}
    if manifest.get("plan") != plan_hash:
        raise DatasetError(
            f"the interrupted conversion in {partial} was made from a different source listing or "
            f"options; pass --force to discard it and start over"
        )
    done = {}
    for key, info in manifest.get("shards", {}).items():
        path = partial / info["file"]
        if path.is_file() and sha256_file(path) == info["sha256"]:
            done[key] = info
        else:
            logger.warning(
                "shard %s of the interrupted run is missing or damaged; converting it again",
                info["file"],
            )
    return done


# --------------------------------------------------------------------------- the engine


def _check_counts(scan: Scan, expected: Any, config: ConvertConfig, name: str) -> list[str]:
    found = len(scan.items)
    present = {getattr(i, scan.class_key) for i in scan.items}
    missing = sorted(set(expected.classes or ()) - present)
    problems = []
    if expected.num_images is not None and found != expected.num_images:
        problems.append(f"found {found} images but {name} has {expected.num_images}")
    if missing:
        problems.append(f"{len(missing)} classes have no images: {missing[:10]}")
    if problems and not (config.allow_count_mismatch or config.on_error == "skip"):
        raise DatasetError(
            f"{name}: {'; '.join(problems)}. The download is incomplete or not the right dataset "
            f"(an incomplete ObjectNet download is how wrong numbers get published); re-download it, "
            f"or pass --allow-count-mismatch to convert what is there (verify will still flag it)"
        )
    return [f"count mismatch: {p}" for p in problems]


def run(
    spec: DatasetSpec,
    scan_fn: Any,
    src: Path,
    out: Path,
    config: ConvertConfig,
    expected: Any = None,
) -> ConversionReport:
    from tqdm.auto import tqdm

    from ..labels import get_label_space
    from ..schema import features

    start = time.perf_counter()
    out = Path(out)
    partial = out.with_name(out.name + ".partial")
    previous = read_manifest(out) if out.exists() else None
    if out.exists() and previous is None and any(out.iterdir()):
        raise ConfigError(
            f"{out} exists and is not a conversion; choose another --out (nothing was written)"
        )
    if previous and previous.get("complete") and not config.force:
        logger.info("%s is already converted at %s; pass --force to rebuild it", spec.name, out)
        done_report = previous["report"]
        return ConversionReport(
            **{**done_report, "reused_shards": done_report["num_shards"], "seconds": 0.0}
        )
    ctx = ScanContext(config)
    scan = scan_fn(Path(src), spec, ctx)
    scan.problems.extend(ctx.problems)
    if not scan.items:
        raise DatasetError(f"no images of {spec.name} found under {src}; check --src")
    expected = expected or spec.expected(scan.expected_classes)
    warnings = _check_counts(scan, expected, config, spec.name)

    plan = _plan(scan.items, config.shard_size)
    plan_hash = _plan_hash(spec, scan, config.shard_size)
    if config.force and partial.exists():
        shutil.rmtree(partial)
    done = _reusable(
        partial, read_manifest(partial) if partial.exists() else None, plan_hash, config.force
    )
    partial.mkdir(parents=True, exist_ok=True)
    for fname, raw in scan.side_files.items():
        (partial / fname).write_bytes(raw)
    manifest = {
        "format": FORMAT_VERSION,
        "name": spec.name,
        "layout": spec.layout,
        "source": str(src),
        "plan": plan_hash,
        "shard_size": config.shard_size,
        "prepare": asdict(scan.prepare),
        "complete": False,
        "shards": dict(done),
    }
    _write_manifest(partial, manifest)

    schema = features(get_label_space(spec.label_space)).arrow_schema
    tasks = [
        ShardTask(key, file, items, scan.prepare, config.on_error, str(partial), schema)
        for key, file, items in plan
        if key not in done
    ]
    total = len(scan.items)
    bar = tqdm(
        total=total,
        initial=total - sum(len(t.items) for t in tasks),
        unit="img",
        desc=f"converting {spec.name}",
        disable=not config.progress,
    )

    def record(info: dict[str, Any], n_items: int) -> None:
        manifest["shards"][info["key"]] = info
        _write_manifest(partial, manifest)
        bar.update(n_items)

    try:
        if config.workers <= 1 or len(tasks) <= 1:
            for task in tasks:
                record(convert_shard(task), len(task.items))
        else:
            _run_pool(tasks, config.workers, record)
    finally:
        bar.close()
    return _finalize(spec, scan, out, partial, manifest, plan, warnings, len(done), start, expected)


def _run_pool(tasks: list[ShardTask], workers: int, record: Any) -> None:
    import multiprocessing

    # spawn: workers must not inherit the parent's threads (tqdm's monitor, torch pools)
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        pending = {pool.submit(convert_shard, t): t for t in tasks}
        try:
            while pending:
                finished, _ = wait(pending, return_when=FIRST_EXCEPTION)
                for fut in finished:
                    task = pending.pop(fut)
                    record(fut.result(), len(task.items))  # re-raises a worker's error
        except BaseException:
            for fut in pending:
                fut.cancel()
            raise


def _finalize(
    spec: DatasetSpec,
    scan: Scan,
    out: Path,
    partial: Path,
    manifest: dict[str, Any],
    plan: list,
    warnings: list[str],
    reused: int,
    start: float,
    expected: Any,
) -> ConversionReport:
    from ..dataset_card import render_card
    from ..rows import RowMeta
    from ..splits import SplitConfig

    shards = manifest["shards"]
    skipped = [p.to_dict() for p in scan.problems] + [
        s for info in shards.values() for s in info["skipped"]
    ]
    bad = {s["path"] for s in skipped}
    rows = [item for item in scan.items if item.path not in bad]
    report = ConversionReport(
        name=spec.name,
        out=str(out),
        num_rows=sum(info["rows"] for info in shards.values()),
        expected_images=spec.num_images,
        num_shards=len(plan),
        reused_shards=reused,
        skipped=skipped,
        ignored=summary(scan.ignored),
        dropped=summary(scan.dropped),
        warnings=warnings,
        seconds=time.perf_counter() - start,
        source_bytes=sum(info["source_bytes"] for info in shards.values()),
        output_bytes=sum(info["bytes"] for info in shards.values()),
    )
    assert report.num_rows == len(rows), (report.num_rows, len(rows))
    if expected.num_images is not None and report.num_rows != expected.num_images:
        warnings.append(
            f"converted {report.num_rows} rows but {spec.name} has {expected.num_images} "
            f"({len(skipped)} skipped); `rib datasets verify` will report it"
        )
    manifest.update(complete=True, num_rows=report.num_rows, report=report.to_dict())
    manifest["report"].pop("images_per_s")
    card = render_card(spec, RowMeta.from_items(rows), SplitConfig(), manifest=manifest)
    (partial / "README.md").write_text(str(card))
    _write_manifest(partial, manifest)
    for leftover in partial.rglob(".*.tmp-*"):  # from workers killed mid-write
        leftover.unlink()
    if out.exists():
        old = out.with_name(f".{out.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(out, old)
        os.replace(partial, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(partial, out)
    logger.info("%s", report.summary())
    return report
