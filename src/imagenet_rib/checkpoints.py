"""Trainer checkpoints that are complete or absent: staged writes and a strict resume choice.

A checkpoint is written into ``<root>/.staging-<step>/checkpoint-<step>/`` (every process
writes its part there) and renamed to ``<root>/checkpoint-<step>`` once all of it is on disk,
so a kill or a full disk mid-write leaves at most a staging folder, never a half checkpoint
under a final name. Older checkpoints are deleted only after the new one is in place.

On resume, `last_complete_checkpoint` takes the newest checkpoint that holds everything an
exact resume needs (weights, optimizer and scheduler state, trainer state, RNG state) and
skips, with a warning, any that lacks a part: resuming with a fresh optimizer would give
other weights than the uninterrupted run.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from pathlib import Path

logger = logging.getLogger(__name__)

PREFIX, STAGING = "checkpoint-", ".staging-"
#: what an exact resume reads (RNG state: ``rng_state.pth`` or one per process)
REQUIRED = ("trainer_state.json", "model.safetensors", "optimizer.pt", "scheduler.pt")


def staging_root(root: str | Path, step: int) -> Path:
    return Path(root) / f"{STAGING}{step}"


def publish(root: str | Path, step: int) -> Path:
    """Move the staged ``checkpoint-<step>`` into `root` and delete every older checkpoint."""
    root = Path(root)
    staged, final = staging_root(root, step) / f"{PREFIX}{step}", root / f"{PREFIX}{step}"
    if final.exists():
        shutil.rmtree(final)
    os.replace(staged, final)  # one rename: the checkpoint appears complete or not at all
    shutil.rmtree(staging_root(root, step), ignore_errors=True)
    for old in root.glob(f"{PREFIX}*"):
        if old != final and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
    return final


def missing_parts(folder: Path) -> list[str]:
    """What `folder` lacks for an exact resume ([] when complete)."""
    missing = [name for name in REQUIRED if not (folder / name).is_file()]
    if not any(folder.glob("rng_state*.pth")):
        missing.append("rng_state.pth")
    if "trainer_state.json" not in missing:
        try:
            json.loads((folder / "trainer_state.json").read_text())
        except (OSError, ValueError):
            missing.append("a readable trainer_state.json")
    return missing


def last_complete_checkpoint(root: str | Path) -> str | None:
    """The newest complete ``checkpoint-N`` under `root` (None: start from step 0).

    Leftover staging folders of a killed write are removed; incomplete checkpoints are
    skipped with a warning (an older complete one, or a fresh start, gives the exact run).
    """
    root = Path(root)
    if not root.is_dir():
        return None
    for stale in root.glob(f"{STAGING}*"):
        shutil.rmtree(stale, ignore_errors=True)
    found = []
    for path in root.iterdir():
        m = re.fullmatch(rf"{PREFIX}(\d+)", path.name)
        if m and path.is_dir():
            found.append((int(m.group(1)), path))
    for _, path in sorted(found, reverse=True):
        missing = missing_parts(path)
        if not missing:
            return str(path)
        logger.warning(
            "skipping incomplete checkpoint %s (missing %s): resuming from it would not give "
            "the uninterrupted run's weights",
            path,
            ", ".join(missing),
        )
    return None
