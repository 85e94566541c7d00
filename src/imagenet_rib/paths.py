"""Where the library keeps its caches (Mini-RIB datasets and models, EWC Fisher matrices).

Root: ``$IMAGENET_RIB_CACHE`` or ``~/.cache/imagenet_rib``. Writers in this library write
to a temporary sibling and `os.replace` it into place, so a crash never leaves a
half-written entry under a final name.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def cache_dir() -> Path:
    root = os.environ.get("IMAGENET_RIB_CACHE") or Path.home() / ".cache" / "imagenet_rib"
    return Path(root)


@contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """Yield a temporary directory that replaces `final` only if the block succeeds."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".{final.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        yield tmp
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def card_template(name: str) -> Path:
    """A card template of ``hub_cards/``: ``$IMAGENET_RIB_HUB_CARDS``, the checkout, or the install.

    A source checkout (or editable install) reads the repository's ``hub_cards/``; a wheel
    installs the templates under ``<prefix>/share/imagenet-rib/hub_cards``.
    """
    import sys

    from .errors import ConfigError

    if os.environ.get("IMAGENET_RIB_HUB_CARDS"):  # an explicit choice: no silent fallback
        candidates = [Path(os.environ["IMAGENET_RIB_HUB_CARDS"])]
    else:
        candidates = [
            Path(__file__).resolve().parents[2] / "hub_cards",
            Path(sys.prefix) / "share" / "imagenet-rib" / "hub_cards",
        ]
    for folder in candidates:
        if (folder / name).is_file():
            return folder / name
    raise ConfigError(
        f"card template {name} not found in {[str(c) for c in candidates]}; set "
        f"IMAGENET_RIB_HUB_CARDS to the folder holding it (hub_cards/ of the imagenet-rib repository)"
    )
