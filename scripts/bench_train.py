"""Per-step overhead of `RIBTrainer` with each regulariser vs a plain PyTorch loop.

Same model (the Mini-RIB ViT config unless --tiny), same batch size, same optimizer (SGD,
momentum 0.9), measured in the same run; prints the median time per optimizer step and
its ratio to the plain loop. The Trainer's step includes its data pipeline (in-memory uint8
samples -> collate -> normalise on the device), the plain loop reuses one pre-normalised
batch, so the ratio of "trainer (no regulariser)" is the Trainer's own overhead.

    python scripts/bench_train.py [--steps 30] [--batch 64] [--tiny]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def plain_loop(model, x, y, steps: int) -> list[float]:
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-3, momentum=0.9)
    times = []
    model.train()
    for _ in range(steps):
        t = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(model(pixel_values=x).logits, y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - t)
    return times


class UInt8Rows(torch.utils.data.Dataset):
    """Pre-decoded uint8 images as the Trainer's samples (what `ImageRows` yields)."""

    def __init__(self, pixels: np.ndarray, targets: np.ndarray) -> None:
        self.pixels, self.targets = pixels, targets

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int) -> dict:
        return {"pixel_values": torch.from_numpy(self.pixels[i]), "labels": int(self.targets[i])}


class StepTimer:
    def __init__(self) -> None:
        self.times: list[float] = []
        self._t = 0.0

    def __getattr__(self, name):
        if name.startswith("on_"):
            return lambda *a, **k: None
        raise AttributeError(name)

    def on_step_begin(self, *a, **k) -> None:
        self._t = time.perf_counter()

    def on_step_end(self, *a, **k) -> None:
        self.times.append(time.perf_counter() - self._t)


def trainer_steps(
    make_model, regs, pixels, targets, transform, steps: int, batch: int
) -> list[float]:
    from imagenet_rib.data.labels import MINI_DIGITS
    from imagenet_rib.data.protocol import full_protocol
    from imagenet_rib.trainer import build_trainer
    from imagenet_rib.training import TrainConfig

    cfg = TrainConfig(
        batch_size=batch,
        max_steps=steps,
        warmup_steps=0,
        save_steps=0,
        logging_steps=10_000,
        num_workers=0,
    )
    timer = StepTimer()
    with tempfile.TemporaryDirectory() as tmp:
        trainer = build_trainer(
            make_model(),
            UInt8Rows(pixels, targets),
            full_protocol(MINI_DIGITS).reduce,
            cfg,
            Path(tmp),
            transform=transform,
            regularisers=regs,
            callbacks=[timer],
            num_processes=1,
        )
        trainer.train()
    return timer.times


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--tiny", action="store_true", help="the test-size ViT (width 32, depth 2)")
    args = parser.parse_args()

    from transformers import ViTForImageClassification
    from transformers.utils import logging as hf_logging

    from imagenet_rib.methods.ewc import EWCRegulariser
    from imagenet_rib.methods.l2sp import L2SPRegulariser
    from imagenet_rib.methods.lwf import LwFRegulariser
    from imagenet_rib.methods.lwf.config import LwFConfig
    from imagenet_rib.models.mini import image_processor, vit_config
    from imagenet_rib.transforms import from_hf_processor

    hf_logging.set_verbosity_error()
    over = dict(hidden_size=32, num_hidden_layers=2, intermediate_size=64) if args.tiny else {}
    torch.manual_seed(0)
    base = ViTForImageClassification(vit_config(**over))

    def make_model():
        import copy

        return copy.deepcopy(base)

    transform = from_hf_processor(image_processor())
    n = args.batch * (args.steps + args.warmup)
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)
    targets = rng.integers(0, 10, size=n)
    x = transform.normalize(torch.from_numpy(pixels[: args.batch]))
    y = torch.as_tensor(targets[: args.batch])

    def fisher(model):
        return {k: torch.rand_like(p) for k, p in model.named_parameters() if p.requires_grad}

    configs = {
        "trainer (no regulariser)": lambda: [],
        "trainer + l2sp": lambda: [L2SPRegulariser(1.0)],
        "trainer + ewc": lambda: [EWCRegulariser(100.0, fisher)],
        "trainer + lwf": lambda: [LwFRegulariser(LwFConfig())],
        "trainer + ewc + lwf": lambda: [EWCRegulariser(100.0, fisher), LwFRegulariser(LwFConfig())],
    }
    params = sum(p.numel() for p in base.parameters())
    print(
        f"model: ViT {params / 1e6:.3f} M params, batch {args.batch}, {args.steps} timed steps "
        f"(+{args.warmup} warm-up), torch threads {torch.get_num_threads()}"
    )
    base_times = plain_loop(make_model(), x, y, args.steps + args.warmup)[args.warmup :]
    ref = statistics.median(base_times)
    print(f"{'configuration':28s} {'ms/step':>9s} {'ratio':>7s}")
    print(f"{'plain PyTorch loop':28s} {1e3 * ref:9.2f} {1.0:7.2f}")
    for name, regs in configs.items():
        t = trainer_steps(
            make_model, regs(), pixels, targets, transform, args.steps + args.warmup, args.batch
        )
        med = statistics.median(t[args.warmup :])
        print(f"{name:28s} {1e3 * med:9.2f} {med / ref:7.2f}")


if __name__ == "__main__":
    main()
