"""On a CUDA machine (``make test-all``): the GPU paths of the evaluation engine.

Skipped without CUDA; `scripts/gpu_check.sh` measures the same paths at full size.
"""

from __future__ import annotations

import copy
import io

import numpy as np
import pytest
import torch

from imagenet_rib.data.loading import load_split
from imagenet_rib.data.splits import SplitConfig
from imagenet_rib.data.stream import PartBatches, decode_on_device
from imagenet_rib.evaluation import EvalConfig, evaluate_split
from imagenet_rib.methods import get_method
from imagenet_rib.models import load_model
from imagenet_rib.transforms import ImageTransform
from support.rib_train_helpers import make_model_dir

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]
CUDA = torch.device("cuda")


def test_nvjpeg_decode_is_close_to_the_pil_path():
    import datasets
    from PIL import Image

    rng = np.random.default_rng(0)
    blobs = []
    for _ in range(16):
        base = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
        buf = io.BytesIO()
        Image.fromarray(base).resize((500, 375), Image.BICUBIC).save(buf, "JPEG", quality=90)
        blobs.append(buf.getvalue())
    ds = datasets.Dataset.from_dict(
        {"image": [{"bytes": b, "path": None} for b in blobs]},
        features=datasets.Features({"image": datasets.Image()}),
    )
    t = ImageTransform(resize=248, crop=224, mean=(0.5,) * 3, std=(0.5,) * 3)
    got = decode_on_device(PartBatches([(ds, 0, 16)], t, 16, encoded=True)[0], t, CUDA)
    ref = PartBatches([(ds, 0, 16)], t, 16)[0]["pixel_values"]
    assert got.device.type == "cuda" and got.shape == ref.shape
    assert (got.cpu().int() - ref.int()).abs().float().mean() < 1.5


def test_gpu_evaluation_moves_the_model_back_and_records_its_options(tmp_path):
    loaded = load_model(str(make_model_dir(tmp_path / "m")))
    part = load_split("mini-val", "test", SplitConfig(rule="none"), max_samples=64)
    cpu = evaluate_split(loaded.model, loaded.transform, part, config=EvalConfig(device="cpu"))
    cfg = EvalConfig(device="cuda", precision="fp32", allow_tf32=False, batch_size=16)
    gpu = evaluate_split(loaded.model, loaded.transform, part, config=cfg)
    assert next(loaded.model.parameters()).device.type == "cpu"
    assert np.mean(cpu.predictions == gpu.predictions) >= 0.95
    assert cfg.provenance()["device"] == "cuda"
    bf16 = evaluate_split(
        loaded.model, loaded.transform, part, config=cfg.replace(precision="bf16")
    )
    assert bf16.num_images == 64


def test_wise_ft_of_a_gpu_pretrained_model_and_a_cpu_run(tmp_path):
    pre = load_model(str(make_model_dir(tmp_path / "m")))
    ft = copy.deepcopy(pre.model)
    with torch.no_grad():
        for p in ft.parameters():
            p.add_(0.1)
    pre.model.to(CUDA)
    cfg = get_method("wise-ft").make_config({"alphas": [0.5]})
    ((_, mid),) = get_method("wise-ft").derive(pre, [ft], cfg)
    for n, t in mid.state_dict().items():
        expect = 0.5 * pre.model.state_dict()[n].cpu() + 0.5 * ft.state_dict()[n]
        torch.testing.assert_close(t, expect)
