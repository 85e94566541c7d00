"""Benchmark: conversion throughput (images/s) and size on disk versus the source.

Generates an ImageNet-R-like tree (``<wnid>/*.jpg``, random-texture JPEGs) of a few
thousand images, then times, in the same run:

- baseline: read + fully decode every file in one process (the floor of any converter that
  checks its images);
- ``convert`` in this process (``num_workers=0``) and with worker processes.

Prints images/s and the ratio to the baseline, and the Parquet output size / source size.

    python scripts/bench_convert.py --images 3000 --workers 0 2
"""

from __future__ import annotations

import argparse
import io
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


def make_tree(root: Path, n: int, size: int, wnids: list[str], seed: int = 0) -> int:
    rng = np.random.default_rng(seed)
    total = 0
    for i in range(n):
        # smooth noise compresses like a photo, unlike white noise
        small = rng.integers(0, 256, size=(size // 8, size // 8, 3), dtype=np.uint8)
        img = Image.fromarray(small).resize((size, size), Image.BILINEAR)
        path = root / wnids[i % len(wnids)] / f"img_{i:06d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=90)
        path.write_bytes(buf.getvalue())
        total += len(buf.getvalue())
    return total


def baseline(root: Path) -> float:
    start = time.perf_counter()
    n = 0
    for path in sorted(root.rglob("*.jpg")):
        with Image.open(io.BytesIO(path.read_bytes())) as im:
            im.load()
        n += 1
    return n / (time.perf_counter() - start)


def main() -> None:
    from imagenet_rib.data.converters import ConvertConfig, convert
    from imagenet_rib.data.labels import timm_subset
    from imagenet_rib.data.specs import Expected

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=3000)
    parser.add_argument("--size", type=int, default=160, help="image side in pixels")
    parser.add_argument("--classes", type=int, default=20)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--shard-size", type=int, default=500)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="rib-bench-convert-"))
    try:
        wnids = list(timm_subset("imagenet_r")[: args.classes])
        src_bytes = make_tree(tmp / "src", args.images, args.size, wnids)
        expected = Expected(num_images=args.images, num_classes=len(wnids), classes=tuple(wnids))
        from imagenet_rib.data.labels import get_label_space
        from imagenet_rib.data.schema import features

        features(
            get_label_space("imagenet-1k")
        )  # one-time imports (timm, datasets) out of the timings
        base = baseline(tmp / "src")
        print(f"{args.images} JPEGs of {args.size}x{args.size} px, {src_bytes / 1e6:.1f} MB")
        print(f"baseline (read + decode, 1 process): {base:8.0f} images/s   1.00x")
        for workers in args.workers:
            out = tmp / f"out-{workers}"
            config = ConvertConfig(num_workers=workers, shard_size=args.shard_size, progress=False)
            report = convert("imagenet-r", tmp / "src", out, config, expected=expected)
            rate = report.num_rows / report.seconds
            out_bytes = sum(p.stat().st_size for p in (out / "data").rglob("*.parquet"))
            print(
                f"convert, num_workers={workers}:              {rate:8.0f} images/s   {rate / base:.2f}x"
                f"   output {out_bytes / 1e6:.1f} MB = {out_bytes / src_bytes:.3f}x source"
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
