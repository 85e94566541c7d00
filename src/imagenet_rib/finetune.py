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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .console import no_progress_bars
from .data.splits import SplitConfig
from .derived import derived_models
from .errors import ConfigError
from .models.run import load_run
from .run_folder import (  # CONFIG_FILE & co. are re-exported: the run-folder file names
    CONFIG_FILE,
    LOG_FILE,
    SUMMARY_FILE,
    check_folder,
    read_log,
    run_lock,
)
from .state import state_checksum
from .training import TrainConfig

__all__ = [
    "CONFIG_FILE",
    "LOG_FILE",
    "SUMMARY_FILE",
    "FinetuneArgs",
    "FinetuneResult",
    "derived_models",
    "finetune",
    "load_run",
    "run_finetune",
    "state_checksum",
]

if TYPE_CHECKING:
    import torch

    from .finetune_job import FinetuneJob
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


@dataclass(frozen=True, kw_only=True)
class FinetuneArgs:
    """Everything one fine-tuning run needs: what is tuned, how, on what, and where it goes.

    `model` is a name / folder / Hub id or a `LoadedModel` (copied, never trained in place).
    `train` overrides the reference hyperparameters (a `TrainConfig` or a dict of its
    fields). With `resume`, an interrupted run continues from its last checkpoint and a
    finished one is returned without retraining. `source` is where `dataset` is read from;
    `sources` maps other datasets a method reads (the EWC Fisher's reference set) to theirs
    (default: ``IMAGENET_RIB_DATA_*``). `opt_in` must be True to tune on a dataset whose
    licence forbids it (ObjectNet); `callbacks` are extra `TrainerCallback`s (every stage).
    """

    model: str | LoadedModel
    method: str
    dataset: str
    output_dir: str | Path
    method_config: Mapping[str, Any] | None = None
    train: TrainConfig | Mapping[str, Any] | None = None
    split: SplitConfig = DEFAULT_SPLIT
    rule: str | None = None
    max_train_samples: int | None = None
    resume: bool = True
    source: str | None = None
    sources: Mapping[str, str] | None = None
    opt_in: bool = False
    callbacks: Sequence[Any] = ()

    def __post_init__(self) -> None:
        if self.max_train_samples is not None:
            from .config import check_range

            check_range("finetune", "max_train_samples", self.max_train_samples, 1)
        sources = dict(self.sources or {})
        given = sources.get(self.dataset, self.source)
        if self.source is not None and given != self.source:
            raise ConfigError(
                f"two sources for {self.dataset!r}: source={self.source!r} and "
                f"sources[{self.dataset!r}]={given!r}; give one"
            )

    def train_config(self) -> TrainConfig:
        train = self.train
        return train if isinstance(train, TrainConfig) else TrainConfig.from_dict(dict(train or {}))

    def data_source(self) -> str | None:
        """Where the fine-tuning set is read from (`source`, else its entry in `sources`)."""
        return self.source or dict(self.sources or {}).get(self.dataset)


def finetune(model: str | LoadedModel, method: str, dataset: str, **options: Any) -> FinetuneResult:
    """Fine-tune `model` with `method` on the train part of `dataset`; see module docstring.

    `options` are the other fields of `FinetuneArgs` (``output_dir`` is required)::

        finetune("mini-vit-clean", "lora", "mini-sketch", output_dir="runs/lora",
                 method_config={"rank": 4}, train={"epochs": 2})
    """
    given = ("model", "method", "dataset")  # the positional arguments
    names = [f.name for f in dataclasses.fields(FinetuneArgs) if f.name not in given]
    unknown = sorted(set(options) - set(names))
    if unknown or "output_dir" not in options:
        problem = f"unknown option(s) {unknown}" if unknown else "output_dir is required"
        raise ConfigError(f"finetune(): {problem}; the options are {', '.join(names)}")
    return run_finetune(FinetuneArgs(model=model, method=method, dataset=dataset, **options))


