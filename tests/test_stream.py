"""The streaming evaluation engine: exact predictions, bounded memory, options and their errors.

The reference everywhere is the previous path spelled out per image: `datasets` decodes the
row to PIL, `ImageTransform.__call__` resizes, crops and normalises, the model scores
batches of the same size.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import datasets
import numpy as np
import pytest
import torch
from PIL import Image

from imagenet_rib.data.loading import load_split
from imagenet_rib.data.splits import SplitConfig
from imagenet_rib.data.stream import (
    ImageRows,
    PartBatches,
    collate_samples,
    decode_image,
    decode_on_device,
)
from imagenet_rib.errors import ConfigError
from imagenet_rib.evaluation import EvalConfig, evaluate, evaluate_split
from imagenet_rib.models import load_model, logits_of
from imagenet_rib.transforms import ImageTransform
from support.rib_train_helpers import make_model_dir

IMAGE = datasets.Features({"image": datasets.Image()})


def reference_predictions(model, transform, part, batch_size: int) -> np.ndarray:
    """The previous path: decode via `datasets`, transform per image, score per batch."""
    out = []
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(part.dataset), batch_size):
            rows = part.dataset.select_columns(["image"])[start : start + batch_size]["image"]
            x = torch.stack([transform(img) for img in rows])
            out.append(part.protocol.reduce(logits_of(model, x)).argmax(-1).numpy())
    return np.concatenate(out)


def _jpeg(rng, size=(96, 72), mode="RGB", **save) -> bytes:
    base = rng.integers(0, 256, (max(1, size[1] // 8), max(1, size[0] // 8), 3), dtype=np.uint8)
    img = Image.fromarray(base).resize(size, Image.BILINEAR).convert(mode)
    buf = io.BytesIO()
    img.save(buf, format=save.pop("format", "JPEG"), **save)
    return buf.getvalue()


def _image_ds(blobs: list[bytes]) -> datasets.Dataset:
    return datasets.Dataset.from_dict(
        {"image": [{"bytes": b, "path": None} for b in blobs]}, features=IMAGE
    )


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return load_model(str(make_model_dir(tmp_path_factory.mktemp("stream") / "model")))


# ------------------------------------------------------------------------------- exactness


@pytest.mark.slow
def test_streaming_equals_the_previous_path_on_mini_rib(tiny_model):
    """Every label protocol of Mini-RIB: full, subset, ObjectNet max-over-mapped, mini-c
    (2 workers; a batch size that divides no part)."""
    names = ("mini-a", "mini-objectnet", "mini-sketch", "mini-c", "mini-val")
    parts = [load_split(n, "test", SplitConfig()) for n in names]
    batch = 37
    cfg = EvalConfig(batch_size=batch, num_workers=2)
    (evals,) = evaluate([tiny_model.model], tiny_model.transform, parts, config=cfg)
    for part in parts:
        ref = reference_predictions(tiny_model.model, tiny_model.transform, part, batch)
        ev = evals[part.name]
        np.testing.assert_array_equal(ev.correct, ref == part.targets)
        assert ev.num_images == len(part) and ev.protocol == part.protocol.rule


def test_several_checkpoints_share_one_pass_and_equal_separate_passes(tiny_model, tmp_path):
    other = load_model(str(make_model_dir(tmp_path / "other", seed=3)))
    part = load_split("mini-val", "test", SplitConfig(rule="none"), max_samples=50)
    cfg = EvalConfig(batch_size=16, num_workers=1)
    both = evaluate([tiny_model.model, other.model], tiny_model.transform, [part], config=cfg)
    for model, ev in zip((tiny_model.model, other.model), both):
        alone = evaluate_split(model, tiny_model.transform, part, config=cfg)
        np.testing.assert_array_equal(ev["mini-val"].correct, alone.correct)
    assert not np.array_equal(both[0]["mini-val"].correct, both[1]["mini-val"].correct)


def test_decoding_matches_datasets_including_exif_orientation_and_odd_modes():
    rng = np.random.default_rng(0)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    blobs = [
        _jpeg(rng),
        _jpeg(rng, mode="L"),
        _jpeg(rng, mode="CMYK"),
        _jpeg(rng, exif=exif.tobytes()),
        _jpeg(rng, format="PNG"),
        _jpeg(rng, mode="RGBA", format="PNG"),
    ]
    ds = _image_ds(blobs)
    for blob, img in zip(blobs, ds["image"]):
        mine = decode_image(blob)
        assert mine.size == img.size and mine.mode == img.mode
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(img))
    assert ds[3]["image"].size == (72, 96)  # the orientation was applied


def test_image_rows_items_batches_and_normalised_items():
    rng = np.random.default_rng(1)
    ds = _image_ds([_jpeg(rng, size=(50 + i, 40)) for i in range(5)])
    t = ImageTransform(resize=36, crop=32, mean=(0.4, 0.5, 0.6), std=(0.2, 0.3, 0.4))
    rows = ImageRows(ds, t, [3, 1, 4, 1, 5])
    one = [rows[i] for i in range(5)]
    many = rows.__getitems__([0, 1, 2, 3, 4])
    for a, b, img in zip(one, many, ds["image"]):
        assert a["pixel_values"].dtype == torch.uint8 and a["pixel_values"].shape == (3, 32, 32)
        assert torch.equal(a["pixel_values"], b["pixel_values"]) and a["labels"] == b["labels"]
        assert torch.equal(t.normalize(a["pixel_values"]), t(img))
    batch = collate_samples(many)
    assert batch["pixel_values"].shape == (5, 3, 32, 32)
    assert batch["labels"].tolist() == [3, 1, 4, 1, 5]
    normed = ImageRows(ds, t, [3, 1, 4, 1, 5], normalize=True)[2]["pixel_values"]
    assert normed.dtype == torch.float32 and torch.equal(normed, t(ds[2]["image"]))


def test_part_batches_cover_each_shard_once_and_never_span_parts():
    ds_a, ds_b = _image_ds([b"x"] * 10), _image_ds([b"y"] * 7)
    t = ImageTransform(resize=8, crop=8, mean=(0.0,) * 3, std=(1.0,) * 3)
    pb = PartBatches([(ds_a, 3, 10), (ds_b, 0, 7)], t, batch_size=3)
    assert pb.plan == [(0, 0, 3), (0, 3, 3), (0, 6, 1), (1, 0, 3), (1, 3, 3), (1, 6, 1)]
    assert len(PartBatches([(ds_a, 5, 5)], t, batch_size=3)) == 0


# ----------------------------------------------------------------------- device decoding


def test_device_decode_path_runs_on_cpu_close_to_pil_and_exact_for_fallbacks():
    """The nvJPEG path's code, run with torchvision's CPU decoder: JPEGs within a few grey
    levels of PIL (resampling differs), everything nvJPEG cannot take decoded exactly."""
    rng = np.random.default_rng(2)
    exif = Image.Exif()
    exif[0x0112] = 3
    blobs = [_jpeg(rng, size=(320, 240), quality=90) for _ in range(6)]
    blobs += [_jpeg(rng, mode="L", size=(200, 260))]
    exact = [_jpeg(rng, format="PNG"), _jpeg(rng, mode="CMYK"), _jpeg(rng, exif=exif.tobytes())]
    ds = _image_ds(blobs + exact)
    for interp in ("bicubic", "bilinear"):
        t = ImageTransform(
            resize=256, crop=224, mean=(0.5,) * 3, std=(0.5,) * 3, interpolation=interp
        )
        enc = PartBatches([(ds, 0, len(ds))], t, 16, encoded=True)[0]
        assert len(enc["jpeg"]) == len(blobs) and enc["pixels_pos"].tolist() == [7, 8, 9]
        got = decode_on_device(enc, t, torch.device("cpu")).int()
        ref = PartBatches([(ds, 0, len(ds))], t, 16)[0]["pixel_values"].int()
        assert got.shape == ref.shape == (10, 3, 224, 224)
        diff = (got - ref).abs()
        assert torch.equal(got[7:], ref[7:])
        assert diff.float().mean() < 0.05 and diff.max() <= 3


def test_gpu_only_options_fail_clearly_without_cuda(tiny_model):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ConfigError, match="decode='gpu'.*CUDA"):
        EvalConfig(decode="gpu").resolved_device()
    with pytest.raises(ConfigError, match="needs CUDA"):
        EvalConfig(device="cuda").resolved_device()
    with pytest.raises(ConfigError, match="not a device"):
        EvalConfig(device="gpu0").resolved_device()
    lanczos = ImageTransform(
        resize=32, crop=32, mean=(0.5,) * 3, std=(0.5,) * 3, interpolation="lanczos"
    )
    from imagenet_rib.data.stream import check_device_transform

    with pytest.raises(ConfigError, match="lanczos"):
        check_device_transform(lanczos)


@pytest.mark.parametrize(
    "bad,match",
    [
        ({"precision": "fp16"}, "precision"),
        ({"decode": "nvjpeg"}, "decode"),
        ({"batch_size": 0}, "batch_size"),
        ({"num_workers": -2}, "num_workers"),
        ({"prefetch_factor": 0}, "prefetch_factor"),
    ],
)
def test_eval_config_rejects_bad_values(bad, match):
    with pytest.raises(ConfigError, match=match):
        EvalConfig(**bad)


# ------------------------------------------------------------------------------ precision


class Recorder(torch.nn.Module):
    """A classifier that records whether it ran under autocast (and in which dtype)."""

    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(3 * 32 * 32, classes)
        self.seen: list[tuple[bool, torch.dtype]] = []

    def forward(self, pixel_values):
        self.seen.append((torch.is_autocast_enabled("cpu"), torch.get_autocast_dtype("cpu")))
        return self.fc(pixel_values.flatten(1))


def test_bf16_autocast_is_applied_on_cpu_and_recorded():
    part = load_split("mini-val", "test", SplitConfig(rule="none"), max_samples=20)
    t = ImageTransform(resize=32, crop=32, mean=(0.5,) * 3, std=(0.5,) * 3, resize_mode="exact")
    model = Recorder()
    for precision, expect in (("fp32", False), ("bf16", True)):
        model.seen.clear()
        cfg = EvalConfig(batch_size=8, num_workers=0, precision=precision)
        evaluate_split(model, t, part, config=cfg)
        assert len(model.seen) == 3 and all(on == expect for on, _ in model.seen)
        if expect:
            assert {dt for _, dt in model.seen} == {torch.bfloat16}
        assert cfg.provenance()["precision"] == precision
    prov = EvalConfig(precision="bf16", allow_tf32=True).provenance()
    assert prov == {
        "precision": "bf16",
        "allow_tf32": False,  # TF32 only exists on CUDA
        "decode": "cpu",
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "batch_size": 256,
    }


def test_evaluation_puts_the_callers_module_back_as_it_was():
    part = load_split("mini-val", "test", SplitConfig(rule="none"), max_samples=8)
    t = ImageTransform(resize=32, crop=32, mean=(0.5,) * 3, std=(0.5,) * 3, resize_mode="exact")
    model = Recorder().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    evaluate_split(model, t, part, config=EvalConfig(num_workers=0))
    assert model.training and next(model.parameters()).device.type == "cpu"
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


# --------------------------------------------------------------------------------- memory

RSS_SCRIPT = textwrap.dedent(
    """
    import json, sys, threading, time
    import datasets, torch
    from imagenet_rib.data.loading import SplitPart
    from imagenet_rib.data.protocol import full_protocol
    from imagenet_rib.data.labels import MINI_DIGITS
    from imagenet_rib.data.splits import SplitConfig
    from imagenet_rib.data.specs import get_dataset_spec
    from imagenet_rib.evaluation import EvalConfig, evaluate
    from imagenet_rib.models import load_model

    def anon_kb():
        for line in open("/proc/self/status"):
            if line.startswith("RssAnon:"):
                return int(line.split()[1])

    peak = [anon_kb()]
    done = threading.Event()
    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], anon_kb())
            time.sleep(0.005)
    threading.Thread(target=sample, daemon=True).start()
    torch.set_num_threads(1)
    ds = datasets.load_from_disk(sys.argv[1])
    protocol = full_protocol(MINI_DIGITS)
    part = SplitPart("mini-val", "test", ds, torch.zeros(len(ds), dtype=torch.int64).numpy(),
                     protocol, get_dataset_spec("mini-val"), SplitConfig(rule="none"))
    loaded = load_model(sys.argv[2])
    base = anon_kb()
    (ev,) = evaluate([loaded.model], loaded.transform, [part],
                     config=EvalConfig(batch_size=32, num_workers=int(sys.argv[3])))
    done.set()
    print(json.dumps({"n": ev["mini-val"].num_images, "base_kb": base, "peak_kb": peak[0]}))
    """
)


def _jpeg_dataset(path: Path, n: int) -> Path:
    rng = np.random.default_rng(n)
    blobs = [_jpeg(rng, size=(256, 200), quality=85) for _ in range(n)]
    _image_ds(blobs).save_to_disk(str(path))
    return path


def _tree(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*") if p.is_file()}


def _model_224(path: Path) -> Path:
    """A 30 k-parameter ViT with an ImageNet-style transform (shortest edge 256, crop 224)."""
    from transformers import ViTForImageClassification, ViTImageProcessor

    from imagenet_rib.models.mini import vit_config

    torch.manual_seed(0)
    cfg = vit_config(
        image_size=224, patch_size=32, hidden_size=32, num_hidden_layers=1, intermediate_size=64
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


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_evaluation_memory_is_flat_in_n_and_writes_no_n_sized_file(tmp_path):
    """Peak anonymous RSS of evaluating 200 vs 1600 JPEGs (256 x 200 -> 224 px) in a
    subprocess, decoding in the main process (workers run the same code): flat. The previous tensor store held 3 x 224 x 224 bytes per image, +210 MB
    from 200 to 1600 images, far above the bound.

    glibc's dynamic mmap threshold would let its heap keep freed ~19 MB batch buffers
    (a bounded retention that depends on allocation order, not on N); a fixed threshold
    makes RSS track live memory, which is what this test bounds.
    """
    model = _model_224(tmp_path / "model")
    cache = tmp_path / "cache"
    cache.mkdir()
    env = {
        **os.environ,
        "IMAGENET_RIB_CACHE": str(cache),
        "OMP_NUM_THREADS": "1",
        "MALLOC_MMAP_THRESHOLD_": str(1 << 20),
    }
    grew = {}
    for n in (200, 1600):
        data = _jpeg_dataset(tmp_path / f"d{n}", n)
        before = _tree(data)
        proc = subprocess.run(
            [sys.executable, "-c", RSS_SCRIPT, str(data), str(model), "0"],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        assert out["n"] == n
        grew[n] = out["peak_kb"] - out["base_kb"]
        assert _tree(data) == before  # nothing written next to the data
    assert _tree(cache) == {}  # nor in the library's cache
    assert grew[1600] <= 1.25 * grew[200] + 10_000, grew  # kB; the slack absorbs noise


def test_tf32_switches_are_set_for_the_evaluation_and_restored():
    from imagenet_rib.evaluation import fp32_matmuls

    mm = torch.backends.cuda.matmul
    before = mm.fp32_precision
    with fp32_matmuls(True, torch.device("cuda")):
        assert mm.fp32_precision == "tf32"
    with fp32_matmuls(False, torch.device("cuda")):
        assert mm.fp32_precision == "ieee" and torch.backends.cudnn.conv.fp32_precision == "ieee"
    assert mm.fp32_precision == before
    with fp32_matmuls(True, torch.device("cpu")):  # nothing to switch on a CPU
        assert mm.fp32_precision == before
