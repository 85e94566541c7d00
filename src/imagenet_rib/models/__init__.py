"""Models by name: ``load_model(name)`` -> model + head + its own transform.

Names resolve through the `MODELS` registry (Mini-RIB models, the paper's timm presets,
torchvision ResNets, plugins' models: ``docs/extending.md``); anything else is, in order:

- a run folder written by `rib finetune` / `rib run` (it has ``rib_model.json``), or a Hub
  repo `rib push` uploaded one to: reloaded by `models.run.load_run`, method wrapper included
  (``info`` names its run folder and method);
- a local folder or a Hub id of an `AutoModelForImageClassification` checkpoint, transformers
  or timm (`hf.load_hf_model`; ``hf:<id>`` forces that path).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..registry import Registry
from ..transforms import ImageTransform

if TYPE_CHECKING:
    import torch

#: The file that marks a run folder (`methods.weights.MODEL_FILE`).
RUN_MODEL_FILE = "rib_model.json"


@dataclass
class LoadedModel:
    """A classifier ready for fine-tuning and evaluation.

    Attributes:
        name: the name it was loaded by.
        model: `torch.nn.Module`; ``model(pixel_values=x)`` returns logits (B, C) or an
            output with ``.logits``.
        transform: preprocessing from the model's own pretrained config.
        label_space: name of the label space of its C-way head.
        revision: weights revision / content hash, recorded in results.
        kind: ``"hf"``, ``"timm"`` or ``"torchvision"`` (how to save / reload it).
    """

    name: str
    model: torch.nn.Module
    transform: ImageTransform
    label_space: str
    revision: str = ""
    kind: str = "hf"
    info: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label_space": self.label_space,
            "revision": self.revision,
            "kind": self.kind,
            "transform": self.transform.to_dict(),
            **self.info,
        }


#: name -> loader(**kwargs) -> LoadedModel
MODELS: Registry[Callable[..., LoadedModel]] = Registry(
    "model",
    builtins=("imagenet_rib.models.mini", "imagenet_rib.models.presets"),
    plugins="imagenet_rib.models",
)


def logits_of(model: torch.nn.Module, pixel_values: torch.Tensor) -> torch.Tensor:
    """Call any registered model kind and return plain (B, C) logits."""
    out = model(pixel_values=pixel_values)
    return out if not hasattr(out, "logits") else out.logits


def load_model(name: str, *, default_label_space: str | None = None, **kwargs: Any) -> LoadedModel:
    """Load a model by registry name, run folder, local folder or Hub id (see module docstring).

    `default_label_space` is the label space of a checkpoint that declares none (neither
    ``rib_label_space`` nor a 1000-way head), e.g. the suite's: its head is then checked
    against that space's class names.
    """
    if name in MODELS:
        return MODELS.get(name)(**kwargs)
    from .hf import load_hf_model

    if name.startswith("hf:"):
        return load_hf_model(name[3:], default_label_space=default_label_space, **kwargs)
    path = Path(name)
    if (path / RUN_MODEL_FILE).is_file():
        from .run import load_run

        return load_run(path)
    if not path.exists() and "/" in name:
        from .hf import hub_run_folder

        folder = hub_run_folder(name, kwargs.get("revision"))
        if folder is not None:  # a run pushed by `rib push`: reloaded exactly as its folder
            import dataclasses

            from .run import load_run

            run = load_run(folder)
            return dataclasses.replace(run, name=name, info={**run.info, "hub_id": name})
    if path.exists() or "/" in name:
        return load_hf_model(name, default_label_space=default_label_space, **kwargs)
    MODELS.get(name)  # raises UnknownNameError listing close matches
    raise AssertionError("unreachable")
