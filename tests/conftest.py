"""Test-session setup: offline Hub, a throw-away cache for generated datasets and models."""

from __future__ import annotations

import os
import shutil
import tempfile

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_EVALUATE_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_NUM_THREADS", "2")

_CACHE = tempfile.mkdtemp(prefix="rib-test-cache-")
os.environ["IMAGENET_RIB_CACHE"] = _CACHE


def pytest_unconfigure(config) -> None:  # noqa: ARG001 - pytest hook signature
    shutil.rmtree(_CACHE, ignore_errors=True)
