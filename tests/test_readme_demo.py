"""README.md's demo block is exactly the stored output of `rib demo` (docs/demo_output.txt,
written by `make demo-readme` from a fresh run), and the block tool keeps it that way."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("readme_demo", ROOT / "scripts" / "readme_demo.py")
readme_demo = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(readme_demo)


def test_readme_block_equals_the_stored_demo_output():
    stored = (ROOT / "docs" / "demo_output.txt").read_text()
    assert readme_demo.block_of((ROOT / "README.md").read_text()) == stored


def test_stored_output_is_the_full_demo_with_seeds_gains_otdd_and_findings():
    text = (ROOT / "docs" / "demo_output.txt").read_text()
    assert "== benchmark matrix mini-rib-demo: 242 runs" in text  # the whole matrix
    table = [line for line in text.splitlines() if line.startswith("| mini-vit-")]
    assert len(table) >= 10 and all(line.split("|")[4].strip() == "3" for line in table[:10])
    assert "in-task gain" in text and "95% CI (seeds)" in text
    assert "both models pooled: Pearson r = " in text
    closing = text[text.index("== findings") :]
    assert "mini-vit-rich vs mini-vit-clean pretraining, ft: ΔmRI = " in closing
    assert " s)" not in text and "done in" not in text  # no timings: they go to stderr


def test_sync_replaces_only_the_block_and_is_idempotent(tmp_path):
    old = readme_demo.render("old\nlines")
    readme = f"# t\n\nbefore\n\n{old}\n\nafter\n"
    new = readme_demo.sync(readme, "== new\n| a |\n")
    assert new.startswith("# t\n\nbefore\n\n") and new.endswith("\n\nafter\n")
    assert readme_demo.block_of(new) == "== new\n| a |\n"
    assert readme_demo.sync(new, readme_demo.block_of(new)) == new
    with pytest.raises(SystemExit, match="exactly one"):
        readme_demo.block_of("no markers")
