"""``rib finetune``: one model x one method x one dataset -> a run folder.

Runs unchanged under Accelerate for several processes / GPUs / mixed precision::

    accelerate launch --multi_gpu --num_processes 2 -m imagenet_rib finetune \\
        --model vit-b16-augreg-in1k --method lora --dataset imagenet-r --output-dir runs/lora-r

Method options: ``--method-config '{"rank": 4}'`` or ``--method-config rank=4 alpha=2``
(values parsed as JSON where possible). ``--data NAME=FOLDER`` says where a dataset is read
from (the fine-tuning set, or EWC's Fisher reference set ``imagenet-val``). Re-running the
same command resumes an interrupted run from its last checkpoint, or returns a finished one
without retraining.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..errors import ConfigError
from ..training import TrainConfig
from ._args import (
    add_data_argument,
    add_dataclass_arguments,
    add_split_arguments,
    data_sources,
    dataclass_from_args,
    split_from_args,
)


def parse_method_config(items: list[str] | None) -> dict[str, Any]:
    """``['{"rank": 4}']`` or ``['rank=4', 'alpha=2']`` -> dict (values as JSON when they parse)."""
    if not items:
        return {}
    if len(items) == 1 and items[0].lstrip().startswith("{"):
        try:
            out = json.loads(items[0])
        except json.JSONDecodeError as err:
            raise ConfigError(
                f"--method-config is not valid JSON ({err}); e.g. '{{\"rank\": 4}}'"
            ) from None
        return out
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--method-config item {item!r} is not key=value; e.g. rank=4")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def add_parser(subparsers) -> None:
    from .methods import method_table

    p = subparsers.add_parser(
        "finetune",
        help="fine-tune one model with one method on one dataset",
        description=__doc__,
        epilog="training methods (`rib methods NAME` shows their options):\n"
        + method_table(("train",))
        + "\nmethods `rib run` computes without training (not for --method here):\n"
        + method_table(("derived", "baseline")),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", required=True, help="registered model name, local folder or Hub id")
    p.add_argument(
        "--method",
        required=True,
        help="a training method listed below, or several joined by '+' (e.g. 'ft+ewc+lwf')",
    )
    p.add_argument("--dataset", required=True, help="registered dataset to fine-tune on")
    p.add_argument("--output-dir", required=True, help="run folder")
    p.add_argument("--method-config", nargs="+", metavar="JSON|KEY=VALUE", help="method options")
    p.add_argument("--objectnet-rule", default=None, help="ObjectNet rule (default: the dataset's)")
    p.add_argument("--source", default=None, help="local folder or Hub id of the dataset")
    add_data_argument(p)
    p.add_argument(
        "--max-train-samples", type=int, default=None, help="seeded subsample of the train part"
    )
    p.add_argument("--no-resume", action="store_true", help="ignore checkpoints and retrain")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--allow-label-mismatch",
        action="store_true",
        help="accept a model whose head's class names (id2label) disagree with its label space",
    )
    p.add_argument(
        "--opt-in", action="store_true", help="allow tuning on a dataset whose licence restricts it"
    )
    add_dataclass_arguments(p, TrainConfig)
    add_split_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..console import library_output
    from ..finetune import SUMMARY_FILE, FinetuneArgs, run_finetune
    from ..models import load_model
    from ..trainer import TrainProgress

    model = (
        load_model(args.model, allow_label_mismatch=True)
        if args.allow_label_mismatch
        else args.model
    )
    with library_output():  # no library progress bars, chatter or FutureWarnings
        result = run_finetune(
            FinetuneArgs(
                model=model,
                method=args.method,
                dataset=args.dataset,
                output_dir=args.output_dir,
                method_config=parse_method_config(args.method_config),
                train=dataclass_from_args(TrainConfig, args),
                split=split_from_args(args),
                rule=args.objectnet_rule,
                max_train_samples=args.max_train_samples,
                resume=not args.no_resume,
                source=args.source,
                sources=data_sources(args.data),
                opt_in=args.opt_in,
                callbacks=[] if args.no_progress else [TrainProgress()],
            )
        )
    import os

    if int(os.environ.get("RANK", "0")) == 0:
        # the last logged step's loss, else the Trainer's mean over the run (a run shorter than
        # logging_steps); the step count of every stage, from the run's summary
        last = next((r for r in reversed(result.log) if "loss" in r), {})
        mean = next((r for r in reversed(result.log) if "train_loss" in r), {})
        summary = json.loads((result.run_dir / SUMMARY_FILE).read_text())
        print(
            json.dumps(
                {
                    "run_dir": str(result.run_dir),
                    "method": result.method,
                    "final_loss": last.get("loss", mean.get("train_loss")),
                    "steps": summary["global_steps"],
                }
            )
        )
    return 0
