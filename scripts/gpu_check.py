"""One prepared check of the evaluation and training engine on a CUDA GPU (`gpu_check.sh`).

On a machine with one CUDA GPU and no internet it finishes in a few minutes and prints:

1. forward-only bf16 images/s of ViT-B/16 (timm ``vit_base_patch16_224``, random weights)
   at batch 256;
2. end-to-end `evaluation.evaluate` images/s on ~20k synthetic ImageNet-sized JPEGs
   (500 x 375) with CPU loader workers, and with GPU (nvJPEG) decoding, each as a
   fraction of forward-only;
3. prediction agreement of bf16 vs fp32 (TF32 off) and of GPU vs CPU decoding;
4. a few bf16 fine-tuning steps of ``ft``, ``lora``, ``ewc``, ``lwf`` on ViT-B/16 (the
   transformers implementation of the same architecture): ms/step and peak GPU memory;
5. WiSE-FT after a GPU baseline in one benchmark run (`sweep.run`, what ``rib run`` does),
   checking that alpha = 0 scores as the baseline and alpha = 1 as the fine-tuned run;
6. the projected time of a full 4.0 M-image row (one model on every ImageNet-RIB test image).

``--smoke`` runs every step with tiny sizes on whatever device there is (CPU included): the
test suite calls it so this script cannot rot. Random weights make the accuracies
meaningless; the agreements compare predictions, not accuracies.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROW_IMAGES = 4_000_000  # one ImageNet-RIB row: every test image of the suite, once


@dataclass(frozen=True)
class Sizes:
    images: int  # synthetic JPEGs for the end-to-end evaluation
    width: int
    height: int
    batch: int
    forward_iters: int
    agree_images: int  # images of the bf16-vs-fp32 comparison
    steps: int  # fine-tuning steps per method
    train_batch: int
    suite_rows: int  # rows of each synthetic suite dataset
    classes: int  # ImageNet classes the synthetic rows are labelled with (round robin)
    fisher_samples: int
    timm: dict[str, Any] = field(default_factory=dict)  # vit_base_patch16_224 overrides
    hf: dict[str, Any] = field(default_factory=dict)  # transformers ViTConfig


VIT_B = dict(
    image_size=224,
    patch_size=16,
    hidden_size=768,
    num_hidden_layers=12,
    num_attention_heads=12,
    intermediate_size=3072,
)
FULL = Sizes(20_000, 500, 375, 256, 10, 5_000, 10, 64, 2_000, 100, 64, {}, VIT_B)
SMOKE = Sizes(
    48,
    64,
    48,
    8,
    2,
    48,
    2,
    8,
    40,
    10,
    8,
    dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2),
    dict(
        image_size=32,
        patch_size=8,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
    ),
)


def say(text: str) -> None:
    print(text, flush=True)


def _jpegs(args: tuple[int, int, int, int]) -> list[bytes]:
    """`n` smooth random-texture JPEGs of width x height (seeded)."""
    from PIL import Image

    seed, n, width, height = args
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        base = rng.integers(0, 256, (max(1, height // 10), max(1, width // 10), 3), dtype=np.uint8)
        img = Image.fromarray(base).resize((width, height), Image.BICUBIC)
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=90)
        out.append(buf.getvalue())
    return out


def make_images(n: int, width: int, height: int) -> list[bytes]:
    from multiprocessing import Pool

    from imagenet_rib.data.stream import available_cores

    chunks = [(s, min(500, n - s), width, height) for s in range(0, n, 500)]
    if len(chunks) == 1:
        return _jpegs(chunks[0])
    with Pool(available_cores()) as pool:
        return [b for part in pool.map(_jpegs, chunks) for b in part]


def save_rows(blobs: list[bytes], path: Path, name: str, classes: int) -> Path:
    """The rows in the shared schema, labelled over the first `classes` ImageNet classes."""
    import datasets

    from imagenet_rib.data.labels import get_label_space
    from imagenet_rib.data.schema import features

    space = get_label_space("imagenet-1k")
    labels = [i % classes for i in range(len(blobs))]
    cols = {
        "image": [{"bytes": b, "path": None} for b in blobs],
        "label": labels,
        "wnid": [space.wnids[c] for c in labels],
        "id": [f"{name}/{i}" for i in range(len(blobs))],
        "group": [f"{name}/{i}" for i in range(len(blobs))],
        "class_name": [space.wnids[c] for c in labels],
        "corruption": [""] * len(blobs),
        "severity": [0] * len(blobs),
    }
    datasets.Dataset.from_dict(cols, features=features(space)).save_to_disk(str(path))
    return path


class TimmClassifier(torch.nn.Module):
    """timm's ViT-B/16 (random weights) called like the library's models (``pixel_values=``)."""

    def __init__(self, **overrides: Any) -> None:
        import timm

        super().__init__()
        self.net = timm.create_model(
            "vit_base_patch16_224", pretrained=False, num_classes=1000, **overrides
        )

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.net(pixel_values)


def save_hf_vit(path: Path, hf: dict[str, Any], crop: int) -> Path:
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor

    from imagenet_rib.data.labels import get_label_space

    wnids = get_label_space("imagenet-1k").wnids  # a head that names its classes
    id2label = dict(enumerate(wnids))
    label2id = {n: i for i, n in id2label.items()}
    torch.manual_seed(0)
    config = ViTConfig(num_labels=1000, id2label=id2label, label2id=label2id, **hf)
    ViTForImageClassification(config).save_pretrained(path)
    ViTImageProcessor(
        size={"shortest_edge": int(crop / 0.9)},
        crop_size={"height": crop, "width": crop},
        do_center_crop=True,
        resample=3,
        image_mean=[0.5] * 3,
        image_std=[0.5] * 3,
    ).save_pretrained(path)
    return path


def sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_memory(device) -> str:
    if device.type != "cuda":
        return "n/a (CPU)"
    return f"{torch.cuda.max_memory_allocated(device) / 2**30:.1f} GiB"


class StepTimer:
    """TrainerCallback: wall time of every optimizer step."""

    def __init__(self, device) -> None:
        self.device, self.times, self._t = device, [], 0.0

    def __getattr__(self, name: str):
        if name.startswith("on_"):
            return lambda *a, **k: None
        raise AttributeError(name)

    def on_step_begin(self, *a, **k) -> None:
        sync(self.device)
        self._t = time.perf_counter()

    def on_step_end(self, *a, **k) -> None:
        sync(self.device)
        self.times.append(time.perf_counter() - self._t)


def forward_only(model, sizes: Sizes, crop: int, device) -> float:
    x = torch.randn(sizes.batch, 3, crop, crop, device=device)
    with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16):
        for _ in range(2):
            model(pixel_values=x)
        sync(device)
        start = time.perf_counter()
        for _ in range(sizes.forward_iters):
            model(pixel_values=x)
        sync(device)
    return sizes.batch * sizes.forward_iters / (time.perf_counter() - start)


def timed_eval(model, transform, part, cfg) -> tuple[float, np.ndarray]:
    from imagenet_rib.evaluation import evaluate

    start = time.perf_counter()
    (ev,) = evaluate([model], transform, [part], config=cfg)
    return len(part) / (time.perf_counter() - start), ev[part.name].predictions


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--smoke", action="store_true", help="tiny sizes, any device (CPU included)")
    p.add_argument("--out", default="/tmp/rib-gpu-check", help="scratch folder (data, runs, cache)")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    os.environ["IMAGENET_RIB_CACHE"] = str(out / "cache")  # Fisher cache etc.: scratch only

    import datasets
    from transformers.utils import logging as hf_logging

    from imagenet_rib.data.labels import get_label_space
    from imagenet_rib.data.loading import SplitPart
    from imagenet_rib.data.protocol import full_protocol
    from imagenet_rib.data.splits import SplitConfig
    from imagenet_rib.data.stream import available_cores
    from imagenet_rib.evaluation import EvalConfig
    from imagenet_rib.transforms import ImageTransform

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    datasets.disable_progress_bars()
    cuda = torch.cuda.is_available()
    if not args.smoke and not cuda:
        raise SystemExit("gpu_check needs a CUDA GPU; run `scripts/gpu_check.sh --smoke` on a CPU")
    sizes = SMOKE if args.smoke else FULL
    device = torch.device("cuda" if cuda else "cpu")
    begin = time.perf_counter()
    where = torch.cuda.get_device_name(device) if cuda else "CPU"
    say(
        f"gpu_check{' --smoke' if args.smoke else ''}  {date.today()}  {where}, "
        f"{available_cores()} CPU cores, torch {torch.__version__}"
    )

    # 1. forward only
    crop = sizes.hf["image_size"]
    transform = ImageTransform(
        resize=int(crop / 0.9), crop=crop, mean=(0.5,) * 3, std=(0.5,) * 3
    )  # the augreg ViT-B/16 evaluation transform (crop_pct 0.9, bicubic)
    timm_vit = TimmClassifier(**sizes.timm).to(device).eval()
    n_params = sum(q.numel() for q in timm_vit.parameters()) / 1e6
    fwd = forward_only(timm_vit, sizes, crop, device)
    say(
        f"1. forward only, timm vit_base_patch16_224 ({n_params:.1f} M params), bf16, "
        f"batch {sizes.batch}: {fwd:.0f} img/s"
    )

    # 2. end to end on synthetic JPEGs
    t = time.perf_counter()
    blobs = make_images(sizes.images, sizes.width, sizes.height)
    save_rows(blobs, out / "synth-all", "synth-all", sizes.classes)
    ds = datasets.load_from_disk(str(out / "synth-all"))
    say(
        f"   {len(blobs)} JPEGs {sizes.width}x{sizes.height} "
        f"({sum(map(len, blobs)) / len(blobs) / 1e3:.0f} kB each) written in "
        f"{time.perf_counter() - t:.0f} s"
    )
    space = get_label_space("imagenet-1k")
    protocol = full_protocol(space)
    from imagenet_rib.data.specs import get_dataset_spec

    part = SplitPart(
        "synth-all",
        "test",
        ds,
        np.asarray(ds["label"], dtype=np.int64),
        protocol,
        get_dataset_spec("imagenet-val"),
        SplitConfig(rule="none"),
    )
    bf16 = EvalConfig(batch_size=sizes.batch, precision="bf16", device=device.type)
    workers = bf16.workers()
    rate_cpu, pred_cpu = timed_eval(timm_vit, transform, part, bf16)
    say(
        f"2. end to end evaluate(), bf16, CPU decode ({workers} workers): {rate_cpu:.0f} img/s "
        f"= {rate_cpu / fwd:.2f} of forward only"
    )
    rate_gpu = pred_gpu = None
    if cuda:
        gpu = bf16.replace(decode="gpu")
        rate_gpu, pred_gpu = timed_eval(timm_vit, transform, part, gpu)
        say(
            f"   end to end evaluate(), bf16, GPU decode (nvJPEG): {rate_gpu:.0f} img/s "
            f"= {rate_gpu / fwd:.2f} of forward only"
        )
    else:
        say("   GPU decode: skipped (no CUDA device)")

    # 3. agreements
    sub = SplitPart(
        part.name,
        part.part,
        ds.select(range(sizes.agree_images)),
        part.targets[: sizes.agree_images],
        protocol,
        part.spec,
        part.split,
    )
    fp32 = EvalConfig(batch_size=sizes.batch, precision="fp32", device=device.type)
    _, pred_fp32 = timed_eval(timm_vit, transform, sub, fp32)
    agree = float(np.mean(pred_fp32 == pred_cpu[: sizes.agree_images]))
    x = torch.randn(sizes.batch, 3, crop, crop, device=device)
    with torch.inference_mode():
        ref = timm_vit(pixel_values=x).float()
        with torch.autocast(device.type, dtype=torch.bfloat16):
            low = timm_vit(pixel_values=x).float()
    rel = float((low - ref).norm() / ref.norm())
    say(
        f"3. bf16 vs fp32 (TF32 off) top-1 agreement on {sizes.agree_images} images: "
        f"{100 * agree:.2f} % ({len(set(pred_fp32.tolist()))} distinct classes predicted); "
        f"logits relative error {rel:.2e}"
    )
    if pred_gpu is not None:
        say(
            f"   GPU vs CPU decode top-1 agreement on {len(pred_cpu)} images: "
            f"{100 * float(np.mean(pred_gpu == pred_cpu)):.2f} %"
        )
    del timm_vit
    if cuda:
        torch.cuda.empty_cache()

    # 4. fine-tuning steps
    from imagenet_rib.finetune import finetune
    from imagenet_rib.suites import load_suite

    model_dir = save_hf_vit(out / "vit-b16", sizes.hf, crop)
    r = sizes.suite_rows
    sources = {}
    for i, name in enumerate(("synth-a", "synth-b", "synth-val")):
        chunk = blobs[(i * r) % len(blobs) :][:r]
        chunk = chunk if len(chunk) == r else (blobs * (r // len(blobs) + 1))[:r]
        sources[name] = str(save_rows(chunk, out / name, name, sizes.classes))
    suite_yaml = out / "suite.yaml"
    suite_yaml.write_text(
        "name: gpu-check\nlabel_space: imagenet-1k\n"
        f"reference: {{name: synth-val, source: {sources['synth-val']}, title: Synthetic val}}\n"
        "datasets:\n"
        f"  - {{name: synth-a, source: {sources['synth-a']}, title: Synthetic A}}\n"
        f"  - {{name: synth-b, source: {sources['synth-b']}, title: Synthetic B}}\n"
    )
    suite = load_suite(suite_yaml)
    train = dict(
        lr=1e-3,
        warmup_steps=0,
        max_steps=sizes.steps,
        batch_size=sizes.train_batch,
        save_steps=0,
        logging_steps=1,
        mixed_precision="bf16",
        num_workers=min(8, available_cores()),
    )
    configs = {"ewc": {"fisher_dataset": "synth-val", "fisher_samples": sizes.fisher_samples}}
    say(
        f"4. bf16 fine-tuning, transformers ViT-B/16 layout ({sizes.hf['hidden_size']} wide), "
        f"batch {sizes.train_batch}, {sizes.steps} steps, {train['num_workers']} workers"
    )
    for method in ("ft", "lora", "ewc", "lwf"):
        if cuda:
            torch.cuda.reset_peak_memory_stats(device)
        timer = StepTimer(device)
        start = time.perf_counter()
        finetune(
            str(model_dir),
            method,
            "synth-a",
            method_config=configs.get(method),
            train=train,
            split=SplitConfig(rule="none"),
            output_dir=out / "runs" / method,
            resume=False,
            sources=dict(suite.sources),
            callbacks=[timer],
        )
        total = time.perf_counter() - start
        steady = timer.times[1:] or timer.times
        say(
            f"   {method:<5} {1e3 * statistics.median(steady):8.1f} ms/step (median of "
            f"{len(steady)}), first step {1e3 * timer.times[0]:.0f} ms, setup + save "
            f"{total - sum(timer.times):.1f} s, peak GPU memory {peak_memory(device)}"
        )

    # 5. WiSE-FT after a GPU baseline, one benchmark run
    from imagenet_rib.results import ResultStore
    from imagenet_rib.sweep import BenchmarkConfig, run

    config = BenchmarkConfig(
        name="gpu-check",
        suite=str(suite_yaml),
        models=(str(model_dir),),
        methods=("ft", {"name": "wise-ft", "config": {"alphas": [0.0, 0.5, 1.0]}}),
        finetune_datasets=("synth-a",),
        split={"rule": "holdout", "test_fraction": 0.2, "seed": 0},
        train=train,
        output_dir=str(out / "rib-run"),
        eval_batch_size=sizes.batch,
    )
    start = time.perf_counter()
    result = run(config, progress=False)
    store = ResultStore(config.store_path)
    acc = {(r.method, r.variant, r.eval_dataset): r.accuracy for r in store.records()}
    evals = [d for (m, _, d) in acc if m == "pretrained"]
    ok = all(
        acc[("wise-ft", "alpha=0.0", d)] == acc[("pretrained", "", d)]
        and acc[("wise-ft", "alpha=1.0", d)] == acc[("ft", "", d)]
        for d in evals
    )
    prov = json.loads(store.records()[0].provenance)
    say(
        f"5. rib run (baseline, ft, wise-ft alphas 0/0.5/1) on {prov.get('device')}: "
        f"{len(result.executed)} runs, {len(store)} records in {time.perf_counter() - start:.0f} s; "
        f"alpha 0 == baseline and alpha 1 == ft on all {len(evals)} datasets: {ok}"
    )
    if not ok:
        raise SystemExit("WiSE-FT end points do not match the baseline / fine-tuned run")

    # 6. projection
    best = max(r for r in (rate_cpu, rate_gpu) if r)
    say(
        f"6. projected full row ({ROW_IMAGES / 1e6:.1f} M images, one model) on this machine: "
        f"{ROW_IMAGES / rate_cpu / 3600:.2f} h with CPU decode"
        + (f", {ROW_IMAGES / rate_gpu / 3600:.2f} h with GPU decode" if rate_gpu else "")
        + f" (best {ROW_IMAGES / best / 3600:.2f} h)"
    )
    say(f"done in {time.perf_counter() - begin:.0f} s")


if __name__ == "__main__":
    main()
