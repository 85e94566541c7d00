"""docs/cli.md is the generated ``--help`` of every command, and stays true to the parser."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _generator():
    spec = importlib.util.spec_from_file_location(
        "gen_cli_reference", ROOT / "scripts" / "gen_cli_reference.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(
    sys.version_info[:2] != (3, 11),
    reason="argparse's help layout differs between Python versions; docs/cli.md is generated on 3.11",
)
def test_cli_reference_matches_the_parser():
    gen = _generator()
    assert (ROOT / "docs" / "cli.md").read_text() == gen.render(), (
        "docs/cli.md is out of date: run `python scripts/gen_cli_reference.py` (make docs)"
    )


def test_every_command_has_a_section():
    from imagenet_rib.cli import COMMANDS

    text = (ROOT / "docs" / "cli.md").read_text()
    for name in COMMANDS:
        assert f"## `rib {name}`" in text, name
