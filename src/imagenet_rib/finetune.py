"""Fine-tune one model with one method on one dataset into a run folder (and reload it).

Run folder layout::

    rib_config.json      the resolved config (model + revision, method + options, dataset,
                         protocol, split, TrainConfig); a folder never takes a different one
    train_log.jsonl      one line per logged step (loss, loss/ce, loss/<regulariser>, lr)
    checkpoints/<stage>/ Trainer checkpoints for resuming (deleted after a successful finish)
    stages/<stage>/      finished intermediate stages (LP of LP-FT), until the run finishes
    model.safetensors, config.json, rib_model.json, [visual_prompt.safetensors],
    preprocessor_config.json
                         the finalized model (LoRA merged), written atomically; a standard
                         HF checkpoint where it can be (`models.checkpoint`)
    train_summary.json   written last: its presence marks a finished run

Works the same under ``accelerate launch`` (every process calls `finetune`; the main one
writes files; ``weight_checksums`` in the summary records every process's final weights).
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .console import no_progress_bars
from .data.splits import SplitConfig
from .derived import derived_models
from .errors import ConfigError
from .models.run import load_run
from .paths import atomic_dir
from .run_folder import (  # CONFIG_FILE & co. are re-exported: the run-folder file names
    CONFIG_FILE,
    LOG_FILE,
    SUMMARY_FILE,
    check_folder,
    is_main,
    read_log,
    run_lock,
    start,
    trim_log,
)
from .state import revision_of, state_checksum
from .training import TrainConfig

__all__ = [
    "CONFIG_FILE",
    "LOG_FILE",
    "SUMMARY_FILE",
    "FinetuneResult",
    "derived_models",
    "finetune",
    "load_run",
    "state_checksum",
]

if TYPE_CHECKING:
    import torch

    from .models import LoadedModel
    from .transforms import ImageTransform

logger = logging.getLogger(__name__)

DEFAULT_SPLIT = SplitConfig()


@dataclass
class FinetuneResult:
    """A finished run: its folder, the finalized model (C-way logits) and what produced it."""

    run_dir: Path
    model: torch.nn.Module
    transform: ImageTransform
    method: str
    config: dict[str, Any]
    log: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_dir": str(self.run_dir),
            "method": self.method,
            "config": self.config,
            "log": self.log,
            "transform": self.transform.to_dict(),
        }


def _resolve_model(model: str | LoadedModel) -> LoadedModel:
    from .models import LoadedModel, load_model

    loaded = load_model(model) if isinstance(model, str) else model
    if not isinstance(loaded, LoadedModel):
        raise ConfigError(f"model must be a name or a LoadedModel, got {type(model).__name__}")
    # never train the caller's module in place: it is the pretrained reference of other runs
    return dataclasses.replace(loaded, model=copy.deepcopy(loaded.model))


def _check_head(loaded: LoadedModel, protocol, example: torch.Tensor, dataset: str) -> None:
    import torch

    from .models import logits_of

    with torch.no_grad():
        logits = logits_of(loaded.model.eval(), example[None])
    try:
        protocol.reduce(logits)
    except ConfigError as err:
        raise ConfigError(f"cannot fine-tune {loaded.name!r} on {dataset!r}: {err}") from None


def _is_finished(run_dir: Path, resolved: dict[str, Any], resume: bool) -> bool:
    """A run folder of this exact config that holds a finished run (and may be reused)."""
    return check_folder(run_dir, resolved) and (run_dir / SUMMARY_FILE).exists() and resume


def _finished(run_dir: Path, resolved: dict[str, Any]) -> FinetuneResult:
    loaded = load_run(run_dir)
    return FinetuneResult(
        run_dir,
        loaded.model,
        loaded.transform,
        resolved["method"],
        resolved,
        read_log(run_dir / LOG_FILE),
    )


def finetune(
    model: str | LoadedModel,
    method: str,
    dataset: str,
    *,
    method_config: dict[str, Any] | None = None,
    train: TrainConfig | dict[str, Any] | None = None,
    split: SplitConfig = DEFAULT_SPLIT,
    rule: str | None = None,
    max_train_samples: int | None = None,
    output_dir: str | Path,
    resume: bool = True,
    source: str | None = None,
    sources: dict[str, str] | None = None,
    opt_in: bool = False,
    callbacks: Sequence[Any] = (),
) -> FinetuneResult:
    """Fine-tune `model` with `method` on the train part of `dataset`; see module docstring.

    `model` is a name / folder / Hub id or a `LoadedModel` (copied, never trained in place).
    `train` overrides the reference hyperparameters. With `resume`, an interrupted run
    continues from its last checkpoint and a finished one is returned without retraining.
    `source` is where `dataset` is read from; `sources` maps other datasets a method reads
    (the EWC Fisher's reference set) to theirs (default: ``IMAGENET_RIB_DATA_*``).
    `opt_in` must be True to tune on a dataset whose licence forbids it (ObjectNet);
    `callbacks` are extra `TrainerCallback`s (every stage).
    """
    with no_progress_bars():
        return _finetune(
            model,
            method,
            dataset,
            method_config=method_config,
            train=train,
            split=split,
            rule=rule,
            max_train_samples=max_train_samples,
            output_dir=output_dir,
            resume=resume,
            source=source,
            sources=sources,
            opt_in=opt_in,
            callbacks=callbacks,
        )


def _finetune(
    model,
    method,
    dataset,
    *,
    method_config,
    train,
    split,
    rule,
    max_train_samples,
    output_dir,
    resume,
    source,
    sources,
    opt_in,
    callbacks,
) -> FinetuneResult:
    from .data.loading import load_split
    from .data.specs import get_dataset_spec
    from .data.stream import ImageRows
    from .methods import SetupContext, get_method
    from .run_folder import resolved_config
    from .training import check_runnable

    meth = get_method(method)
    if meth.kind != "train":
        raise ConfigError(
            f"method {method!r} is of kind {meth.kind!r} and is not trained; "
            f"{'use derived_models()' if meth.kind == 'derived' else 'evaluate the pretrained model'}"
        )
    mcfg = meth.make_config(method_config)
    tcfg = train if isinstance(train, TrainConfig) else TrainConfig.from_dict(dict(train or {}))
    spec = get_dataset_spec(dataset)
    if spec.requires_opt_in and not opt_in:
        raise ConfigError(
            f"the licence of {dataset!r} forbids tuning model parameters on it; pass "
            f"opt_in=True (--opt-in) only if your use is permitted"
        )
    stages = meth.stages(mcfg)
    loaded = _resolve_model(model)
    if loaded.label_space and loaded.label_space != spec.label_space:
        raise ConfigError(
            f"model {loaded.name!r} predicts label space {loaded.label_space!r} but "
            f"{dataset!r} is labelled in {spec.label_space!r}; pick a model over "
            f"{spec.label_space!r}"
        )
    if max_train_samples is not None:
        from .config import check_range

        check_range("finetune", "max_train_samples", max_train_samples, 1)
    check_runnable(tcfg, int(os.environ.get("WORLD_SIZE", "1")))
    sources = dict(sources or {})
    if source is not None and sources.get(dataset, source) != source:
        raise ConfigError(
            f"two sources for {dataset!r}: source={source!r} and sources[{dataset!r}]="
            f"{sources[dataset]!r}; give one"
        )
    source = source or sources.get(dataset)
    protocol = spec.protocol(rule, source=source)  # ObjectNet: the mapping stored with the rows
    resolved = resolved_config(
        loaded, meth.name, mcfg, dataset, protocol, split, tcfg,
        max_train_samples=max_train_samples, source=source, sources=sources,
    )  # fmt: skip
    run_dir = Path(output_dir)
    if _is_finished(run_dir, resolved, resume):
        logger.info("run %s is finished; not retraining", run_dir)
        return _finished(run_dir, resolved)
    # everything that can be checked is checked before the folder is touched: a refused
    # command leaves nothing behind, so the corrected command works
    part = load_split(
        dataset, "train", split, rule=rule, source=source, max_samples=max_train_samples
    )
    # decoded on the fly by the loader's workers; each rank's sampler reads its own shard
    train_ds = ImageRows(part.dataset, loaded.transform, part.targets)
    example = loaded.transform.normalize(train_ds[0]["pixel_values"])
    _check_head(loaded, protocol, example, dataset)
    context = SetupContext(
        loaded=loaded,
        split=split,
        seed=tcfg.seed,
        sources=sources,
        mixed_precision=tcfg.mixed_precision,
        num_workers=tcfg.workers(),
    )
    with run_lock(run_dir):
        # again under the lock: another process may have finished it meanwhile
        if _is_finished(run_dir, resolved, resume):
            return _finished(run_dir, resolved)
        return _train(
            run_dir,
            resolved,
            loaded,
            meth,
            stages,
            tcfg,
            train_ds,
            part,
            protocol,
            context,
            dataset,
            resume,
            callbacks,
        )


def _train(
    run_dir,
    resolved,
    loaded,
    meth,
    stages,
    tcfg,
    train_ds,
    part,
    protocol,
    context,
    dataset,
    resume,
    callbacks,
) -> FinetuneResult:
    import numpy as np

    from .checkpoints import last_complete_checkpoint
    from .methods.weights import save_module
    from .run_folder import publish_final
    from .trainer import build_trainer
    from .training import check_finite_weights

    log_path, ckpt_root = run_dir / LOG_FILE, run_dir / "checkpoints"
    started = False
    steps, trainer = 0, None
    for i, stage in enumerate(stages):
        stage_dir = run_dir / "stages" / stage.name
        if (
            len(stages) > 1
            and i < len(stages) - 1
            and (stage_dir / "rib_model.json").exists()
            and resume
        ):
            from .methods.weights import load_module

            loaded = dataclasses.replace(loaded, model=load_module(stage_dir)[0])
            continue
        from transformers import set_seed

        set_seed(tcfg.seed)
        module = stage.method.prepare(loaded, stage.config)
        regs = stage.method.regularisers(loaded, stage.config, context)
        ckpt = ckpt_root / stage.name
        trainer = build_trainer(
            module,
            train_ds,
            protocol.reduce,
            tcfg,
            ckpt,
            transform=loaded.transform,
            regularisers=regs,
            epochs=stage.epochs,
            log_path=log_path,
            stage=stage.name,
            callbacks=callbacks,
        )
        if not started:  # the stage's module and Trainer (regularisers) are set up
            start(run_dir, resolved, resume)
            started = True
        last = last_complete_checkpoint(ckpt) if resume and is_main() else None
        last = _broadcast(last, trainer)
        if is_main():
            trim_log(log_path, stage.name, int(last.rsplit("-", 1)[-1]) if last else 0)
        trainer.train(resume_from_checkpoint=last)
        steps += trainer.state.global_step
        trained = trainer.accelerator.unwrap_model(trainer.model)
        check_finite_weights(trained, trainer.args)  # a diverged run is never finalized
        final = stage.method.finalize(trained, stage.config)
        loaded = dataclasses.replace(loaded, model=final)
        if i < len(stages) - 1 and is_main():
            with atomic_dir(stage_dir) as tmp:
                save_module(final, tmp, {"stage": stage.name})
        trainer.accelerator.wait_for_everyone()

    from accelerate.utils import gather_object

    final = loaded.model.eval()
    if trainer is not None:
        check_finite_weights(final, trainer.args)
    checksums = gather_object([state_checksum(final)])
    info = {
        "name": f"{loaded.name}@{meth.name}:{dataset}",
        "base_model": loaded.name,
        "base_revision": revision_of(loaded),  # as `rib run` records it
        "kind": loaded.kind,
        "label_space": loaded.label_space,
        "transform": loaded.transform.to_dict(),
        "method": meth.name,
    }
    if is_main():
        summary = {
            "global_steps": steps,
            "num_train_images": len(train_ds),
            "weight_checksums": checksums,
            "ranks_agree": len(set(checksums)) == 1,
            "class_counts": np.bincount(part.targets, minlength=protocol.num_targets).tolist(),
        }
        publish_final(run_dir, final, info, summary)
    if trainer is not None:
        trainer.accelerator.wait_for_everyone()
    return FinetuneResult(run_dir, final, loaded.transform, meth.name, resolved, read_log(log_path))


def _broadcast(value: Any, trainer: Any) -> Any:
    """The main process's `value` on every process (the checkpoint every rank resumes)."""
    if trainer.accelerator.num_processes == 1:
        return value
    from accelerate.utils import broadcast_object_list

    return broadcast_object_list([value])[0]
