"""``rib methods [NAME ...]``: the registered fine-tuning methods and their options.

    rib methods                 every method (built-in and plugins) with its options
    rib methods lora ewc        only these (a '+' combination shows each part)
    rib methods --json          machine-readable

Options are the fields of each method's ``Config`` dataclass: give them with
``rib finetune --method NAME --method-config KEY=VALUE ...`` or under ``config:`` in a
benchmark entry.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Any

KIND_NOTES = {
    "train": "fine-tuned by `rib finetune` / `rib run`",
    "derived": "computed from finished runs in `rib run`; no training",
    "baseline": "the pretrained model itself",
}


def _type_name(tp: Any) -> str:
    if isinstance(tp, str):  # annotations of `from __future__ import annotations` modules
        return tp
    return tp.__name__ if isinstance(tp, type) else str(tp).replace("typing.", "")


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def method_info(method) -> dict[str, Any]:
    """Name, kind, description, defining module and options of a registered method."""
    options = []
    for f in dataclasses.fields(method.Config):
        default = _default(f)
        options.append(
            {
                "name": f.name,
                "type": _type_name(f.type),
                "default": None if default is dataclasses.MISSING else default,
                "required": default is dataclasses.MISSING,
                "help": f.metadata.get("help", ""),
            }
        )
    return {
        "name": method.name,
        "kind": method.kind,
        "description": method.description,
        "module": type(method).__module__,
        "options": options,
    }


def method_table(kinds: tuple[str, ...]) -> str:
    """One line per registered method of `kinds`: name, (kind,) description (for ``--help``)."""
    from ..methods import METHODS

    width = max(len(name) for name in METHODS.names())
    return "\n".join(
        f"  {m.name:<{width}}  "
        + (f"{m.kind:<{max(map(len, kinds))}}  " if len(kinds) > 1 else "")
        + m.description
        for _, m in METHODS.items()
        if m.kind in kinds
    )


def _selected(names: list[str]) -> list:
    from ..methods import METHODS, get_method

    if not names:
        return [m for _, m in METHODS.items()]
    out = []
    for name in names:
        method = get_method(name)  # unknown names raise with close matches
        out += method.parts if "+" in name else [method]
    return list({m.name: m for m in out}.values())


def _print_method(info: dict[str, Any]) -> None:
    module = info["module"]
    origin = "" if module.startswith("imagenet_rib.") else f"  [plugin: {module}]"
    print(f"{info['name']} ({info['kind']}: {KIND_NOTES[info['kind']]}){origin}")
    print(f"  {info['description']}")
    if not info["options"]:
        print("  no options")
    for opt in info["options"]:
        default = "required" if opt["required"] else f"default {opt['default']!r}"
        print(f"  {opt['name']}: {opt['type']}  ({default})")
        if opt["help"]:
            print(f"      {opt['help']}")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "methods",
        help="list the fine-tuning methods (built-in and plugins) and their options",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("names", nargs="*", metavar="NAME", help="methods to show (default: all)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    infos = [method_info(m) for m in _selected(args.names)]
    if args.json:
        print(json.dumps(infos, indent=2, default=str))
        return 0
    for i, info in enumerate(infos):
        if i:
            print()
        _print_method(info)
    if not args.names:
        print(
            "\ncombine training methods with '+' (e.g. ft+ewc+lwf: the first one's module, "
            "every part's penalty); the options are then {part: {option: value}}"
        )
    from ..plugins import loaded_plugins

    for plugin in loaded_plugins():
        print(f"plugin {plugin.target}: {plugin.origin}")
    return 0
