"""Train a checked fine-tuning job stage by stage and publish its final model.

A `FinetuneJob` exists only once every refusal has happened (`finetune._prepare`): the
method, licence, label space, head, split and sources are checked and the training rows
are open. `train_job` then runs each stage (one for most methods, LP then FT for LP-FT)
under the run folder's lock:

- a finished intermediate stage (``stages/<stage>/``) is reloaded, not retrained;
- a stage resumes from its last complete Trainer checkpoint, which every process takes
  from the main one;
- a stage whose weights are not finite stops the run before anything is finalized;
- the final model, its origin (``rib_model.json``) and ``train_summary.json`` are
  published by the main process, with every process's weight checksum in the summary.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .run_folder import LOG_FILE, is_main, start, trim_log
from .state import revision_of, state_checksum

if TYPE_CHECKING:
    from .data.loading import SplitPart
    from .data.stream import ImageRows
    from .methods import Method, SetupContext
    from .models import LoadedModel
    from .training import TrainConfig


@dataclass(frozen=True)
class FinetuneJob:
    """A checked run, ready to train: `stages` of `method` on `train_rows` into `run_dir`."""

    run_dir: Path
    resolved: dict[str, Any]  # the run's rib_config.json
    loaded: LoadedModel  # the pretrained model (a copy, trained in place)
    method: Method
    stages: Sequence[Any]
    train: TrainConfig
    train_rows: ImageRows
    part: SplitPart
    protocol: Any
    context: SetupContext
    dataset: str
    resume: bool
    callbacks: Sequence[Any]


def train_job(job: FinetuneJob) -> LoadedModel:
    """Train every stage of `job`, publish the final model; the finalized `LoadedModel`."""
    loaded, steps, trainer, started = job.loaded, 0, None, False
    for i, stage in enumerate(job.stages):
        intermediate = len(job.stages) > 1 and i < len(job.stages) - 1
        stage_dir = job.run_dir / "stages" / stage.name
        if intermediate and job.resume and (stage_dir / "rib_model.json").exists():
            from .methods.weights import load_module

            loaded = dataclasses.replace(loaded, model=load_module(stage_dir)[0])
            continue
        trainer = _train_stage(job, stage, loaded, started=started)
        started = True
        steps += trainer.state.global_step
        loaded = dataclasses.replace(loaded, model=_finalize(trainer, stage))
        if intermediate and is_main():
            from .methods.weights import save_module
            from .paths import atomic_dir

            with atomic_dir(stage_dir) as tmp:
                save_module(loaded.model, tmp, {"stage": stage.name})
        trainer.accelerator.wait_for_everyone()
    _publish(job, loaded, steps, trainer)
    return loaded


def _train_stage(job: FinetuneJob, stage: Any, loaded: LoadedModel, *, started: bool) -> Any:
    """Set up `stage` (module, regularisers, Trainer), resume it where it stopped, train it."""
    from transformers import set_seed

    from .checkpoints import last_complete_checkpoint
    from .trainer import build_trainer

    set_seed(job.train.seed)
    module = stage.method.prepare(loaded, stage.config)
    regs = stage.method.regularisers(loaded, stage.config, job.context)
    ckpt, log_path = job.run_dir / "checkpoints" / stage.name, job.run_dir / LOG_FILE
    trainer = build_trainer(
        module,
        job.train_rows,
        job.protocol.reduce,
        job.train,
        ckpt,
        transform=loaded.transform,
        regularisers=regs,
        epochs=stage.epochs,
        log_path=log_path,
        stage=stage.name,
        callbacks=job.callbacks,
    )
    if not started:  # the first trained stage's module and Trainer (regularisers) are set up
        start(job.run_dir, job.resolved, job.resume)
    last = last_complete_checkpoint(ckpt) if job.resume and is_main() else None
    last = _broadcast(last, trainer)
    if is_main():
        trim_log(log_path, stage.name, int(last.rsplit("-", 1)[-1]) if last else 0)
    trainer.train(resume_from_checkpoint=last)
    return trainer


def _finalize(trainer: Any, stage: Any) -> Any:
    """The stage's trained module, checked finite (a diverged run is never finalized)."""
    from .training import check_finite_weights

    trained = trainer.accelerator.unwrap_model(trainer.model)
    check_finite_weights(trained, trainer.args)
    return stage.method.finalize(trained, stage.config)


def _publish(job: FinetuneJob, loaded: LoadedModel, steps: int, trainer: Any) -> None:
    """Write the final model, its origin and the summary (main process); all ranks wait."""
    import numpy as np
    from accelerate.utils import gather_object

    from .run_folder import publish_final
    from .training import check_finite_weights

    final = loaded.model.eval()
    if trainer is not None:
        check_finite_weights(final, trainer.args)
    checksums = gather_object([state_checksum(final)])
    info = {
        "name": f"{loaded.name}@{job.method.name}:{job.dataset}",
        "base_model": loaded.name,
        "base_revision": revision_of(loaded),  # as `rib run` records it
        "kind": loaded.kind,
        "label_space": loaded.label_space,
        "transform": loaded.transform.to_dict(),
        "method": job.method.name,
    }
    if is_main():
        counts = np.bincount(job.part.targets, minlength=job.protocol.num_targets)
        summary = {
            "global_steps": steps,
            "num_train_images": len(job.train_rows),
            "weight_checksums": checksums,
            "ranks_agree": len(set(checksums)) == 1,
            "class_counts": counts.tolist(),
        }
        publish_final(job.run_dir, final, info, summary)
    if trainer is not None:
        trainer.accelerator.wait_for_everyone()


def _broadcast(value: Any, trainer: Any) -> Any:
    """The main process's `value` on every process (the checkpoint every rank resumes)."""
    if trainer.accelerator.num_processes == 1:
        return value
    from accelerate.utils import broadcast_object_list

    return broadcast_object_list([value])[0]
