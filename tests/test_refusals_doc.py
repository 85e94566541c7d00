"""README's "What the tool refuses" is the bad-input catalogue the tests run."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location(
        "gen_refusals", ROOT / "scripts" / "gen_refusals.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_lists_every_catalogue_case():
    gen = _script()
    text = (ROOT / "README.md").read_text()
    assert "## What the tool refuses" in text
    assert gen.updated(text) == text, (
        "README's refusal list is out of date: run `python scripts/gen_refusals.py`"
    )
    from test_bad_inputs import CASES

    block = text[text.index(gen.BEGIN) : text.index(gen.END)]
    assert all(f"`{c.name}`" in block for c in CASES)
