"""Reload a finished run folder (``rib finetune``'s output) as a `LoadedModel`.

The folder's finalized module (method wrapper included: a visual prompt, a merged LoRA) and
the transform it was trained with come back exactly; `models.load_model` calls this for any
folder holding ``rib_model.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..console import no_progress_bars
from ..errors import ConfigError
from ..run_folder import SUMMARY_FILE

if TYPE_CHECKING:
    from . import LoadedModel


def load_run(run_dir: str | Path) -> LoadedModel:
    """Reload a finished run's finalized model and transform (LoRA is merged: applied once)."""
    run_dir = Path(run_dir)
    with no_progress_bars():
        return _load_run(run_dir)


def _load_run(run_dir: Path) -> LoadedModel:
    from ..methods.weights import load_module
    from ..transforms import ImageTransform
    from . import LoadedModel
    from .hf import _revision_of

    if not (run_dir / SUMMARY_FILE).exists():
        raise ConfigError(
            f"{run_dir} holds no finished run (no {SUMMARY_FILE}); run `rib finetune` "
            f"with --output-dir {run_dir} to finish it"
        )
    if not (run_dir / "rib_model.json").is_file():
        raise ConfigError(
            f"run folder {run_dir} lacks rib_model.json (how to rebuild its model): it is "
            f"damaged or incompletely copied; copy it again, or re-run `rib finetune` with "
            f"--output-dir {run_dir} --no-resume"
        )
    module, meta = load_module(run_dir)
    tr = {k: tuple(v) if isinstance(v, list) else v for k, v in meta["transform"].items()}
    return LoadedModel(
        name=meta["name"],
        model=module,
        transform=ImageTransform(**tr),
        label_space=meta["label_space"],
        revision=_revision_of(run_dir),
        kind=meta["kind"],
        info={"run_dir": str(run_dir), "method": meta["method"]},
    )
