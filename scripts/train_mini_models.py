"""Reproduce the shipped Mini-RIB models: pretrain them (seeded, one torch thread) and checksum them.

    python scripts/train_mini_models.py                 # both, into the package (then commit)
    python scripts/train_mini_models.py --only mini-vit-rich --out models/
    python scripts/train_mini_models.py --check         # retrain in a temp folder, compare

The package ships ``imagenet_rib/models/weights/<name>/`` (safetensors, config, image
processor, rib_pretraining.json) and ``weights/checksums.json``; `load_model(name)` verifies
those checksums. Training on one thread with a fixed seed gives the same bytes on every CPU
of the same instruction set (``rib_pretraining.json`` records it); ``--check`` shows whether
this machine reproduces the shipped weights bit for bit (exit status 1 if not).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from imagenet_rib.mini_pretraining import train_mini_model
from imagenet_rib.models.mini import CHECKSUMS, SOURCES, file_checksums, weights_root
from imagenet_rib.paths import atomic_dir, atomic_write_text


def _train(names: list[str], root: Path, seed: int) -> dict[str, dict[str, str]]:
    sums = {}
    for name in names:
        with atomic_dir(root / name) as tmp:
            info = train_mini_model(name, tmp, seed=seed)
            sums[name] = file_checksums(tmp)
        print(f"{name}: {info['steps']} steps, mini-val accuracy {info['mini_val_accuracy']:.2f} %")
    return sums


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="weights root to write <name>/ and checksums.json into (default: the package's)",
    )
    parser.add_argument("--only", choices=sorted(SOURCES), default=None, help="one model only")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--check",
        action="store_true",
        help="retrain into a temporary folder and compare with the shipped files",
    )
    args = parser.parse_args()
    names = [args.only] if args.only else sorted(SOURCES)
    if args.check:
        shipped = json.loads((weights_root() / CHECKSUMS).read_text())
        with tempfile.TemporaryDirectory() as tmp:
            fresh = _train(names, Path(tmp), args.seed)
        same = True
        for name in names:
            for f, digest in fresh[name].items():
                ok = shipped[name].get(f) == digest
                same &= ok or f == "rib_pretraining.json"  # records this machine's provenance
                print(f"   {name}/{f}: {'identical' if ok else 'DIFFERS'}")
        print("reproduced the shipped weights" if same else "the weights differ from the shipped")
        return 0 if same else 1
    root = args.out or weights_root()
    path = root / CHECKSUMS
    sums = json.loads(path.read_text()) if path.exists() else {}
    sums.update(_train(names, root, args.seed))
    atomic_write_text(path, json.dumps(sums, indent=2, sort_keys=True) + "\n")
    print(f"checksums written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
