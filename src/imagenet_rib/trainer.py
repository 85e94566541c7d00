"""The `RIBTrainer`: one `transformers.Trainer` subclass for every fine-tuning method.

For an optimizer step over the micro-batches m = 1..M of all processes, N = sum_m |m|
samples, its loss is

    L = 1/N sum_n CE(reduce(f(x_n)), y_n)  +  1/N sum_n R_n  (per-sample regularisers, LwF)
                                           +  R(theta)       (per-step regularisers, EWC/L2-SP)

``reduce`` is the fine-tuning dataset's label protocol (logits restricted to its label
subset before the softmax, the masked protocol). Each micro-batch contributes its sums
divided by the Trainer's ``num_items_in_batch`` = N (and |m| / N of a per-step penalty), so
gradient accumulation and data parallelism give the gradient of the large batch exactly,
whatever the micro-batch sizes. Regularisers are set up by `RegulariserSetup` at the end of
``Trainer.__init__``, from the pretrained module, before a checkpoint is resumed.

Batches arrive as uint8 images (`data.stream.ImageRows`, decoded by the loader's workers)
and are normalised on the device, x = (u / 255 - mean) / std, in `compute_loss`. The
regularisers run under the Trainer's mixed precision (``accelerator.autocast()``), so the
LwF teacher computes in bf16 when the student does. This module imports transformers'
Trainer: import it only to train (`training` holds the options and checks).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from transformers import Trainer, TrainerCallback

from .errors import TrainingDivergedError
from .models import logits_of
from .training import TrainConfig, check_runnable, diverged_message

if TYPE_CHECKING:
    from .methods.base import Regulariser
    from .transforms import ImageTransform

logger = logging.getLogger(__name__)


def training_arguments(
    cfg: TrainConfig,
    output_dir: Path,
    *,
    num_processes: int = 1,
    epochs: float | None = None,
    rows: int | None = None,
):
    """`transformers.TrainingArguments` for `cfg` (no eval loop, no tqdm, sparse checkpoints);
    `rows`: the training rows each process reads (an automatic worker count follows it)."""
    import torch
    from transformers import TrainingArguments

    from .data.stream import loader_workers

    check_runnable(cfg, num_processes)
    cuda = torch.cuda.is_available()
    return TrainingArguments(
        output_dir=str(output_dir),
        per_device_train_batch_size=cfg.per_device_batch(num_processes),
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        learning_rate=cfg.lr,
        weight_decay=cfg.weight_decay,
        lr_scheduler_type=cfg.scheduler,
        warmup_steps=cfg.warmup_steps,
        num_train_epochs=epochs if epochs is not None else cfg.epochs,
        max_steps=cfg.max_steps,
        seed=cfg.seed,
        data_seed=cfg.seed,
        fp16=cfg.mixed_precision == "fp16",
        bf16=cfg.mixed_precision == "bf16",
        use_cpu=not cuda,
        save_strategy="steps" if cfg.save_steps else "no",
        save_steps=cfg.save_steps or 500,
        save_total_limit=1,
        logging_strategy="steps",
        # a NaN / inf loss must reach `RIBTrainer.log` (which fails the run), not be replaced
        # by the average of the previous losses
        logging_nan_inf_filter=False,
        logging_steps=cfg.logging_steps,
        report_to=[],
        disable_tqdm=True,
        dataloader_num_workers=cfg.workers()
        if rows is None
        else loader_workers(cfg.num_workers, cfg.workers(), rows),
        dataloader_pin_memory=cuda,
        label_names=["labels"],
        remove_unused_columns=False,
        eval_strategy="no",
        log_level="warning",
        ddp_find_unused_parameters=False,
    )


def _optimizer(cfg: TrainConfig) -> tuple[type, dict[str, Any]]:
    import torch

    if cfg.optimizer == "sgd":
        return torch.optim.SGD, {"lr": cfg.lr, "momentum": cfg.momentum}
    return torch.optim.AdamW, {"lr": cfg.lr}


class RegulariserSetup(TrainerCallback):
    """Callback: set every regulariser up from the pretrained module when the Trainer is built
    (``on_init_end``), i.e. before any step and before a checkpoint is resumed."""

    def __init__(self, regularisers: Sequence[Regulariser]) -> None:
        self.regularisers = list(regularisers)

    def on_init_end(self, args, state, control, model=None, **kwargs) -> None:
        for reg in self.regularisers:
            reg.setup(model)


class JsonlLogger(TrainerCallback):
    """Callback: append every log dict (with its step) to ``train_log.jsonl`` on the main process."""

    def __init__(self, path: Path, extra: dict[str, Any] | None = None) -> None:
        self.path, self.extra = Path(path), dict(extra or {})

    def on_log(self, args, state, control, logs=None, **kwargs) -> None:
        if state.is_world_process_zero and logs:
            with open(self.path, "a") as fh:
                fh.write(
                    json.dumps({"step": state.global_step, **self.extra, **logs}, default=float)
                    + "\n"
                )


class TrainProgress(TrainerCallback):
    """Callback: one progress bar per stage on stderr (main process), with the last logged
    loss; the Trainer's own bar and its printed log dicts stay off."""

    def __init__(self, stage: str = "") -> None:
        self.stage, self.bar = stage, None

    def on_train_begin(self, args, state, control, **kwargs) -> None:
        if state.is_world_process_zero:
            from tqdm.auto import tqdm

            desc = f"fine-tuning{' ' + self.stage if self.stage else ''}"
            self.bar = tqdm(
                total=state.max_steps, initial=state.global_step, desc=desc, unit="step"
            )

    def on_step_end(self, args, state, control, **kwargs) -> None:
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)

    def on_log(self, args, state, control, logs=None, **kwargs) -> None:
        if self.bar is not None and logs and "loss" in logs:
            self.bar.set_postfix(loss=f"{logs['loss']:.4g}", refresh=False)

    def on_train_end(self, args, state, control, **kwargs) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class RIBTrainer(Trainer):
    """`Trainer` whose loss is the protocol-restricted CE plus the regularisers' penalties."""

    def __init__(
        self,
        *args: Any,
        reduce: Callable[[torch.Tensor], torch.Tensor],
        transform: ImageTransform,
        regularisers: Sequence[Regulariser] = (),
        **kwargs: Any,
    ) -> None:
        self.reduce = reduce
        self.transform = transform
        self.regularisers = list(regularisers)
        self._terms: dict[str, list] = {}
        callbacks = list(kwargs.pop("callbacks", None) or [])
        super().__init__(
            *args, callbacks=[RegulariserSetup(self.regularisers), *callbacks], **kwargs
        )
        # our compute_loss normalises by num_items_in_batch, so ask the Trainer to count it
        # (it only does for models "accepting loss kwargs") and not to rescale the loss again
        self.model_accepts_loss_kwargs = True

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        import torch

        labels, pixels = inputs["labels"], inputs["pixel_values"]
        if pixels.dtype != torch.uint8:
            from .errors import ConfigError

            raise ConfigError(
                f"RIBTrainer expects uint8 pixel_values (data.stream.ImageRows without "
                f"normalize), got {pixels.dtype}; it normalises them on the device itself"
            )
        x = self.transform.normalize(pixels)  # (B, 3, H, W) float32
        logits = self.reduce(logits_of(model, x))  # (B, K)
        n_local = labels.shape[0]
        scale = 1.0
        if num_items_in_batch is None:
            denom = n_local
        else:
            denom = num_items_in_batch
            if self.args.average_tokens_across_devices and self.accelerator.num_processes > 1:
                scale = float(self.accelerator.num_processes)  # DDP averages over processes
        ce_sum = torch.nn.functional.cross_entropy(logits.float(), labels, reduction="sum")
        loss = ce_sum / denom
        self._track("ce", ce_sum.detach() / n_local)
        plain = self.accelerator.unwrap_model(model)
        for reg in self.regularisers:
            with self.accelerator.autocast():  # the LwF teacher: the student's precision
                pen = reg.penalty(plain, x, logits, self.reduce)
            if reg.per_sample:
                loss = loss + pen.sum() / denom
                self._track(reg.name, pen.detach().mean())
            else:
                loss = loss + pen * (n_local / denom)
                self._track(reg.name, pen.detach())
        loss = loss * scale
        return (loss, logits) if return_outputs else loss

    def _save(self, output_dir: str | None = None, state_dict: dict | None = None) -> None:
        # Checkpoints hold the module's own state-dict keys. transformers 5's save_pretrained
        # converts ViT keys to the legacy layout, which the Trainer's resume path then loads
        # non-strictly (silently missing every layer); raw keys load exactly, for every
        # model kind (HF, timm wrapper, torchvision wrapper, peft, prompt wrapper).
        import os

        import torch
        from safetensors.torch import save_file

        output_dir = output_dir or self.args.output_dir
        os.makedirs(output_dir, exist_ok=True)
        sd = (
            state_dict
            if state_dict is not None
            else self.accelerator.unwrap_model(self.model).state_dict()
        )
        tensors = {k: v.detach().cpu().contiguous().clone() for k, v in sd.items()}
        save_file(tensors, os.path.join(output_dir, "model.safetensors"), metadata={"format": "pt"})
        torch.save(self.args, os.path.join(output_dir, "training_args.bin"))

    def _save_checkpoint(self, model, trial) -> None:
        # staged, then renamed into place in one step (see `checkpoints`)
        from .checkpoints import publish, staging_root

        step = self.state.global_step
        self._staging = str(staging_root(self.args.output_dir, step))
        try:
            super()._save_checkpoint(model, trial)
        finally:
            self._staging = None
        self.accelerator.wait_for_everyone()  # every process wrote its RNG state
        if self.args.should_save:
            publish(self.args.output_dir, step)
        self.accelerator.wait_for_everyone()

    def _get_output_dir(self, trial) -> str:
        staging = getattr(self, "_staging", None)
        return staging if staging else super()._get_output_dir(trial)

    def _track(self, name: str, value: torch.Tensor) -> None:
        self._terms.setdefault(name, []).append(value.float())

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        # reduced over the processes, so every rank stops; an infinite gradient norm is
        # divergence too (clipping then zeroes the step and training silently stalls)
        for key, what in (
            ("loss", "loss"),
            ("train_loss", "loss"),
            ("grad_norm", "gradient norm"),
        ):
            if key in logs and not math.isfinite(logs[key]):
                raise TrainingDivergedError(
                    diverged_message(
                        f"the training {what} is {logs[key]} at step {self.state.global_step}",
                        self.args,
                    )
                )
        if "loss" in logs and self._terms:
            import torch

            for name, values in self._terms.items():
                logs[f"loss/{name}"] = float(torch.stack(values).mean())
            self._terms = {}
        super().log(logs, start_time)


