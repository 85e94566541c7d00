"""How numbers leave the library: one number formatter, one JSON sanitiser, one table renderer.

Scores, reports, model cards and the CLI all print through these, so a missing value reads
``n/a`` everywhere and a NaN never reaches a JSON file (it becomes ``null``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

#: How a value that was not measured (NaN / None) is printed.
MISSING = "n/a"


def is_missing(value: Any) -> bool:
    """True for None and NaN."""
    if value is None:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def fmt(value: Any, digits: int = 2, *, signed: bool = False) -> str:
    """``value`` with `digits` decimals (``+`` sign if `signed`), or ``n/a`` when missing."""
    if is_missing(value):
        return MISSING
    return f"{float(value):+.{digits}f}" if signed else f"{float(value):.{digits}f}"


def fmt_interval(low: Any, high: Any, digits: int = 2, *, signed: bool = True) -> str:
    """``[low, high]``, or ``n/a`` when either bound is missing."""
    if is_missing(low) or is_missing(high):
        return MISSING
    return f"[{fmt(low, digits, signed=signed)}, {fmt(high, digits, signed=signed)}]"


def json_safe(value: Any) -> Any:
    """A copy of `value` that `json.dumps(..., allow_nan=False)` accepts.

    NaN and infinities become None; numpy scalars and arrays become Python numbers and
    lists; tuples become lists; paths become strings; objects with ``to_dict()`` are
    converted through it.
    """
    import numpy as np

    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, np.bool_):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, np.ndarray):
        return [json_safe(v) for v in value.tolist()]
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_safe(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "to_dict"):
        return json_safe(value.to_dict())
    raise TypeError(f"json_safe cannot convert {type(value).__name__}; give it a to_dict()")


def markdown_table(
    header: Sequence[str], rows: Sequence[Sequence[Any]], *, left: int = 1, pad: bool = True
) -> str:
    """A pipe table. `pad`: padded for terminals, the first `left` columns (names)
    left-aligned and the others (numbers) right-aligned; else one space around each cell."""
    cells = [[str(c) for c in row] for row in rows]
    if not pad:
        lines = [list(header), ["---"] * len(header), *cells]
        return "\n".join("| " + " | ".join(r) + " |" for r in lines)
    widths = [max([len(h), *(len(r[k]) for r in cells)]) for k, h in enumerate(header)]

    def line(row: Sequence[str]) -> str:
        parts = [
            c.ljust(w) if k < left else c.rjust(w) for k, (c, w) in enumerate(zip(row, widths))
        ]
        return "| " + " | ".join(parts) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(list(header)), sep, *(line(r) for r in cells)])
