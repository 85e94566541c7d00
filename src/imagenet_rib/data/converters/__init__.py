"""Converters from the real download layouts to HF datasets in the shared schema.

``convert(name, src, out)`` reads the original download of a registered dataset (its
``layout`` picks the reader) and writes Parquet shards with the images embedded, loadable
with ``datasets.load_dataset(out)`` and ``load_rib_dataset(name, source=out)``.

| layout         | module            | datasets                                           |
|----------------|-------------------|----------------------------------------------------|
| `wnid-folders` | `wnid_folders.py` | imagenet-val, -a, -r, -sketch, -cartoon, -drawing  |
| `v2`           | `v2.py`           | imagenet-v2 (folders 0..999 = class indices)       |
| `objectnet`    | `objectnet.py`    | objectnet (mapping JSONs, red border, opt-in)      |
| `imagenet-c`   | `imagenet_c.py`   | imagenet-c (corruption/severity/wnid tree)         |

A layout is a ``scan(src, spec, ctx) -> Scan`` function registered in `LAYOUTS`; the engine
(`engine.py`) does the rest: parallel decoding, progress bars, resumable shards, the
skip-or-raise policy and its report.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ...errors import ConfigError
from ...registry import Registry
from ..rows import MANIFEST, read_manifest
from . import imagenet_c, objectnet, v2, wnid_folders
from .base import ConvertConfig, Prepare, Problem, Scan, ScanContext, SourceItem
from .engine import ConversionReport

if TYPE_CHECKING:
    from ..specs import DatasetSpec, Expected

#: layout name -> scan function
LAYOUTS: Registry[Callable[[Path, DatasetSpec, ScanContext], Scan]] = Registry("source layout")
LAYOUTS.register("wnid-folders", wnid_folders.scan)
LAYOUTS.register("v2", v2.scan)
LAYOUTS.register("objectnet", objectnet.scan)
LAYOUTS.register("imagenet-c", imagenet_c.scan)


def convert(
    name: str,
    src: str | Path,
    out: str | Path,
    config: ConvertConfig | None = None,
    *,
    expected: Expected | None = None,
    spec: DatasetSpec | None = None,
) -> ConversionReport:
    """Convert the download of dataset `name` at `src` into Parquet shards at `out`.

    Args:
        name: a registered dataset (``rib datasets list``).
        src: the extracted download, in its original layout (docs/datasets.md).
        out: output folder; ``<out>.partial`` holds an unfinished run (re-run to resume).
        config: error policy, workers, shard size, ObjectNet border and opt-in, ...
        expected: counts and classes to check against (default: the registry entry's).
        spec: a registry entry to use instead of ``get_dataset_spec(name)``.
    """
    from ..specs import get_dataset_spec
    from . import engine

    spec = spec or get_dataset_spec(name)
    config = config or ConvertConfig()
    if spec.parent:
        raise ConfigError(
            f"{name!r} is one set of {spec.parent!r}; convert the whole "
            f"{spec.parent} download (each set is then addressable as {name!r})"
        )
    if spec.layout == "mini":
        raise ConfigError(
            f"{name!r} is generated, not converted; build it with `rib datasets build mini-rib`"
        )
    return engine.run(spec, LAYOUTS.get(spec.layout), Path(src), Path(out), config, expected)


__all__ = [
    "LAYOUTS",
    "MANIFEST",
    "ConversionReport",
    "ConvertConfig",
    "Prepare",
    "Problem",
    "Scan",
    "ScanContext",
    "SourceItem",
    "convert",
    "read_manifest",
]
