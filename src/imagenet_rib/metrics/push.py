"""Publish the shipped `evaluate` metric modules as Hugging Face Spaces.

A Space ``<namespace>/<name>`` holds the module folder as it ships (``<name>.py``, the card
``README.md`` whose front matter makes it a Gradio Space, ``app.py``, ``requirements.txt``),
so ``evaluate.load("<namespace>/<name>")`` loads the same module as
``evaluate.load(metrics.path(name))``. (``evaluate.push_to_hub`` does not work with
huggingface_hub 2.x, so the folder is uploaded with `HfApi.upload_folder`.)
"""

from __future__ import annotations

import fnmatch

from ..data.publish import PushResult, resolve_repo_id
from . import SPACE_FILES, path


def push_metric(
    name: str,
    *,
    namespace: str | None = None,
    repo_id: str | None = None,
    private: bool = False,
) -> PushResult:
    """Create (or update) the Space of metric `name`; returns where it went."""
    from pathlib import Path

    from huggingface_hub import HfApi

    folder = Path(path(name))  # raises UnknownNameError listing the metrics
    repo_id = resolve_repo_id(name, repo_id, namespace)
    api = HfApi()
    api.create_repo(repo_id, repo_type="space", space_sdk="gradio", private=private, exist_ok=True)
    info = api.upload_folder(
        repo_id=repo_id,
        repo_type="space",
        folder_path=str(folder),
        allow_patterns=list(SPACE_FILES),
        commit_message=f"Upload the {name} metric module (imagenet-rib)",
    )
    uploaded = tuple(
        sorted(
            p.name
            for p in folder.iterdir()
            if p.is_file() and any(fnmatch.fnmatch(p.name, pat) for pat in SPACE_FILES)
        )
    )
    return PushResult(name, repo_id, info.oid, f"{api.endpoint}/spaces/{repo_id}", uploaded)
