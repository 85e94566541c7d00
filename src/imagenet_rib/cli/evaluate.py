"""``rib evaluate``: accuracy of pretrained (or any saved) models on a suite's datasets.

Works under ``torchrun`` / ``accelerate launch`` (data-parallel, each sample counted once).
Models that share a transform share each pass over the data; images are decoded on the fly
by loader workers (`EvalConfig` options: workers, precision, decoder, batch size).
"""

from __future__ import annotations

import argparse

from ._args import (
    add_data_argument,
    add_dataclass_arguments,
    add_split_arguments,
    data_sources,
    dataclass_from_args,
    split_from_args,
)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="evaluate models on a suite's datasets with the label protocol",
        description="Evaluate one or more models on datasets of a suite under its label "
        "protocol: registry names, run folders of `rib finetune` / `rib run`, transformers or "
        "timm checkpoint folders, or Hub ids. All models share each pass over the data. With "
        "--store, a fine-tuned model is recorded with its pretrained model, method and "
        "fine-tuning set (read from its run folder, or stated with --base-model, --method and "
        "--finetune-set), and its pretrained baseline is evaluated too unless the store holds "
        "it, so `rib report` scores it. Launch with torchrun/accelerate for data-parallel "
        "evaluation.",
    )
    p.add_argument(
        "--model",
        nargs="+",
        required=True,
        help="model name(s), run folder(s), checkpoint folder(s) or Hub id(s)",
    )
    p.add_argument("--suite", default="mini-rib", help="built-in suite name or suite YAML path")
    p.add_argument(
        "--datasets",
        nargs="+",
        default=None,
        help="datasets to evaluate (default: the suite's datasets and its reference)",
    )
    p.add_argument(
        "--part", default="test", choices=["test", "train"], help="split part to evaluate"
    )
    p.add_argument("--objectnet-rule", default=None, help="ObjectNet rule (default: the suite's)")
    add_data_argument(p)
    p.add_argument("--store", default=None, help="also write the results to this results store")
    p.add_argument(
        "--allow-label-mismatch",
        action="store_true",
        help="accept models whose head's class names (id2label) disagree with their label space",
    )
    p.add_argument(
        "--json", default=None, help="write the accuracies (and correctness) to this JSON file"
    )
    origin = p.add_argument_group(
        "origin of a fine-tuned checkpoint that is not a run folder (applies to every --model "
        "other than a run folder and the --base-model itself)"
    )
    origin.add_argument("--method", default=None, help="its fine-tuning method label (e.g. ft)")
    origin.add_argument(
        "--finetune-set", default=None, help="the suite dataset D_i it was fine-tuned on"
    )
    origin.add_argument(
        "--base-model", default=None, help="the pretrained model it was fine-tuned from"
    )
    origin.add_argument(
        "--base-revision",
        default=None,
        help="the revision of --base-model it started from (default: the one the store holds "
        "or that loads now)",
    )
    origin.add_argument("--seed", type=int, default=None, help="its fine-tuning seed (default 0)")
    add_split_arguments(p)
    from ..evaluation import EvalConfig

    add_dataclass_arguments(p, EvalConfig)
    p.set_defaults(func=run)


def _origins(args: argparse.Namespace) -> list[dict]:
    """Per --model, the origin options it takes: none for run folders and the base model."""
    from pathlib import Path

    from ..models import RUN_MODEL_FILE

    stated = {
        "method": args.method,
        "finetune_set": args.finetune_set,
        "base_model": args.base_model,
        "base_revision": args.base_revision,
        "seed": args.seed,
    }
    if all(v is None for v in stated.values()):
        return [{} for _ in args.model]
    return [
        {}
        if m == args.base_model or (Path(m) / RUN_MODEL_FILE).is_file()
        else {k: v for k, v in stated.items() if v is not None}
        for m in args.model
    ]


def run(args: argparse.Namespace) -> int:
    import json
    import sys

    from .. import distributed
    from ..api import evaluate_checkpoints
    from ..console import library_output
    from ..evaluation import EvalConfig
    from ..suites import load_suite

    distributed.init()
    split = split_from_args(args)
    eval_cfg = dataclass_from_args(EvalConfig, args)
    suite = load_suite(args.suite)
    if args.objectnet_rule:
        suite = suite.replace(objectnet_rule=args.objectnet_rule)
    suite = suite.replace(sources={**suite.sources, **data_sources(args.data)})
    names = args.datasets or list(suite.eval_datasets)
    with library_output():
        results = evaluate_checkpoints(
            args.model,
            suite,
            origins=_origins(args),
            datasets=names,
            split=split,
            part=args.part,
            store=args.store,
            baselines=bool(args.store),
            eval_config=eval_cfg,
            allow_label_mismatch=args.allow_label_mismatch,
            progress=sys.stderr.isatty(),
        )
    if not distributed.is_main_process():
        distributed.barrier()
        return 0
    width = max(len(d) for d in names)
    for ce in results:
        o = ce.origin
        what = "pretrained" if o.pretrained else f"{o.method} on {o.finetune_set}, from {o.model}"
        note = " [its baseline, added for --store]" if ce.added else ""
        print(
            f"{ce.loaded.name}  ({what}; {suite.name}, split {split.rule}, part {args.part}){note}"
        )
        for d in names:
            ev = ce.evals[d]
            print(f"  {d:<{width}}  {ev.accuracy:6.2f} %  ({ev.num_images} images, {ev.protocol})")
    if args.store:
        runs = sum(not ce.origin.pretrained for ce in results)
        print(
            f"stored {sum(len(ce.records) for ce in results)} records ({runs} fine-tuned, "
            f"{len(results) - runs} pretrained) in {args.store}; score them with "
            f"`rib report --store {args.store} --suite {args.suite} --out <folder>`"
        )
    if args.json:
        payload = {
            ce.loaded.name: {d: ev.to_dict(with_correct=True) for d, ev in ce.evals.items()}
            for ce in results
        }
        from pathlib import Path

        from ..paths import atomic_write_text

        atomic_write_text(Path(args.json), json.dumps(payload, indent=1) + "\n")
    distributed.barrier()
    return 0
