"""The leaderboard's Hub Space: its files, configured for one leaderboard dataset, and the push.

The Space folder (``spaces/leaderboard/`` of the repository: ``app.py``, ``requirements.txt``,
``README.md`` with the Space metadata) is the template; `space_files` adds the dataset to the
README metadata (``datasets:``, so the Hub links them) and writes ``leaderboard.json``, which
the Space's ``app.py`` reads. `push_space` checks the dataset IS a leaderboard, then creates
(or updates) the Space with all files in one commit. Credentials come only from
huggingface_hub's own mechanisms (``HF_TOKEN``, ``hf auth login``).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError

logger = logging.getLogger(__name__)

SPACE_FILES = ("app.py", "requirements.txt", "README.md")
#: Where a wheel installs the Space template (``[tool.setuptools.data-files]``).
SHARE_DIR = Path("share") / "imagenet-rib" / "spaces" / "leaderboard"
SPACE_DIR_ENV = "IMAGENET_RIB_SPACE_DIR"
#: Environment variable (a Space variable on the Hub) naming the leaderboard dataset.
DATASET_ENV = "RIB_LEADERBOARD_DATASET"
#: Config file of a Space, written by `space_files`, read by `space_dataset`.
CONFIG_FILE = "leaderboard.json"
_PACKAGE_LINE = re.compile(r"^imagenet-rib\b.*$", re.MULTILINE)


@dataclass
class SpacePushResult:
    repo_id: str
    commit: str
    files: list[str]
    url: str
    dataset: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def space_folder() -> Path:
    """The Space template: ``$IMAGENET_RIB_SPACE_DIR``, the checkout's ``spaces/leaderboard``,
    or the copy a wheel installs under ``<prefix>/share/imagenet-rib/spaces/leaderboard``."""
    if os.environ.get(SPACE_DIR_ENV):  # an explicit choice: no silent fallback
        candidates = [Path(os.environ[SPACE_DIR_ENV])]
    else:
        candidates = [
            Path(__file__).resolve().parents[3] / "spaces" / "leaderboard",
            Path(sys.prefix) / SHARE_DIR,
        ]
    for folder in candidates:
        if all((folder / name).is_file() for name in SPACE_FILES):
            return folder
    raise ConfigError(
        f"the leaderboard Space template ({', '.join(SPACE_FILES)}) is not in "
        f"{[str(c) for c in candidates]}; set {SPACE_DIR_ENV} to the spaces/leaderboard folder "
        "of the imagenet-rib repository"
    )


def space_files(
    dataset: str,
    *,
    revision: str | None = None,
    requirement: str | None = None,
    folder: str | Path | None = None,
) -> dict[str, bytes]:
    """The Space's files, configured to serve leaderboard dataset `dataset` (at `revision`).

    `requirement` replaces the template's ``imagenet-rib`` line of ``requirements.txt`` (how
    the Space installs the library, e.g. ``imagenet-rib @ git+https://...@v0.1.0``).
    """
    from huggingface_hub import SpaceCard

    if not re.fullmatch(r"[\w.-]+/[\w.-]+", dataset):
        raise ConfigError(f"leaderboard dataset id {dataset!r} must look like ORG/NAME")
    folder = Path(folder) if folder is not None else space_folder()
    card = SpaceCard((folder / "README.md").read_text())
    if card.data.sdk != "gradio" or not card.data.sdk_version:
        raise ConfigError(f"{folder / 'README.md'} must declare sdk: gradio and its sdk_version")
    card.data.datasets = [dataset]
    requirements = (folder / "requirements.txt").read_text()
    if requirement:
        if not _PACKAGE_LINE.search(requirements):
            raise ConfigError(f"{folder / 'requirements.txt'} has no imagenet-rib line to replace")
        requirements = _PACKAGE_LINE.sub(requirement.strip(), requirements, count=1)
    config = {"dataset": dataset, "revision": revision}
    return {
        "app.py": (folder / "app.py").read_bytes(),
        "requirements.txt": requirements.encode(),
        "README.md": str(card).encode(),
        CONFIG_FILE: (json.dumps(config, indent=2) + "\n").encode(),
    }


def space_dataset(folder: str | Path) -> tuple[str, str | None]:
    """(dataset id, revision) a Space serves: ``$RIB_LEADERBOARD_DATASET`` (a Space variable),
    else the ``leaderboard.json`` that `rib leaderboard push` wrote into the Space."""
    if os.environ.get(DATASET_ENV):
        return os.environ[DATASET_ENV], None
    path = Path(folder) / CONFIG_FILE
    if not path.is_file():
        raise ConfigError(
            f"no leaderboard dataset configured: set the Space variable {DATASET_ENV}=ORG/NAME, "
            f"or create the Space with `rib leaderboard push --leaderboard ORG/NAME` (it writes "
            f"{CONFIG_FILE})"
        )
    config = json.loads(path.read_text())
    return str(config["dataset"]), config.get("revision")


def push_space(
    repo_id: str,
    dataset: str,
    *,
    revision: str | None = None,
    private: bool | None = None,
    requirement: str | None = None,
    commit_message: str | None = None,
) -> SpacePushResult:
    """Create or update the Gradio Space `repo_id` serving leaderboard dataset `dataset`.

    The dataset is read first (it must exist and hold ``data/results.parquet`` with the
    result columns), so a Space is never created pointing at nothing.
    """
    from huggingface_hub import CommitOperationAdd, HfApi, constants

    from .sources import read_hub_dataset

    files = space_files(dataset, revision=revision, requirement=requirement)
    rows = len(read_hub_dataset(dataset, revision).frame)
    api = HfApi()
    api.create_repo(repo_id, repo_type="space", space_sdk="gradio", private=private, exist_ok=True)
    info = api.create_commit(
        repo_id,
        operations=[CommitOperationAdd(path, data) for path, data in files.items()],
        repo_type="space",
        commit_message=commit_message or f"ImageNet-RIB leaderboard of {dataset}",
    )
    logger.info("pushed the leaderboard Space %s (%s, %d result rows)", repo_id, dataset, rows)
    url = f"{constants.ENDPOINT.rstrip('/')}/spaces/{repo_id}"
    return SpacePushResult(repo_id, info.oid, sorted(files), url, dataset)
