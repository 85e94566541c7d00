"""Evaluation engine benchmark: memory, data-pipeline and end-to-end throughput, exactness.

Every figure comes with its baseline, measured in the same run:

(a) peak memory of ONE evaluation (`evaluation.evaluate`) of N = 1k, 4k, 16k JPEGs
    (280 x 224 -> 224 px), each in a fresh subprocess: peak anonymous RSS of the main process
    (file-backed pages, i.e. the memory-mapped dataset and the shared libraries, are page
    cache and not counted) and the peak private memory of its largest loader worker (pages
    shared with the parent after the fork not counted). Flat means <= 1.25x from 1k to 16k;
(b) images/s of the data pipeline alone (decode + resize + crop, uint8 batches) with 0, 1
    and 2 workers, against a reference-style loop (PIL decode + transform per image, one
    process); then end-to-end `evaluate` images/s on a ViT whose forward dominates, as a
    fraction of forward-only on pre-decoded batches of the same model;
(c) whether `evaluate`'s predictions equal the reference loop's exactly (CPU fp32).

    python scripts/bench_eval.py [--sizes 1000 4000 16000] [--e2e-images 384] [--threads 2]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

RSS_CHILD = r"""
import json, os, sys, threading, time
import datasets, numpy as np, torch
from imagenet_rib.data.labels import MINI_DIGITS
from imagenet_rib.data.loading import SplitPart
from imagenet_rib.data.protocol import full_protocol
from imagenet_rib.data.specs import get_dataset_spec
from imagenet_rib.data.splits import SplitConfig
from imagenet_rib.evaluation import EvalConfig, evaluate
from imagenet_rib.models import load_model

def field(path, key):
    try:
        for line in open(path):
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0

def children():
    out = []
    for tid in os.listdir("/proc/self/task"):
        try:
            out += open(f"/proc/self/task/{tid}/children").read().split()
        except OSError:
            pass
    return out

peak = {"main": 0, "worker": 0}
done = threading.Event()
def sample():
    while not done.is_set():
        peak["main"] = max(peak["main"], field("/proc/self/status", "RssAnon"))
        for pid in children():  # a forked worker shares the parent's pages: count its own
            peak["worker"] = max(peak["worker"], field(f"/proc/{pid}/smaps_rollup", "Private_Dirty"))
        time.sleep(0.05)  # a persistent O(N) buffer cannot hide between two samples

torch.set_num_threads(int(sys.argv[4]))
ds = datasets.load_from_disk(sys.argv[1]).select(range(int(sys.argv[2])))
part = SplitPart("mini-val", "test", ds, np.zeros(len(ds), dtype=np.int64),
                 full_protocol(MINI_DIGITS), get_dataset_spec("mini-val"), SplitConfig(rule="none"))
loaded = load_model(sys.argv[3])
threading.Thread(target=sample, daemon=True).start()
start = time.perf_counter()
(ev,) = evaluate([loaded.model], loaded.transform, [part],
                 config=EvalConfig(batch_size=64, num_workers=int(sys.argv[5])))
seconds = time.perf_counter() - start
done.set()
print(json.dumps({"n": ev["mini-val"].num_images, "seconds": seconds, **peak}))
"""


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def make_jpegs(n: int, seed: int = 0) -> list[bytes]:
    """N smooth random-texture JPEGs of 280 x 224 (ImageNet-like compression ratio)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        base = rng.integers(0, 256, (28, 35, 3), dtype=np.uint8)
        img = Image.fromarray(base).resize((280, 224), Image.BILINEAR)
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=90)
        out.append(buf.getvalue())
    return out


