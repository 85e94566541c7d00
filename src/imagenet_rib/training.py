"""Training options and checks: `TrainConfig` (the reference hyperparameters), what makes a
run runnable on this machine (`check_runnable`), and the divergence checks (`diverged_message`,
`check_finite_weights`) that fail a run whose loss or weights stop being finite.

The Trainer itself, with its loss, is `trainer.RIBTrainer`; this module stays light (no
transformers import) so that configs load quickly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .config import ConfigBase, check_choice, check_range, field
from .errors import TrainingDivergedError

if TYPE_CHECKING:
    import torch


logger = logging.getLogger(__name__)

OPTIMIZERS = ("sgd", "adamw")
SCHEDULERS = ("cosine", "linear", "constant", "constant_with_warmup")
PRECISIONS = ("no", "fp16", "bf16")
MAX_AUTO_WORKERS = 4


@dataclass(frozen=True)
class TrainConfig(ConfigBase):
    """Optimisation options; defaults are the reference hyperparameters (SGD momentum 0.9,
    lr 1e-3, cosine schedule with 196 warm-up steps, 10 epochs, batch 64)."""

    optimizer: str = field("sgd", help="'sgd' or 'adamw'")
    lr: float = field(1e-3, help="peak learning rate")
    momentum: float = field(0.9, help="SGD momentum")
    weight_decay: float = field(0.0, help="weight decay")
    scheduler: str = field(
        "cosine",
        help="per-step schedule after warm-up: cosine, linear, constant, constant_with_warmup",
    )
    warmup_steps: int = field(196, help="linear warm-up steps")
    epochs: float = field(10.0, help="training epochs (per stage for multi-stage methods)")
    max_steps: int = field(-1, help="stop after this many optimizer steps (-1: use epochs)")
    batch_size: int = field(
        64,
        help="GLOBAL batch: samples per optimizer step over all processes and accumulation steps",
    )
    gradient_accumulation_steps: int = field(1, help="micro-batches per optimizer step")
    mixed_precision: str = field("no", help="'no', 'fp16' (CUDA) or 'bf16'")
    seed: int = field(0, help="seed of initialisation and data order")
    save_steps: int = field(500, help="checkpoint every N optimizer steps for resuming (0: never)")
    logging_steps: int = field(50, help="log the losses every N optimizer steps")
    num_workers: int = field(
        -1,
        help=f"data-loader worker processes per process, decoding images on the fly (-1: this "
        f"process's share of the available cores, at most {MAX_AUTO_WORKERS}; 0: none)",
    )

    def __post_init__(self) -> None:
        owner = "TrainConfig"
        check_choice(owner, "optimizer", self.optimizer, OPTIMIZERS)
        check_choice(owner, "scheduler", self.scheduler, SCHEDULERS)
        check_choice(owner, "mixed_precision", self.mixed_precision, PRECISIONS)
        check_range(owner, "lr", self.lr, 0, lo_open=True)
        check_range(owner, "momentum", self.momentum, 0, 1, hi_open=True)
        check_range(owner, "weight_decay", self.weight_decay, 0)
        check_range(owner, "warmup_steps", self.warmup_steps, 0)
        check_range(owner, "epochs", self.epochs, 0, lo_open=True)
        check_range(owner, "batch_size", self.batch_size, 1)
        check_range(owner, "gradient_accumulation_steps", self.gradient_accumulation_steps, 1)
        check_range(owner, "save_steps", self.save_steps, 0)
        check_range(owner, "logging_steps", self.logging_steps, 1)
        check_range(owner, "num_workers", self.num_workers, -1)
        if self.max_steps == 0 or self.max_steps < -1:
            check_range(owner, "max_steps", self.max_steps, 1)

    def workers(self) -> int:
        """`num_workers` with -1 resolved for this process (machine-specific: not a result)."""
        from .data.stream import default_workers

        return default_workers(MAX_AUTO_WORKERS) if self.num_workers < 0 else self.num_workers

    def per_device_batch(self, num_processes: int) -> int:
        per = self.batch_size // (num_processes * self.gradient_accumulation_steps)
        if per * num_processes * self.gradient_accumulation_steps != self.batch_size:
            from .errors import ConfigError

            raise ConfigError(
                f"TrainConfig.batch_size={self.batch_size} is not divisible by {num_processes} "
                f"process(es) x {self.gradient_accumulation_steps} accumulation step(s); choose a "
                f"batch size that is a multiple of {num_processes * self.gradient_accumulation_steps}"
            )
        return per


def diverged_message(what: str, args: Any) -> str:
    """Why a run diverged (`what`) and the likely causes for its TrainingArguments `args`."""
    causes = [f"the learning rate (lr={args.learning_rate:g}) is likely too high: lower --lr"]
    if getattr(args, "fp16", False):
        causes.append("fp16 overflow is the other usual cause: use --mixed-precision bf16 or no")
    return (
        f"training diverged: {what}; {'; '.join(causes)}. Nothing was recorded as done; run "
        f"again with the fix (a new --output-dir, or delete this run folder)"
    )


def check_finite_weights(module: torch.nn.Module, args: Any) -> None:
    """Raise `TrainingDivergedError` if any parameter or buffer of `module` is NaN / inf."""
    import torch

    bad = [
        name
        for name, t in module.state_dict().items()
        if t.is_floating_point() and not bool(torch.isfinite(t).all())
    ]
    if bad:
        shown = ", ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
        raise TrainingDivergedError(
            diverged_message(f"{len(bad)} weight tensor(s) are NaN or infinite ({shown})", args)
        )


def check_runnable(cfg: TrainConfig, num_processes: int) -> None:
    """Refuse what this machine / launch cannot run (before anything is written): a batch
    that does not split over the processes and accumulation steps, fp16 without CUDA."""
    import torch

    from .errors import ConfigError

    cfg.per_device_batch(num_processes)
    if cfg.mixed_precision == "fp16" and not torch.cuda.is_available():
        raise ConfigError(
            "mixed_precision='fp16' needs a CUDA device; use --mixed-precision bf16 or no on CPU"
        )
