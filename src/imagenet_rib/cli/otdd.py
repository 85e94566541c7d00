"""`rib otdd`: optimal transport dataset distances, one pair or a suite's whole vector.

    rib otdd --suite mini-rib --model mini-vit-clean [--model ...] --json otdd.json
    rib otdd --config mini-rib-demo --max-per-class 50 --json otdd.json
    rib otdd --model mini-vit-clean --dataset-a mini-val --dataset-b mini-sketch
    rib otdd --features-a A.npz --features-b B.npz [OTDDConfig options] [--json out.json]

With ``--suite`` (or ``--config``, which gives the suite and its models), the vector
OTDD(reference, D_i) for every dataset D_i of the suite, with each model's own pre-logit
features (the input of its head, as the paper's code collects them) over the split part
``--part`` of both sides: the file ``rib report --otdd`` plots against the degradation.
With ``--dataset-a/-b``, one pair per model. Each .npz holds `features` (n, d) float and
`labels` (n,) int; its file name (without .npz) names the dataset in the JSON. ``--json``
writes the OTDD file format (docs/protocol.md) in every mode.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DatasetError
from ..otdd.distance import OTDDConfig, OTDDResult
from ..otdd.vector import OTDDEntry, OTDDVector
from ._args import add_data_argument, add_dataclass_arguments, data_sources, dataclass_from_args


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "otdd",
        help="optimal transport dataset distances: a suite's OTDD vector, or one pair",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument(
        "--suite",
        default=None,
        help="compute OTDD(reference, D_i) for every dataset of this suite (name or YAML)",
    )
    parser.add_argument(
        "--config",
        default=None,
        help="benchmark config (YAML or built-in name): its suite, split and models",
    )
    parser.add_argument(
        "--model",
        action="append",
        default=[],
        help="extract features with this model (repeatable; default with --config: its models)",
    )
    parser.add_argument("--dataset-a", default=None, help="registered dataset (pair mode)")
    parser.add_argument("--dataset-b", default=None, help="registered dataset (pair mode)")
    parser.add_argument(
        "--features-a", type=Path, default=None, help=".npz with 'features' (n, d), 'labels' (n,)"
    )
    parser.add_argument(
        "--features-b", type=Path, default=None, help=".npz with 'features' (m, d), 'labels' (m,)"
    )
    parser.add_argument(
        "--part",
        default="train",
        choices=["train", "test"],
        help="split part of both sides (default: train)",
    )
    parser.add_argument(
        "--max-per-class",
        type=int,
        default=None,
        help="seeded subsample of at most this many rows per class (suite mode; default: all)",
    )
    parser.add_argument("--batch-size", type=int, default=256, help="feature-extraction batch")
    add_data_argument(parser)
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        help="write the OTDD file (every distance with its label-distance matrix) here",
    )
    add_dataclass_arguments(parser, OTDDConfig)
    parser.set_defaults(func=run)
    return parser


def load_features(path: Path) -> tuple[Any, Any]:
    """(features (n, d), labels (n,)) from an .npz file."""
    import numpy as np

    try:
        with np.load(path) as data:
            missing = [k for k in ("features", "labels") if k not in data.files]
            if missing:
                raise DatasetError(
                    f"{path} lacks {missing}; it holds {data.files}. Save it with "
                    f"np.savez(path, features=X, labels=y)"
                )
            return data["features"], data["labels"]
    except (OSError, ValueError) as err:
        raise DatasetError(
            f"cannot read {path} as .npz ({err}); save it with np.savez(path, features=X, labels=y)"
        ) from None


def compute(a: tuple[Any, Any], b: tuple[Any, Any], config: OTDDConfig) -> OTDDResult:
    """OTDD between two (features, labels) pairs."""
    from ..otdd.distance import otdd

    return otdd(a[0], a[1], b[0], b[1], config)


def _suite_vector(args: argparse.Namespace, config: OTDDConfig) -> OTDDVector:
    from ..otdd.suite import otdd_vector

    if args.dataset_a or args.dataset_b or args.features_a or args.features_b:
        raise ConfigError(
            "--suite/--config compute the whole vector; drop --dataset-a/-b and --features-a/-b"
        )
    suite, models, split = args.suite, list(args.model), None
    if args.config:
        from .run import load_config

        bench = load_config(args.config)
        if suite is not None:
            raise ConfigError("give --suite or --config (which names its suite), not both")
        suite, split = bench.load_suite(), bench.split_config
        models = models or list(bench.models)
    if not models:
        raise ConfigError("--suite needs at least one --model (or use --config for its models)")
    return otdd_vector(
        suite,
        models,
        max_per_class=args.max_per_class,
        part=args.part,
        split=split,
        config=config,
        sources=data_sources(args.data),
        batch_size=args.batch_size,
    )


def _pairs(args: argparse.Namespace, config: OTDDConfig) -> OTDDVector:
    if args.max_per_class is not None:
        raise ConfigError("--max-per-class applies to --suite/--config only")
    if args.model:
        if not (args.dataset_a and args.dataset_b):
            raise ConfigError(
                "--model needs --dataset-a and --dataset-b (registered dataset names), or "
                "--suite for the whole vector"
            )
        from ..data.loading import load_split
        from ..models import load_model
        from ..otdd.suite import part_features

        sources = data_sources(args.data)
        parts = [
            load_split(d, args.part, source=sources.get(d))
            for d in (args.dataset_a, args.dataset_b)
        ]
        entries = []
        for name in args.model:
            loaded = load_model(name)
            a, b = (part_features(loaded, p, batch_size=args.batch_size) for p in parts)
            entries.append(OTDDEntry(name, args.dataset_a, args.dataset_b, compute(a, b, config)))
        return OTDDVector(tuple(entries), None, args.part)
    if args.features_a is None or args.features_b is None:
        raise ConfigError(
            "give --suite (the whole vector), --model with --dataset-a/-b, or --features-a "
            "and --features-b (.npz)"
        )
    a, b = load_features(args.features_a), load_features(args.features_b)
    name_a, name_b = args.features_a.stem, args.features_b.stem
    return OTDDVector((OTDDEntry(None, name_a, name_b, compute(a, b, config)),))


def run(args: argparse.Namespace) -> int:
    config = dataclass_from_args(OTDDConfig, args)
    vector = (_suite_vector if args.suite or args.config else _pairs)(args, config)
    for e in vector.entries:
        model = f" [{e.model}]" if e.model else ""
        if len(vector.entries) == 1:
            print(f"OTDD({e.reference}, {e.dataset}){model}")
            print("  " + e.result.summary().replace("\n", "\n  "))
            continue
        d = e.result.diagnostics
        note = "" if d.get("sinkhorn", {}).get("converged", True) else ", Sinkhorn NOT converged"
        print(
            f"OTDD({e.reference}, {e.dataset}){model} = {e.distance:.6g}  "
            f"({e.result.method}; {d['n_a']} vs {d['n_b']} samples{note})"
        )
    if args.json is not None:
        vector.save(args.json)
        print(f"wrote {args.json}")
    return 0
