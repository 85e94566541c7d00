"""A static, self-contained HTML page from the report's Markdown.

The report's Markdown uses a small subset (headings, paragraphs, pipe tables, images,
``- `` bullet lists, fenced code blocks, inline code), so it is converted here without a
Markdown dependency. Images are embedded
as base64 PNG data URIs (one file to share), or linked relatively with ``embed=False``.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

_IMAGE = re.compile(r"^!\[(?P<alt>[^\]]*)\]\((?P<src>[^)]+)\)\s*$")
_CODE = re.compile(r"`([^`]+)`")

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; padding: 0 1rem;
       color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: right; }
th { background: #f2f2f2; }
td:first-child, td:nth-child(2), th:first-child, th:nth-child(2) { text-align: left; }
td.missing { color: #999; background: #fafafa; }
figure { display: inline-block; margin: 0.5rem 1rem 1rem 0; vertical-align: top; }
figure img { max-width: 34rem; border: 1px solid #eee; }
figcaption { font-size: 0.85rem; color: #555; }
code { background: #f5f5f5; padding: 0 0.2rem; }
pre { background: #f5f5f5; padding: 0.5rem; overflow-x: auto; font-size: 0.8rem; }
"""


def _inline(text: str) -> str:
    return _CODE.sub(r"<code>\1</code>", html.escape(text, quote=False))


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _table(lines: list[str], missing: str) -> str:
    header, body = _cells(lines[0]), [_cells(x) for x in lines[2:]]
    out = ["<table>", "<tr>" + "".join(f"<th>{_inline(c)}</th>" for c in header) + "</tr>"]
    for row in body:
        tds = "".join(
            f'<td class="missing">{_inline(c)}</td>' if c == missing else f"<td>{_inline(c)}</td>"
            for c in row
        )
        out.append(f"<tr>{tds}</tr>")
    out.append("</table>")
    return "\n".join(out)


def _image(alt: str, src: str, base: Path, embed: bool) -> str:
    path = base / src
    if embed and path.is_file():
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        src_attr = f"data:image/png;base64,{data}"
    else:
        src_attr = html.escape(src)
    return (
        f'<figure><img src="{src_attr}" alt="{html.escape(alt)}">'
        f"<figcaption>{html.escape(alt)}</figcaption></figure>"
    )


def markdown_to_html(
    markdown: str,
    *,
    base: str | Path = ".",
    embed: bool = True,
    title: str = "ImageNet-RIB report",
    missing: str = "n/a",
) -> str:
    """Convert the report's Markdown subset to a standalone HTML document.

    Args:
        base: folder that relative image paths are resolved against.
        embed: embed images as data URIs (True) or keep the relative links.
        missing: cell text marking a value that was not measured (styled grey).
    """
    base = Path(base)
    lines = markdown.splitlines()
    body: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("|"):
            block = []
            while i < len(lines) and lines[i].startswith("|"):
                block.append(lines[i])
                i += 1
            body.append(_table(block, missing))
            continue
        if line.startswith("```"):
            block = []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                block.append(lines[i])
                i += 1
            body.append(f"<pre><code>{html.escape(chr(10).join(block))}</code></pre>")
            i += 1
            continue
        if line.startswith("- "):
            items = []
            while i < len(lines) and lines[i].startswith("- "):
                items.append(f"<li>{_inline(lines[i][2:])}</li>")
                i += 1
            body.append("<ul>" + "".join(items) + "</ul>")
            continue
        if match := re.match(r"^(#{1,4}) (.*)$", line):
            level = len(match.group(1))
            body.append(f"<h{level}>{_inline(match.group(2))}</h{level}>")
        elif match := _IMAGE.match(line):
            body.append(_image(match["alt"], match["src"], base, embed))
        elif line.strip():
            body.append(f"<p>{_inline(line)}</p>")
        i += 1
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )
