"""`rib otdd`: the optimal transport dataset distance between two labelled feature sets.

    rib otdd --features-a A.npz --features-b B.npz [OTDDConfig options] [--json out.json]

Each .npz holds `features` (n, d) float and `labels` (n,) int, e.g. pre-logit features saved
by `imagenet_rib.otdd.extract_features`. Prints the distance and its diagnostics.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..errors import DatasetError
from ..otdd.distance import OTDDConfig, OTDDResult
from ._args import add_dataclass_arguments, dataclass_from_args


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "otdd",
        help="optimal transport dataset distance between two labelled feature sets",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument(
        "--features-a",
        type=Path,
        required=True,
        help=".npz with 'features' (n, d) and 'labels' (n,)",
    )
    parser.add_argument(
        "--features-b",
        type=Path,
        required=True,
        help=".npz with 'features' (m, d) and 'labels' (m,)",
    )
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


def run(args: argparse.Namespace) -> int:
    config = dataclass_from_args(OTDDConfig, args)
    result = compute(load_features(args.features_a), load_features(args.features_b), config)
    print(result.summary())
    if args.json is not None:
        args.json.write_text(json.dumps(result.to_dict(), indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0