def save_vit(path: Path, hidden: int, depth: int, patch: int) -> Path:
    """A random ViT folder with an ImageNet-style transform (shortest edge 256, crop 224)."""
    import torch
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor

    torch.manual_seed(0)
    cfg = ViTConfig(
        image_size=224,
        patch_size=patch,
        hidden_size=hidden,
        num_hidden_layers=depth,
        num_attention_heads=max(1, hidden // 64),
        intermediate_size=4 * hidden,
        num_labels=10,
        rib_label_space="mini-digits",
    )
    ViTForImageClassification(cfg).save_pretrained(path)
    ViTImageProcessor(
        size={"shortest_edge": 256},
        crop_size={"height": 224, "width": 224},
        do_center_crop=True,
        resample=3,
        image_mean=[0.5] * 3,
        image_std=[0.5] * 3,
    ).save_pretrained(path)
    return path


def part_of(ds):
    from imagenet_rib.data.labels import MINI_DIGITS
    from imagenet_rib.data.loading import SplitPart
    from imagenet_rib.data.protocol import full_protocol
    from imagenet_rib.data.specs import get_dataset_spec
    from imagenet_rib.data.splits import SplitConfig

    targets = np.zeros(len(ds), dtype=np.int64)
    protocol = full_protocol(MINI_DIGITS)
    spec = get_dataset_spec("mini-val")
    return SplitPart("mini-val", "test", ds, targets, protocol, spec, SplitConfig(rule="none"))


def reference_batches(ds, transform, batch: int):
    """The reference loop's input: PIL decode (via `datasets`) + transform per image."""
    import torch

    for start in range(0, len(ds), batch):
        rows = ds[start : start + batch]["image"]
        yield torch.stack([transform(img) for img in rows])


def memory_rows(data: Path, model: Path, sizes: list[int], threads: int, workers: int) -> list:
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{os.environ.get('PYTHONPATH', '')}"}
    rows = []
    for n in sizes:
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                RSS_CHILD,
                str(data),
                str(n),
                str(model),
                str(threads),
                str(workers),
            ],
            env=env,
            capture_output=True,
            text=True,
        )
        if proc.returncode:
            raise SystemExit(f"memory subprocess failed:\n{proc.stderr[-3000:]}")
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return rows