def run_finetune(args: FinetuneArgs) -> FinetuneResult:
    """`finetune` with its arguments as one `FinetuneArgs` (what ``rib finetune`` calls)."""
    from .finetune_job import train_job

    with no_progress_bars():
        job = _prepare(args)
        if isinstance(job, FinetuneResult):
            return job
        with run_lock(job.run_dir):
            # again under the lock: another process may have finished it meanwhile
            if _is_finished(job.run_dir, job.resolved, job.resume):
                return _finished(job.run_dir, job.resolved)
            final = train_job(job)
        log = read_log(job.run_dir / LOG_FILE)
        return FinetuneResult(
            job.run_dir, final.model, final.transform, job.method.name, job.resolved, log
        )


def _prepare(args: FinetuneArgs) -> FinetuneJob | FinetuneResult:
    """Check everything that can be checked before the run folder is touched (a refused
    command leaves nothing behind, so the corrected command works); the finished run if
    the folder already holds it."""
    from .data.loading import load_split
    from .data.specs import get_dataset_spec
    from .data.stream import ImageRows
    from .finetune_job import FinetuneJob
    from .methods import SetupContext
    from .run_folder import resolved_config
    from .training import check_runnable

    meth = _trained_method(args.method)
    mcfg = meth.make_config(dict(args.method_config or {}))
    tcfg = args.train_config()
    spec = get_dataset_spec(args.dataset)
    if spec.requires_opt_in and not args.opt_in:
        raise ConfigError(
            f"the licence of {args.dataset!r} forbids tuning model parameters on it; pass "
            f"opt_in=True (--opt-in) only if your use is permitted"
        )
    stages = meth.stages(mcfg)
    loaded = _resolve_model(args.model)
    if loaded.label_space and loaded.label_space != spec.label_space:
        raise ConfigError(
            f"model {loaded.name!r} predicts label space {loaded.label_space!r} but "
            f"{args.dataset!r} is labelled in {spec.label_space!r}; pick a model over "
            f"{spec.label_space!r}"
        )
    check_runnable(tcfg, int(os.environ.get("WORLD_SIZE", "1")))
    sources, source = dict(args.sources or {}), args.data_source()
    protocol = spec.protocol(
        args.rule, source=source
    )  # ObjectNet: the mapping stored with the rows
    resolved = resolved_config(
        loaded, meth.name, mcfg, args.dataset, protocol, args.split, tcfg,
        max_train_samples=args.max_train_samples, source=source, sources=sources,
    )  # fmt: skip
    run_dir = Path(args.output_dir)
    if _is_finished(run_dir, resolved, args.resume):
        logger.info("run %s is finished; not retraining", run_dir)
        return _finished(run_dir, resolved)
    part = load_split(
        args.dataset,
        "train",
        args.split,
        rule=args.rule,
        source=source,
        max_samples=args.max_train_samples,
    )
    # decoded on the fly by the loader's workers; each rank's sampler reads its own shard
    train_rows = ImageRows(part.dataset, loaded.transform, part.targets)
    example = loaded.transform.normalize(train_rows[0]["pixel_values"])
    _check_head(loaded, protocol, example, args.dataset)
    context = SetupContext(
        loaded=loaded,
        split=args.split,
        seed=tcfg.seed,
        sources=sources,
        mixed_precision=tcfg.mixed_precision,
        num_workers=tcfg.workers(),
    )
    return FinetuneJob(
        run_dir=run_dir,
        resolved=resolved,
        loaded=loaded,
        method=meth,
        stages=stages,
        train=tcfg,
        train_rows=train_rows,
        part=part,
        protocol=protocol,
        context=context,
        dataset=args.dataset,
        resume=args.resume,
        callbacks=args.callbacks,
    )


def _trained_method(name: str) -> Any:
    from .methods import get_method

    meth = get_method(name)
    if meth.kind != "train":
        fix = "use derived_models()" if meth.kind == "derived" else "evaluate the pretrained model"
        raise ConfigError(f"method {name!r} is of kind {meth.kind!r} and is not trained; {fix}")
    return meth
