"""``rib datasets list | build | verify | card | push``: the dataset registry from the shell.

    rib datasets list
    rib datasets build imagenet-r --src ~/downloads/imagenet-r --out ~/rib-data/imagenet-r
    rib datasets build mini-rib [--force]
    rib datasets verify imagenet-r --source ~/rib-data/imagenet-r      (exit 1 if wrong)
    rib datasets card imagenet-r --source ~/rib-data/imagenet-r --out README.md
    rib datasets push imagenet-r --source ~/rib-data/imagenet-r --namespace my-org

``build`` converts, then verifies (exit 1 when the copy is incomplete or wrong). ``mini-rib``
names the whole Mini-RIB suite for build, verify and push.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Any

from ..data.converters.base import ConvertConfig
from ._args import (
    add_dataclass_arguments,
    add_split_arguments,
    dataclass_from_args,
    split_from_args,
)

MINI_SUITE = "mini-rib"
_FLAGS = {
    "force": "--force",
    "allow_count_mismatch": "--allow-count-mismatch",
    "accept_objectnet_license": "--i-accept-objectnet-license",
}


def _help(cls: type, name: str) -> str:
    return next(f.metadata["help"] for f in dataclasses.fields(cls) if f.name == name)


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "datasets",
        help="list, convert, verify, document and publish datasets",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    p = sub.add_parser("list", help="the registered datasets")
    p.add_argument(
        "--all",
        action="store_true",
        help="also list every ImageNet-C set (imagenet-c/<corruption>/<severity>)",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run_list)

    p = sub.add_parser(
        "build", help="convert an original download (or build the Mini-RIB suite), then verify"
    )
    p.add_argument(
        "name", help=f"registered dataset, or {MINI_SUITE!r} for the whole Mini-RIB suite"
    )
    p.add_argument("--src", help="the extracted download in its original layout")
    p.add_argument(
        "--out", help="output folder (Parquet shards + card); <out>.partial while running"
    )
    add_dataclass_arguments(p, ConvertConfig, skip=(*_FLAGS, "progress"))
    for name, flag in _FLAGS.items():
        p.add_argument(flag, dest=name, action="store_true", help=_help(ConvertConfig, name))
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    p.add_argument(
        "--expected-images", type=int, help="override the registry's image count (partial builds)"
    )
    p.add_argument("--seed", type=int, default=0, help="Mini-RIB suite seed")
    p.set_defaults(func=run_build)

    p = sub.add_parser("verify", help="check counts, class sets and checksums (exit 1 if wrong)")
    p.add_argument("name", help=f"registered dataset, or {MINI_SUITE!r}")
    p.add_argument(
        "--source", help="converted folder or Hub dataset id (default: the configured source)"
    )
    p.add_argument("--expected-images", type=int, help="override the registry's image count")
    p.add_argument("--seed", type=int, default=0, help="Mini-RIB suite seed")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run_verify)

    p = sub.add_parser("card", help="render the dataset card (README.md)")
    p.add_argument("name")
    p.add_argument(
        "--source", help="converted folder or Hub dataset id (default: the configured source)"
    )
    p.add_argument("--repo-id", help="Hub id to show in the loading example")
    p.add_argument("--out", help="write the card here instead of printing it")
    add_split_arguments(p)
    p.set_defaults(func=run_card)

    p = sub.add_parser(
        "push", help="publish a converted (or Mini-RIB) dataset and its card to the Hub"
    )
    p.add_argument("name", help=f"registered dataset, or {MINI_SUITE!r}")
    p.add_argument(
        "--source",
        help="converted folder (default: the configured source; Mini-RIB: the built suite)",
    )
    p.add_argument("--repo-id", help="full Hub id (default: <namespace>/<name>)")
    p.add_argument(
        "--namespace",
        help="Hub user or organisation (default: $IMAGENET_RIB_HUB_NAMESPACE, else the token's user)",
    )
    p.add_argument("--private", action="store_true", help="create a private repo")
    p.add_argument(
        "--no-verify",
        dest="verify",
        action="store_false",
        help="publish even if verification fails",
    )
    add_split_arguments(p)
    p.set_defaults(func=run_push)


def _mini_names() -> list[str]:
    from ..data.mini.build import NAMES

    return list(NAMES)


def _expected(name: str, images: int | None, source: str | None = None) -> Any:
    """The spec's expected counts with `images` images (ObjectNet: the classes of the
    mapping stored in `source`)."""
    if images is None:
        return None
    from ..data.specs import get_dataset_spec

    expected = get_dataset_spec(name).expected(source=source)
    return dataclasses.replace(expected, num_images=images)


def run_list(args: argparse.Namespace) -> int:
    from ..data.protocol import OBJECTNET_RULE_NOTES
    from ..data.specs import DATASETS, get_dataset_spec

    get_dataset_spec("imagenet-val")  # loads the built-in registry modules
    specs = [s for _, s in DATASETS.items() if args.all or not s.parent]
    if args.json:
        rules = {"objectnet_rules": OBJECTNET_RULE_NOTES}
        print(
            json.dumps(
                [
                    s.card_fields() | {"layout": s.layout} | (rules if s.is_objectnet else {})
                    for s in specs
                ],
                indent=2,
            )
        )
        return 0
    print(f"{'name':<22} {'layout':<13} {'classes':>7} {'images':>9}  licence")
    for s in specs:
        flag = "  [opt-in]" if s.requires_opt_in else ""
        images = f"{s.num_images:,}" if s.num_images else "-"
        print(
            f"{s.name:<22} {s.layout:<13} {s.num_classes or '-':>7} {images:>9}  {s.licence[:50]}{flag}"
        )
    if not args.all:
        print(
            "(each ImageNet-C set is also addressable as imagenet-c/<corruption>/<severity>; --all lists them)"
        )
    print("ObjectNet-style datasets are scored with a named rule (--objectnet-rule):")
    for rule, note in OBJECTNET_RULE_NOTES.items():
        print(f"  {rule:<16} {note}")
    return 0


def run_build(args: argparse.Namespace) -> int:
    from ..data.specs import get_dataset_spec

    config = dataclass_from_args(ConvertConfig, args)
    if args.name == MINI_SUITE or get_dataset_spec(args.name).layout == "mini":
        from ..data.mini import build_suite

        root = build_suite(args.seed, force=config.force)
        print(f"Mini-RIB suite at {root}")
        return _verify_names(_mini_names(), None, None, args.seed, False)
    if not args.src or not args.out:
        from ..errors import ConfigError

        raise ConfigError(
            f"building {args.name!r} needs --src <extracted download> and --out <folder>"
        )
    from ..data.converters import convert

    report = convert(
        args.name, args.src, args.out, config, expected=_expected(args.name, args.expected_images)
    )
    print(report.summary())
    return _verify_names([args.name], args.out, args.expected_images, args.seed, False)


def _verify_names(
    names: list[str], source: str | None, images: int | None, seed: int, as_json: bool
) -> int:
    from ..data.verify import verify

    reports = [verify(n, source, expected=_expected(n, images, source), seed=seed) for n in names]
    if as_json:
        print(json.dumps([r.to_dict() for r in reports], indent=2))
    else:
        for r in reports:
            print(r.to_text())
    return 0 if all(r.ok for r in reports) else 1


def run_verify(args: argparse.Namespace) -> int:
    names = _mini_names() if args.name == MINI_SUITE else [args.name]
    return _verify_names(names, args.source, args.expected_images, args.seed, args.json)


def run_card(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..data.dataset_card import dataset_card
    from ..paths import atomic_write_text

    split = split_from_args(args)
    card = dataset_card(args.name, args.source, split, repo_id=args.repo_id)
    if args.out:
        atomic_write_text(Path(args.out), str(card))
        print(f"wrote {args.out}")
    else:
        print(str(card))
    return 0


def run_push(args: argparse.Namespace) -> int:
    from ..data.publish import push_dataset

    split = split_from_args(args)
    names = _mini_names() if args.name == MINI_SUITE else [args.name]
    for name in names:
        result = push_dataset(
            name,
            args.source,
            repo_id=args.repo_id if len(names) == 1 else None,
            namespace=args.namespace,
            private=args.private,
            split=split,
            verify_first=args.verify,
        )
        print(f"pushed {name} to {result.repo_id} ({result.commit[:8]}): {result.url}")
    return 0