def pipeline_rate(ds, transform, workers: int, batch: int) -> float:
    import torch

    from imagenet_rib.data.stream import PartBatches

    loader = torch.utils.data.DataLoader(
        PartBatches([(ds, 0, len(ds))], transform, batch),
        batch_size=None,
        num_workers=workers,
        prefetch_factor=2 if workers else None,
    )
    start = time.perf_counter()
    n = sum(len(b["pixel_values"]) for b in loader)
    return n / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 4000, 16000])
    p.add_argument("--pipeline-images", type=int, default=1000)
    p.add_argument("--e2e-images", type=int, default=384)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--threads", type=int, default=2, help="torch threads of the main process")
    p.add_argument("--workers", type=int, default=2, help="loader workers for (a) and (b)")
    args = p.parse_args()

    import datasets
    import torch

    from imagenet_rib.evaluation import EvalConfig, evaluate
    from imagenet_rib.models import load_model, logits_of

    datasets.disable_progress_bars()
    torch.set_num_threads(args.threads)
    print(
        f"bench_eval  {date.today()}  {cpu_name()} ({os.cpu_count()} cores), "
        f"{args.threads} torch thread(s), torch {torch.__version__}"
    )
    with tempfile.TemporaryDirectory(prefix="rib-bench-eval-") as tmp:
        tmp = Path(tmp)
        n_max = max([*args.sizes, args.pipeline_images, args.e2e_images])
        t = time.perf_counter()
        blobs = make_jpegs(n_max)
        feats = datasets.Features({"image": datasets.Image()})
        datasets.Dataset.from_dict(
            {"image": [{"bytes": b, "path": None} for b in blobs]}, features=feats
        ).save_to_disk(str(tmp / "data"))
        ds = datasets.load_from_disk(str(tmp / "data"))
        mb = sum(map(len, blobs)) / len(blobs) / 1e3
        print(
            f"{n_max} JPEGs 280x224 ({mb:.1f} kB each) written in {time.perf_counter() - t:.0f} s"
        )
        tiny = save_vit(tmp / "tiny", hidden=32, depth=1, patch=32)
        vit = save_vit(tmp / "vit", hidden=384, depth=6, patch=16)

        # (a) memory, one fresh process per size
        print(
            f"\n(a) peak memory of one evaluation (tiny ViT, batch 64, {args.workers} workers), "
            "one subprocess per N"
        )
        rows = memory_rows(tmp / "data", tiny, args.sizes, args.threads, args.workers)
        print(f"{'N':>7}{'seconds':>9}{'main anon MB':>14}{'ratio':>7}{'worker private MB':>19}")
        for r in rows:
            ratio = r["main"] / rows[0]["main"]
            print(
                f"{r['n']:>7}{r['seconds']:>9.1f}{r['main'] / 1024:>14.0f}{ratio:>6.2f}x"
                f"{r['worker'] / 1024:>19.0f}"
            )
        # the main process is where an O(N) buffer would live; workers hold a few batches
        flat = all(r["main"] <= 1.25 * rows[0]["main"] for r in rows) and all(
            r["worker"] <= 1.25 * rows[0]["worker"] + 16 * 1024 for r in rows
        )
        print(f"flat (main <= 1.25x of N={rows[0]['n']}; workers <= 1.25x + 16 MB): {flat}")

        # (b) data pipeline alone; one torch thread, as in a loader worker (small per-image
        # torch ops with several threads measure the thread pool, not the pipeline)
        torch.set_num_threads(1)
        tiny_t = load_model(str(tiny)).transform
        sub = ds.select(range(args.pipeline_images))
        print(
            f"\n(b) data pipeline: decode + resize + crop of {len(sub)} JPEGs, batch {args.batch_size}"
        )
        start = time.perf_counter()
        n = sum(len(x) for x in reference_batches(sub, tiny_t, args.batch_size))
        ref_rate = n / (time.perf_counter() - start)
        print(f"{'reference loop (PIL + transform per image)':<44}{ref_rate:>8.0f} img/s   1.00x")
        for w in (0, 1, 2):
            rate = pipeline_rate(sub, tiny_t, w, args.batch_size)
            print(f"{f'library, {w} worker(s)':<44}{rate:>8.0f} img/s {rate / ref_rate:>6.2f}x")

        # (b) end to end vs forward only, (c) exactness
        torch.set_num_threads(args.threads)
        loaded = load_model(str(vit))
        params = sum(q.numel() for q in loaded.model.parameters()) / 1e6
        e2e = ds.select(range(args.e2e_images))
        print(
            f"\n(b) end to end on a ViT ({params:.1f} M params, 224 px, patch 16), "
            f"{len(e2e)} images, batch {args.batch_size}"
        )
        model = loaded.model.eval()
        pre = list(reference_batches(e2e, loaded.transform, args.batch_size))
        with torch.inference_mode():
            logits_of(model, pre[0][:2])  # warm-up
            start = time.perf_counter()
            ref_pred = np.concatenate([logits_of(model, x).argmax(-1).numpy() for x in pre])
            t_fwd = time.perf_counter() - start
        cfg = EvalConfig(batch_size=args.batch_size, num_workers=args.workers)
        start = time.perf_counter()
        (ev,) = evaluate([model], loaded.transform, [part_of(e2e)], config=cfg)
        t_e2e = time.perf_counter() - start
        fwd, end = len(e2e) / t_fwd, len(e2e) / t_e2e
        print(f"{'forward only (pre-decoded batches)':<44}{fwd:>8.1f} img/s   1.00")
        print(f"{f'evaluate(), {args.workers} workers':<44}{end:>8.1f} img/s {end / fwd:>6.2f}")
        same = np.array_equal(ev["mini-val"].predictions, ref_pred)
        print(
            f"\n(c) evaluate() predictions == reference loop (PIL decode + transform per "
            f"image), CPU fp32: {same} ({int((ev['mini-val'].predictions == ref_pred).sum())}"
            f"/{len(ref_pred)})"
        )
        if not same:
            raise SystemExit("prediction mismatch between the reference loop and evaluate()")


if __name__ == "__main__":
    main()
