"""``rib metrics list | push``: the shipped `evaluate` metric modules (rib, otdd).

    rib metrics list
    rib metrics push --namespace my-org            # Spaces my-org/rib and my-org/otdd

After a push, ``evaluate.load("my-org/rib")`` loads the module from the Hub; offline,
``evaluate.load(imagenet_rib.metrics.path("rib"))`` loads the installed copy.
"""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "metrics",
        help="list the evaluate metric modules or publish them as Hub Spaces",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = sub.add_parser("list", help="the metric modules and their folders")
    p.set_defaults(func=run_list)
    p = sub.add_parser("push", help="publish metric modules as Spaces <namespace>/<metric>")
    p.add_argument(
        "--metric", nargs="+", default=None, help="metrics to publish (default: all of them)"
    )
    p.add_argument(
        "--namespace",
        help="Hub user or organisation (default: $IMAGENET_RIB_HUB_NAMESPACE, else the token's user)",
    )
    p.add_argument("--private", action="store_true", help="create private Spaces")
    p.set_defaults(func=run_push)


def run_list(args: argparse.Namespace) -> int:
    from .. import metrics

    for name in metrics.names():
        print(f"{name:<6} {metrics.path(name)}")
    return 0


def run_push(args: argparse.Namespace) -> int:
    from .. import metrics
    from ..metrics.push import push_metric

    for name in args.metric or metrics.names():
        metrics.path(name)  # an unknown name fails before anything is pushed
    for name in args.metric or metrics.names():
        result = push_metric(name, namespace=args.namespace, private=args.private)
        print(f"pushed {name} to {result.repo_id} ({result.commit[:8]}): {result.url}")
    return 0
