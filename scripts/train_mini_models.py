"""Pretrain the Mini-RIB models with the HF Trainer and save them like Hub checkpoints.

    python scripts/train_mini_models.py                    # both, into the library cache
    python scripts/train_mini_models.py --out models/ --only mini-vit-rich

`load_model("mini-vit-clean")` runs the same training on first use; this script does it
explicitly (e.g. to publish the checkpoints) and prints each model's mini-val accuracy.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from imagenet_rib.models.mini import SOURCES, load_mini_model, train_mini_model
from imagenet_rib.paths import atomic_dir


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="folder for the checkpoints (default: the cache)"
    )
    parser.add_argument(
        "--only", choices=sorted(SOURCES), default=None, help="train one model only"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for name in [args.only] if args.only else sorted(SOURCES):
        if args.out is None:
            info = load_mini_model(name, seed=args.seed).info.get("pretraining", {})
        else:
            with atomic_dir(args.out / name) as tmp:
                info = train_mini_model(name, tmp, seed=args.seed)
        print(json.dumps(info, indent=2))


if __name__ == "__main__":
    main()
