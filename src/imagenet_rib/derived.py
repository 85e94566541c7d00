"""Models of the ``derived`` methods (WiSE-FT's alpha sweep, soups) from finished runs.

No training: a derived method combines the weights of runs that exist (run folders, or the
`finetune.FinetuneResult`s of this process) with the pretrained model's.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError
from .methods import get_method
from .models.run import load_run

if TYPE_CHECKING:
    import torch

    from .models import LoadedModel


def derived_models(
    method: str,
    pretrained: LoadedModel,
    runs: Sequence[Any],
    method_config: dict[str, Any] | None = None,
) -> list[tuple[str, torch.nn.Module]]:
    """Models of a ``derived`` method (wise-ft sweep, soup) from finished runs (run folders or
    `FinetuneResult`s), no training."""

    meth = get_method(method)
    if meth.kind != "derived":
        raise ConfigError(
            f"method {method!r} is of kind {meth.kind!r}; derived_models() serves "
            f"'wise-ft' and 'soup'"
        )
    cfg = meth.make_config(method_config)
    modules = [load_run(r).model if isinstance(r, (str, Path)) else r.model for r in runs]
    return meth.derive(pretrained, modules, cfg)
