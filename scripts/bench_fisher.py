"""EWC Fisher: batched per-sample gradients (`torch.func` vmap + grad) vs a per-sample loop.

Both estimate the diagonal Fisher F_k = 1/N sum_n (d log p(y_n | x_n) / d theta_k)^2 of
the same model on the same N images and labels (labels sampled once from the model, as the
"sampled" estimator does); the loop is the previous implementation (one backward pass per
image). Prints seconds per image for each, the speed-up, and the maximum relative
difference max_k |F_vec,k - F_loop,k| / max_k |F_loop,k|.

    python scripts/bench_fisher.py [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings
from datetime import date
from pathlib import Path

import numpy as np
import torch


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def loop_fisher(model, x: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    """The previous implementation: one forward + backward pass per image."""
    from imagenet_rib.models import logits_of

    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    fisher = {n: torch.zeros_like(p) for n, p in params.items()}
    for i in range(len(x)):
        logp = torch.log_softmax(logits_of(model, x[i : i + 1]).float(), dim=-1)[0]
        grads = torch.autograd.grad(logp[int(y[i])], list(params.values()), allow_unused=True)
        for (n, _), g in zip(params.items(), grads):
            if g is not None:
                fisher[n] += g.pow(2)
    return {n: f / len(x) for n, f in fisher.items()}


def vit(hidden: int, depth: int, image: int, patch: int):
    from transformers import ViTConfig, ViTForImageClassification

    torch.manual_seed(0)
    cfg = ViTConfig(
        image_size=image,
        patch_size=patch,
        hidden_size=hidden,
        num_hidden_layers=depth,
        num_attention_heads=max(1, hidden // 64),
        intermediate_size=4 * hidden,
        num_labels=1000 if image >= 224 else 10,
    )
    return ViTForImageClassification(cfg).eval()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()

    from transformers.utils import logging as hf_logging

    from imagenet_rib.methods.ewc.fisher import chunk_size, diagonal_fisher, sample_labels

    hf_logging.set_verbosity_error()
    warnings.filterwarnings("ignore", category=UserWarning)
    torch.set_num_threads(args.threads)
    print(
        f"bench_fisher  {date.today()}  {cpu_name()} ({os.cpu_count()} cores), "
        f"{args.threads} torch thread(s), torch {torch.__version__}"
    )
    cases = [
        ("Mini-RIB ViT, 32 px", vit(64, 4, 32, 8), 256),
        ("ViT-S/16-like, 224 px", vit(384, 6, 224, 16), 16),
    ]
    print(
        f"{'model':<24}{'params':>8}{'N':>5}{'chunk':>6}{'loop s/img':>12}"
        f"{'vmap s/img':>12}{'speed-up':>10}{'max rel diff':>14}"
    )
    for name, model, n in cases:
        size = model.config.image_size
        x = torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(1))
        y = sample_labels(model, x, np.random.default_rng(0).random(n))
        n_params = sum(q.numel() for q in model.parameters())
        chunk = chunk_size(n_params, torch.device("cpu"))
        start = time.perf_counter()
        ref = loop_fisher(model, x, y)
        t_loop = (time.perf_counter() - start) / n
        start = time.perf_counter()
        got = diagonal_fisher(model, x, y, kind="empirical", chunk=chunk)
        t_vec = (time.perf_counter() - start) / n
        scale = max(float(t.abs().max()) for t in ref.values())
        diff = max(float((got[k] - ref[k]).abs().max()) for k in ref) / scale
        print(
            f"{name:<24}{n_params / 1e6:>7.2f}M{n:>5}{chunk:>6}{t_loop:>12.4f}{t_vec:>12.4f}"
            f"{t_loop / t_vec:>9.1f}x{diff:>14.1e}"
        )


if __name__ == "__main__":
    main()
