"""Where each dataset's local copy is configured (environment variables).

The command-line ``--data NAME=FOLDER`` and a suite YAML's ``sources:`` take precedence over
these; this module is the bottom floor every loader, verifier and card writer shares.
"""

from __future__ import annotations

import os
from pathlib import Path


def source_env_var(name: str) -> str:
    """The environment variable that points at dataset `name`'s local copy."""
    return "IMAGENET_RIB_DATA_" + name.upper().replace("-", "_")


def default_source(name: str) -> str | None:
    """The configured local copy of dataset `name`: ``$IMAGENET_RIB_DATA_<NAME>``, else
    ``$IMAGENET_RIB_DATA_DIR/<name>`` when that folder exists, else None."""
    env = os.environ.get(source_env_var(name))
    if env:
        return env
    root = os.environ.get("IMAGENET_RIB_DATA_DIR")
    if root and (Path(root) / name).exists():
        return str(Path(root) / name)
    return None
