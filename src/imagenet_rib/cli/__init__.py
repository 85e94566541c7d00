"""`rib`: the command-line interface.

Each sub-command lives in its own module ``cli/<name>.py`` exposing
``add_parser(subparsers)``, which registers an `argparse` sub-parser and sets
``func=<callable(args) -> int>``. Modules are imported lazily only to build the parser;
heavy libraries are imported inside the ``run`` functions so ``rib --help`` stays fast.

``--plugin MODULE`` (repeatable, before or after the sub-command) is read before the parser
is built, because plugins add to what the parser lists (``rib finetune --help`` names every
method); see `imagenet_rib.plugins`.

``--config FILE.yaml`` gives any command its options from a YAML file whose keys are the
command's flags (`cli._options_file`); flags on the command line win.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from .. import __version__
from ..errors import RIBError
from ._options_file import add_options_files, apply_options_file

#: Sub-command modules, in the order ``rib --help`` lists them.
COMMANDS = (
    "demo",
    "datasets",
    "methods",
    "finetune",
    "evaluate",
    "run",
    "report",
    "otdd",
    "card",
    "push",
    "leaderboard",
    "metrics",
)
PLUGIN_HELP = (
    "import MODULE first, so the methods, datasets and models it registers are available "
    "(repeatable; may also follow the command; child processes inherit it through "
    "IMAGENET_RIB_PLUGINS)"
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rib",
        description="ImageNet-RIB: measure how much robustness survives fine-tuning.",
        allow_abbrev=False,  # `--plug x` must not pass for the --plugin `_plugin_args` reads
    )
    parser.add_argument("--version", action="version", version=f"imagenet-rib {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more logging (-vv: debug)"
    )
    # parsed by `_plugin_args` before this parser exists; declared here for --help
    parser.add_argument("--plugin", action="append", metavar="MODULE", help=PLUGIN_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").add_parser(sub)
    add_options_files(parser)
    return parser


def _plugin_args(argv: list[str]) -> tuple[list[str], list[str]]:
    """Split ``--plugin MODULE`` (anywhere) from the other arguments: (modules, the rest)."""
    pre = argparse.ArgumentParser(prog="rib", add_help=False, allow_abbrev=False)
    pre.add_argument("--plugin", action="append", default=[], metavar="MODULE", help=PLUGIN_HELP)
    known, rest = pre.parse_known_args(argv)
    return known.plugin, rest


def main(argv: list[str] | None = None) -> int:
    from ..plugins import use_plugins

    modules, argv = _plugin_args(sys.argv[1:] if argv is None else list(argv))
    try:
        use_plugins(modules, origin="given by --plugin")
        parser = build_parser()  # lists the methods: loads the registry and its plugins
        apply_options_file(parser, argv)  # --config FILE.yaml: the options' defaults
    except RIBError as err:
        print(f"rib: error: {err}", file=sys.stderr)
        return 2
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
