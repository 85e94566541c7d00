"""Test-session setup: offline Hub, a throw-away cache for generated datasets and models, and the
shared fixtures of `tests/support/` (the fake Hub, the tiny training folders, a datasets cache).

Test modules import support code as ``from support.<module> import ...``: `support` is a
package next to this file, importable under any pytest import mode because this folder is put
on `sys.path` here, once.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_EVALUATE_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("OMP_NUM_THREADS", "2")

_CACHE = tempfile.mkdtemp(prefix="rib-test-cache-")
os.environ["IMAGENET_RIB_CACHE"] = _CACHE

_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:  # the default "prepend" import mode already put it there
    sys.path.insert(0, _TESTS)

# fixtures: `fake_hub`; `tiny_root`, `tiny_env`; `hf_cache`
pytest_plugins = ["support.fake_hub", "support.rib_train_helpers", "support.layouts"]


def pytest_unconfigure(config) -> None:  # noqa: ARG001 - pytest hook signature
    shutil.rmtree(_CACHE, ignore_errors=True)
