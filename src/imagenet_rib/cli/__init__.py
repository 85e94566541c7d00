"""`rib`: the command-line interface.

Each sub-command lives in its own module ``cli/<name>.py`` exposing
``add_parser(subparsers)``, which registers an `argparse` sub-parser and sets
``func=<callable(args) -> int>``. Modules are imported lazily only to build the parser;
heavy libraries are imported inside the ``run`` functions so ``rib --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from .. import __version__
from ..errors import RIBError

#: Sub-command modules, in the order ``rib --help`` lists them.
COMMANDS = (
    "demo",
    "datasets",
    "finetune",
    "evaluate",
    "run",
    "report",
    "otdd",
    "card",
    "push",
    "metrics",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rib",
        description="ImageNet-RIB: measure how much robustness survives fine-tuning.",
    )
    parser.add_argument("--version", action="version", version=f"imagenet-rib {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more logging (-vv: debug)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as err:
            if err.name == f"{__name__}.{name}":
                continue  # command not available in this build
            raise
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=[logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)],
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except RIBError as err:
        print(f"rib {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            f"rib {args.command}: interrupted; re-run the same command to resume", file=sys.stderr
        )
        return 130
    finally:
        _shutdown_distributed()


def _shutdown_distributed() -> None:
    """Tear down a process group (accelerate launch / torchrun) before the interpreter exits.

    Exiting with a live gloo/NCCL group can abort a rank with "terminate called without an
    active exception" (SIGABRT) while its C++ threads are still running.
    """
    torch = sys.modules.get("torch")  # never import torch just for this
    if torch is None or not torch.distributed.is_available():
        return
    dist = torch.distributed
    if dist.is_initialized():
        try:
            dist.barrier()
        finally:
            dist.destroy_process_group()
