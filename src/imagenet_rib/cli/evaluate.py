"""``rib evaluate``: accuracy of pretrained (or any saved) models on a suite's datasets.

Works under ``torchrun`` / ``accelerate launch`` (data-parallel, each sample counted once).
Models that share a transform share each pass over the data; images are decoded on the fly
by loader workers (`EvalConfig` options: workers, precision, decoder, batch size).
"""

from __future__ import annotations

import argparse

from ._args import add_data_argument, add_dataclass_arguments, data_sources, dataclass_from_args


def _add_split_arguments(p: argparse.ArgumentParser) -> None:
    """--split-rule / --test-fraction / --split-seed, with SplitConfig's defaults and help."""
    import dataclasses

    from ..data.splits import SplitConfig

    fields = {f.name: f for f in dataclasses.fields(SplitConfig)}
    for opt, name, tp in (
        ("--split-rule", "rule", str),
        ("--test-fraction", "test_fraction", float),
        ("--split-seed", "seed", int),
    ):
        f = fields[name]
        p.add_argument(
            opt,
            dest=f"split_{name}",
            type=tp,
            default=f.default,
            help=f"{f.metadata['help']} (default: {f.default!r})",
        )


def split_from_args(args: argparse.Namespace):
    from ..data.splits import SplitConfig

    return SplitConfig(
        rule=args.split_rule, test_fraction=args.split_test_fraction, seed=args.split_seed
    )


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="evaluate models on a suite's datasets with the label protocol",
        description="Evaluate one or more models (registry names, local folders or Hub ids) on "
        "datasets of a suite under its label protocol. All models share each pass "
        "over the data. Launch with torchrun/accelerate for data-parallel evaluation.",
    )
    p.add_argument(
        "--model", nargs="+", required=True, help="model name(s), folder(s) or Hub id(s)"
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
    _add_split_arguments(p)
    from ..evaluation import EvalConfig

    add_dataclass_arguments(p, EvalConfig)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from .. import distributed
    from ..errors import ConfigError
    from ..evaluation import EvalConfig, evaluate
    from ..models import load_model
    from ..results import ResultStore
    from ..runs import baseline_spec, make_records, model_revision
    from ..suites import load_suite

    distributed.init()
    split = split_from_args(args)
    eval_cfg = dataclass_from_args(EvalConfig, args)
    suite = load_suite(args.suite)
    if args.objectnet_rule:
        suite = suite.replace(objectnet_rule=args.objectnet_rule)
    suite = suite.replace(sources={**suite.sources, **data_sources(args.data)})
    names = args.datasets or list(suite.eval_datasets)
    unknown = [d for d in names if d not in suite.eval_datasets]
    if unknown:
        raise ConfigError(
            f"dataset(s) {unknown} are not in suite {suite.name!r}; choose from "
            f"{list(suite.eval_datasets)} or pass --suite"
        )
    parts = [suite.part(d, args.part, split) for d in names]
    loaded = [load_model(m, allow_label_mismatch=args.allow_label_mismatch) for m in args.model]
    by_transform: dict = {}  # one pass per distinct transform, shared by its models
    for i, lm in enumerate(loaded):
        by_transform.setdefault(lm.transform, []).append(i)
    evals_of: dict[int, dict] = {}
    for transform, idx in by_transform.items():
        group = evaluate([loaded[i].model for i in idx], transform, parts, config=eval_cfg)
        evals_of.update(zip(idx, group))
    results = [(lm, evals_of[i]) for i, lm in enumerate(loaded)]
    provenance = eval_cfg.provenance()
    if not distributed.is_main_process():
        distributed.barrier()
        return 0
    width = max(len(d) for d in names)
    for lm, evals in results:
        print(f"{lm.name}  ({suite.name}, split {split.rule}, part {args.part})")
        for d in names:
            ev = evals[d]
            print(f"  {d:<{width}}  {ev.accuracy:6.2f} %  ({ev.num_images} images, {ev.protocol})")
    if args.store:
        store = ResultStore(args.store)
        for lm, evals in results:
            rev = model_revision(lm.name, lm)  # the baseline's run id is the one `rib run` plans
            spec = baseline_spec(lm.name, suite, split, rev)
            recs = make_records(
                suite, split, spec, rev, {"method": "pretrained"}, "", evals, provenance
            )
            store.add(recs, {r.key: evals[r.eval_dataset].correct for r in recs})
    if args.json:
        payload = {
            lm.name: {d: ev.to_dict(with_correct=True) for d, ev in evals.items()}
            for lm, evals in results
        }
        from pathlib import Path

        from ..paths import atomic_write_text

        atomic_write_text(Path(args.json), json.dumps(payload, indent=1) + "\n")
    distributed.barrier()
    return 0
