"""`rib otdd`: the optimal transport dataset distance between two labelled datasets.

    rib otdd --features-a A.npz --features-b B.npz [OTDDConfig options] [--json out.json]
    rib otdd --model mini-vit-clean --dataset-a mini-val --dataset-b mini-sketch [--part test]

Each .npz holds `features` (n, d) float and `labels` (n,) int. With ``--model``, the features
are the model's pre-logit features (the input of its head, as the paper's code collects them)
streamed over each registered dataset's `--part` (labels: the dataset's classes).
Prints the distance and its diagnostics.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DatasetError
from ..otdd.distance import OTDDConfig, OTDDResult
from ._args import add_data_argument, add_dataclass_arguments, data_sources, dataclass_from_args


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "otdd",
        help="optimal transport dataset distance between two labelled feature sets",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument(
        "--features-a",
        type=Path,
        default=None,
        help=".npz with 'features' (n, d) and 'labels' (n,)",
    )
    parser.add_argument(
        "--features-b",
        type=Path,
        default=None,
        help=".npz with 'features' (m, d) and 'labels' (m,)",
    )
    parser.add_argument("--model", default=None, help="extract features with this model instead")
    parser.add_argument("--dataset-a", default=None, help="registered dataset (with --model)")
    parser.add_argument("--dataset-b", default=None, help="registered dataset (with --model)")
    parser.add_argument("--part", default="test", choices=["train", "test"], help="split part")
    parser.add_argument("--batch-size", type=int, default=256, help="feature-extraction batch")
    add_data_argument(parser)
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        help="also write the full result (with the label-distance matrix) here",
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
    """OTDD between two (features, labels) pairs; the seam for other feature sources."""
    from ..otdd.distance import otdd

    return otdd(a[0], a[1], b[0], b[1], config)


def model_features(
    loaded: Any, dataset: str, part: str, batch_size: int, source: str | None = None
) -> tuple[Any, Any]:
    """Pre-logit features of a `LoadedModel` streamed over `part` of `dataset` (read from
    `source`, default: the environment's), with its targets. Images are decoded on the fly
    by loader workers; nothing is materialised."""
    from ..data.loading import load_split
    from ..data.stream import ImageRows, default_workers, make_loader
    from ..otdd.features import extract_features

    split = load_split(dataset, part, source=source)
    loader = make_loader(
        ImageRows(split.dataset, loaded.transform, split.targets),
        batch_size=batch_size,
        num_workers=default_workers(8),
    )
    batches = ((loaded.transform.normalize(b["pixel_values"]), b["labels"]) for b in loader)
    return extract_features(loaded.model, batches)


def _inputs(args: argparse.Namespace) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    if args.model is not None:
        if not (args.dataset_a and args.dataset_b):
            raise ConfigError(
                "--model needs --dataset-a and --dataset-b (registered dataset names)"
            )
        from ..models import load_model

        loaded = load_model(args.model)
        sources = data_sources(args.data)
        return tuple(  # type: ignore[return-value]
            model_features(loaded, name, args.part, args.batch_size, sources.get(name))
            for name in (args.dataset_a, args.dataset_b)
        )
    if args.features_a is None or args.features_b is None:
        raise ConfigError(
            "give --features-a and --features-b (.npz), or --model with --dataset-a/-b"
        )
    return load_features(args.features_a), load_features(args.features_b)


def run(args: argparse.Namespace) -> int:
    config = dataclass_from_args(OTDDConfig, args)
    a, b = _inputs(args)
    result = compute(a, b, config)
    print(result.summary())
    if args.json is not None:
        args.json.write_text(json.dumps(result.to_dict(), indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0
