"""``--config FILE.yaml`` on every command: a YAML file of the command's own options.

The keys are the command's long flags without ``--`` (``learning-rate`` or
``learning_rate``) and its positional arguments by name; the values are what the flag
takes (a list for a repeatable or multi-value option, ``true`` for a switch, a mapping for
``method-config`` or ``data``). Options given on the command line win over the file::

    # finetune.yaml
    model: mini-vit-clean
    method: lora
    dataset: mini-sketch
    output-dir: runs/lora-sketch
    method-config: {rank: 4}
    learning-rate: 1.0e-3
    split-seed: 1

    rib finetune --config finetune.yaml --split-seed 2     # the file, with seed 2

The file is applied to the parser before parsing (its values become the options'
defaults), so the parser's own checks (types, choices, required options) and the config
dataclasses' validation run on its values exactly as on flags. Commands whose input is a
benchmark config (``rib run CONFIG``; ``--config`` of ``rib demo``, ``rib otdd`` and
``rib report``) keep that meaning of ``--config``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..errors import ConfigError

HELP = (
    "YAML file of this command's options: keys are its long flags without '--' and its "
    "positional arguments by name; options on the command line win over the file"
)
#: set on a sub-parser (``p.set_defaults(**NO_OPTIONS_FILE)``) whose input is a benchmark config
NO_OPTIONS_FILE = {"_no_options_file": True}


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The sub-parsers of `parser` by command name ({} for a leaf command)."""
    # argparse keeps its actions in `_actions`; the sub-parsers action is the only way in
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def leaf_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every command that runs something (``rib finetune``, ``rib datasets build`` ...)."""
    subs = subcommands(parser)
    if not subs:
        return [parser]
    return [leaf for sub in subs.values() for leaf in leaf_parsers(sub)]


def _option_actions(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """File key -> action: each long flag without '--' (dashes as underscores), positionals."""
    keys: dict[str, argparse.Action] = {}
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction) or action.dest == "config":
            continue
        names = [s for s in action.option_strings if s.startswith("--")] or [action.dest]
        for name in names:
            keys[name.lstrip("-").replace("-", "_")] = action
    return keys


def add_options_files(parser: argparse.ArgumentParser) -> None:
    """Give every command without a ``--config`` of its own the options-file ``--config``."""
    for leaf in leaf_parsers(parser):
        has_config = any("--config" in a.option_strings for a in leaf._actions)
        if not has_config and not leaf.get_default("_no_options_file"):
            leaf.add_argument("--config", default=None, metavar="FILE.yaml", help=HELP)
            leaf.set_defaults(_options_file=True)


def apply_options_file(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    """Make the values of the command's ``--config FILE.yaml`` (if any) its options' defaults."""
    leaf, rest = parser, list(argv)
    while names := subcommands(leaf):
        i = next((i for i, tok in enumerate(rest) if tok in names), None)
        if i is None:
            return  # no command given: argparse says so
        leaf, rest = names[rest[i]], rest[i + 1 :]
    if not leaf.get_default("_options_file"):
        return  # no options file: rib run CONFIG, or a --config of the command's own
    pre = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    pre.add_argument("--config", default=None)
    path = pre.parse_known_args(rest)[0].config
    if path is None:
        return
    from ..config import read_yaml

    data = read_yaml(path, what="options file") or {}
    command = leaf.prog
    if not isinstance(data, dict):
        raise ConfigError(
            f"options file {path} holds a {type(data).__name__}, not a mapping of option to "
            f"value; e.g. 'model: mini-vit-clean' on its own line"
        )
    actions = _option_actions(leaf)
    for key, value in data.items():
        action = actions.get(str(key).replace("-", "_"))
        if action is None:
            raise ConfigError(
                f"options file {path}: {command} has no option {key!r}; its options are "
                f"{', '.join(sorted(actions))}"
            )
        _set_default(action, _coerce(action, value, f"options file {path}: {key!r}"))


def _set_default(action: argparse.Action, value: Any) -> None:
    action.default = value
    action.required = False
    if not action.option_strings:  # a positional argument the file gives may be left out
        action.nargs = "*" if action.nargs in ("+", "*") else "?"


def _coerce(action: argparse.Action, value: Any, where: str) -> Any:
    """`value` from YAML as the parser would have produced it from the flag's text."""
    if action.nargs == 0:  # a switch: --opt-in, --no-progress (store_false), --json
        if not isinstance(value, bool):
            raise ConfigError(f"{where} is a switch: give true or false, not {value!r}")
        return action.const if value else action.default
    many = action.nargs in ("+", "*") or isinstance(action, argparse._AppendAction)
    if isinstance(value, dict):  # --method-config {rank: 4}; --data {NAME: FOLDER}
        if isinstance(action, argparse._AppendAction):
            return [f"{k}={v}" for k, v in value.items()]
        value = json.dumps(value)
    if many:
        items = value if isinstance(value, list) else [value]
        return [_scalar(action, v, where) for v in items]
    if isinstance(value, list):
        raise ConfigError(f"{where} takes one value, not the list {value!r}")
    return _scalar(action, value, where)


def _scalar(action: argparse.Action, value: Any, where: str) -> Any:
    from ._args import parse_bool

    convert = action.type or str
    if isinstance(value, bool) and convert is not parse_bool:
        raise ConfigError(f"{where} takes a value, not {value!r}")
    if convert is int and isinstance(value, float):
        raise ConfigError(f"{where} takes a whole number, not {value!r}")
    if not isinstance(value, bool):
        try:
            value = convert(value if convert in (int, float) else str(value))
        except (TypeError, ValueError, argparse.ArgumentTypeError) as err:
            kind = {int: "a whole number", float: "a number"}.get(convert)
            reason = f"takes {kind}, not {value!r}" if kind else f"is invalid: {err}"
            raise ConfigError(f"{where} {reason}") from None
    if action.choices is not None and value not in action.choices:
        choices = ", ".join(map(str, action.choices))
        raise ConfigError(f"{where} is {value!r}; choose one of {choices}")
    return value
