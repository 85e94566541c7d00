"""Every relative link of README.md and docs/*.md resolves: the file exists, and a
``#fragment`` names a heading of the target (GitHub's anchor rules)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = sorted([REPO / "README.md", *(REPO / "docs").glob("*.md")])
FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s*\[[^\]]+\]:\s*(\S+)", re.M)
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)


def _prose(text: str) -> str:
    """The page without code blocks and inline code (links there are not links)."""
    return CODE.sub("", FENCE.sub("", text))


def anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as '-', and
    '-1', '-2', ... for repeated headings."""
    seen: dict[str, int] = {}
    out = set()
    for title in HEADING.findall(FENCE.sub("", page.read_text())):
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", title).replace("`", "")
        slug = re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def links(page: Path) -> list[str]:
    prose = _prose(page.read_text())
    return LINK.findall(prose) + REFERENCE.findall(prose)


def _relative(target: str) -> bool:
    return not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) and not target.startswith("//")


def broken_links(page: Path) -> list[str]:
    broken = []
    for target in links(page):
        if not _relative(target):
            continue
        path, _, fragment = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"{target}: no file {dest}")
        elif fragment and dest.suffix == ".md" and fragment.lower() not in anchors(dest):
            broken.append(f"{target}: no heading #{fragment} in {dest.name}")
    return broken


def test_the_checker_finds_broken_links(tmp_path):
    (tmp_path / "other.md").write_text(
        "# Other page\n\n## Set-up & use (`rib`)\n\n## Set-up & use (`rib`)\n"
    )
    page = tmp_path / "page.md"
    page.write_text(
        "# Title\n\nSee [ok](other.md#set-up--use-rib), [second](other.md#set-up--use-rib-1), "
        "[self](#title), [web](https://example.org/x.md), ![img](missing.png), "
        "[gone](nowhere.md), [bad anchor](other.md#setup), `[code](ignored.md)`\n\n"
        "```\n[block](ignored.md)\n```\n\n[ref]: also-missing.md\n"
    )
    assert broken_links(page) == [
        f"missing.png: no file {tmp_path / 'missing.png'}",
        f"nowhere.md: no file {tmp_path / 'nowhere.md'}",
        "other.md#setup: no heading #setup in other.md",
        f"also-missing.md: no file {tmp_path / 'also-missing.md'}",
    ]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(page):
    broken = broken_links(page)
    assert not broken, f"{page.name}: " + "; ".join(broken)
