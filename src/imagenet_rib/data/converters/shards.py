"""One shard of a conversion: decode and convert its images, write a Parquet file atomically.

Runs in worker processes (`engine._run_pool`), so everything here is importable and
picklable at module level.
"""

from __future__ import annotations

import hashlib
import io
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import DatasetError
from ..schema import COLUMNS
from .base import Prepare, Problem, SourceItem


@dataclass(frozen=True)
class ShardTask:
    key: str
    file: str  # relative to the output folder
    items: tuple[SourceItem, ...]
    prepare: Prepare
    on_error: str
    folder: str  # the .partial folder
    schema: Any  # pyarrow.Schema of the shared features


# --------------------------------------------------------------------------- image + shard


def encode_image(path: str, prepare: Prepare) -> bytes:
    """Bytes to store for one source image; raises OSError/ValueError if it cannot be decoded."""
    from PIL import Image, ImageFile

    from ..images import crop_border

    data = Path(path).read_bytes()
    previous, ImageFile.LOAD_TRUNCATED_IMAGES = ImageFile.LOAD_TRUNCATED_IMAGES, False
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()  # a full decode: truncated or corrupt files fail here, not at training time
            keep = not prepare.border_px and im.mode in (
                ("RGB",) if prepare.force_rgb else ("RGB", "L")
            )
            if keep:
                return data
            rgb = im.convert("RGB")
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = previous
    rgb = crop_border(rgb, prepare.border_px)
    buf = io.BytesIO()
    rgb.save(buf, format="PNG")
    return buf.getvalue()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def convert_shard(task: ShardTask) -> dict[str, Any]:
    """Decode, convert and write one shard (runs in a worker process)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from PIL import Image

    cols: dict[str, list] = {c: [] for c in COLUMNS}
    skipped, source_bytes = [], 0
    for item in task.items:
        try:
            data = encode_image(item.path, task.prepare)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
            detail = f"cannot decode image ({type(err).__name__}: {err})"
            if task.on_error == "raise":
                raise DatasetError(
                    f"{item.path}: {detail}; re-download it, or pass --on-error skip "
                    f"to skip it (counted in the report)"
                ) from None
            skipped.append(Problem("corrupt-image", item.path, detail).to_dict())
            continue
        source_bytes += os.path.getsize(item.path)
        cols["image"].append({"bytes": data, "path": None})
        for key, value in zip(COLUMNS[1:], item.row()):
            cols[key].append(value)
    table = pa.Table.from_pydict(cols, schema=task.schema)
    final = Path(task.folder) / task.file
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.tmp-{uuid.uuid4().hex[:8]}")
    pq.write_table(table, tmp, row_group_size=100)  # HF's row-group size for image datasets
    os.replace(tmp, final)
    return {
        "key": task.key,
        "file": task.file,
        "rows": table.num_rows,
        "sha256": sha256_file(final),
        "bytes": final.stat().st_size,
        "source_bytes": source_bytes,
        "skipped": skipped,
    }