def build_trainer(
    module: torch.nn.Module,
    dataset: Any,
    reduce: Callable,
    cfg: TrainConfig,
    output_dir: Path,
    *,
    transform: ImageTransform,
    regularisers: Sequence[Regulariser] = (),
    epochs: float | None = None,
    log_path: Path | None = None,
    stage: str = "",
    callbacks: Sequence[Any] = (),
    num_processes: int | None = None,
):
    """A ready `RIBTrainer` for one stage (the caller runs ``.train()``).

    `dataset` yields ``{"pixel_values": uint8 (3, H, W), "labels": int}`` samples
    (`data.stream.ImageRows`); `transform` normalises them on the device.
    """
    import os

    n_proc = num_processes or int(os.environ.get("WORLD_SIZE", "1"))
    args = training_arguments(
        cfg, output_dir, num_processes=n_proc, epochs=epochs, rows=len(dataset) // n_proc
    )
    cbs = [
        *([JsonlLogger(log_path, {"stage": stage} if stage else None)] if log_path else []),
        *callbacks,
    ]
    from transformers.trainer_callback import PrinterCallback

    from .data.stream import collate_samples

    trainer = RIBTrainer(
        model=module,
        args=args,
        train_dataset=dataset,
        data_collator=collate_samples,
        reduce=reduce,
        transform=transform,
        regularisers=regularisers,
        optimizer_cls_and_kwargs=_optimizer(cfg),
        callbacks=cbs,
    )
    trainer.remove_callback(PrinterCallback)  # logs go to train_log.jsonl, not stdout
    return trainer
