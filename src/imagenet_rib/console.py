"""Keep the libraries' own console output out of ours (progress bars, chatter, FutureWarnings).

transformers, datasets and huggingface_hub each draw progress bars (weights loading, dataset
loading / mapping, downloads) and log informational lines at WARNING; inside a `rib` command
they interleave with its output (nested ``ESC[A`` bars). `library_output` turns them off
for a block and restores every switch afterwards, so a Python caller's own settings survive.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator

#: Loggers of libraries whose INFO/WARNING chatter is not ours to show (errors still pass).
LIBRARY_LOGGERS = ("transformers", "datasets", "huggingface_hub", "accelerate", "timm", "peft")


@contextlib.contextmanager
def library_output() -> Iterator[None]:
    """No progress bars, no INFO/WARNING records, no FutureWarnings / DeprecationWarnings and
    no UserWarnings raised inside the libraries within the block (our own ``imagenet_rib``
    loggers and warnings are untouched)."""
    with contextlib.ExitStack() as stack:
        stack.enter_context(no_progress_bars())
        stack.enter_context(_library_loggers(logging.ERROR))
        stack.enter_context(warnings.catch_warnings())
        # deprecation notices are the libraries' business with us, never the user's; the
        # warnings module attributes them to the caller's line, so they are matched by category
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        for module in LIBRARY_LOGGERS + ("torch",):
            warnings.filterwarnings("ignore", category=UserWarning, module=rf"{module}(\.|$)")
        yield


@contextlib.contextmanager
def _library_loggers(level: int) -> Iterator[None]:
    saved = {}
    for name in LIBRARY_LOGGERS:
        log = logging.getLogger(name)
        saved[name] = log.level
        if log.getEffectiveLevel() < level:
            log.setLevel(level)
    try:
        yield
    finally:
        for name, old in saved.items():
            logging.getLogger(name).setLevel(old)


@contextlib.contextmanager
def no_progress_bars() -> Iterator[None]:
    """No transformers / datasets / huggingface_hub progress bars inside the block."""
    import datasets
    import huggingface_hub.utils as hub_utils
    from transformers.utils import logging as hf_logging

    switches = [
        (
            hf_logging.is_progress_bar_enabled,
            hf_logging.disable_progress_bar,
            hf_logging.enable_progress_bar,
        ),
        (
            datasets.is_progress_bar_enabled,
            datasets.disable_progress_bars,
            datasets.enable_progress_bars,
        ),
        (
            lambda: not hub_utils.are_progress_bars_disabled(),
            hub_utils.disable_progress_bars,
            hub_utils.enable_progress_bars,
        ),
    ]
    was = [is_on() for is_on, _, _ in switches]
    for _, off, _ in switches:
        off()
    try:
        yield
    finally:
        for on_before, (_, _, on) in zip(was, switches):
            if on_before:
                on()
