"""Weight-space operations and the on-disk format of a finalized module.

Interpolation and averaging act on floating-point entries of state dicts, in float32 on
the device of the result's template, whatever device or dtype the other inputs have; integer
buffers (counters) are taken from the first model. A finalized module is saved as:

- a transformers model (ViT, timm wrapper): ``save_pretrained`` (model.safetensors + config.json);
- a torchvision wrapper: ``model.safetensors`` of the network + its architecture name;
- a method's own wrapper (e.g. the visual prompt): the wrapped model as above + the files
  the method's `save_extra` writes (``wrapper`` in the metadata names the method);

described by ``rib_model.json`` (kind, wrapper, transform, label space), so `load_module`
rebuilds exactly what was saved (LoRA is merged before saving, never applied twice).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError

if TYPE_CHECKING:
    import torch

MODEL_FILE = "rib_model.json"


def _check_same_keys(states: Sequence[Mapping[str, torch.Tensor]]) -> None:
    first = states[0]
    for k, sd in enumerate(states[1:], start=1):
        if set(sd) != set(first):
            diff = sorted(set(sd) ^ set(first))[:5]
            raise ConfigError(
                f"weights of model {k} do not match model 0 (keys {diff}); only runs of "
                f"the same architecture and method family can be combined"
            )
        bad = [n for n in first if sd[n].shape != first[n].shape]
        if bad:
            raise ConfigError(
                f"weights of model {k} differ in shape at {bad[:5]}; they cannot be combined"
            )


def _float_target(ref: torch.Tensor) -> dict[str, Any]:
    """Where a combined entry lives: the device and dtype of the reference tensor."""
    return {"device": ref.device, "dtype": ref.dtype}


def interpolate(
    pre: Mapping[str, torch.Tensor], ft: Mapping[str, torch.Tensor], alpha: float
) -> dict:
    """theta(a) = (1 - a) theta_pre + a theta_ft, entry-wise over float tensors.

    Computed in float32 on the device of `ft` (the fine-tuned module, the template of the
    result) and returned in `ft`'s dtype there, wherever `pre` lives (a cached pretrained
    model may sit on another device or in another dtype). Non-float entries (counters) come
    from `pre`. The inputs are never modified.
    """
    _check_same_keys([pre, ft])
    out = {}
    for name, b in ft.items():
        a = pre[name].to(b.device)
        if b.is_floating_point():
            if alpha == 0.0:
                out[name] = a.to(b.dtype, copy=True)
            elif alpha == 1.0:
                out[name] = b.clone()
            else:
                mix = (1.0 - alpha) * a.float() + alpha * b.float()
                out[name] = mix.to(**_float_target(b))
        else:
            out[name] = a.clone()
    return out


def average(
    states: Sequence[Mapping[str, torch.Tensor]], weights: Sequence[float] | None = None
) -> dict:
    """theta = sum_m w_m theta_m (uniform w_m = 1/M by default).

    Computed in float32 on the device of the first state (the template of the result) and
    returned in its dtype; non-float entries come from the first state.
    """
    _check_same_keys(states)
    w = list(weights) if weights is not None else [1.0 / len(states)] * len(states)
    out = {}
    for name, first in states[0].items():
        if first.is_floating_point():
            acc = sum(wm * sd[name].to(first.device).float() for wm, sd in zip(w, states))
            out[name] = acc.to(**_float_target(first))
        else:
            out[name] = first.clone()
    return out


def module_with_state(
    template: torch.nn.Module, state: Mapping[str, torch.Tensor]
) -> torch.nn.Module:
    """A copy of `template` holding `state` (strict: every key must match); the template
    itself is never modified."""
    module = copy.deepcopy(template)
    module.load_state_dict(dict(state), strict=True)
    return module.eval()


def save_module(module: torch.nn.Module, folder: Path, info: dict[str, Any]) -> None:
    """Write `module` (finalized) into `folder` with ``rib_model.json`` = info + format."""
    from safetensors.torch import save_file
    from transformers import PreTrainedModel

    from . import METHODS

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    meta = dict(info)
    meta["wrapper"] = None
    for name, method in METHODS.items():  # the method whose finalize() built this wrapper
        unwrapped = method.save_extra(module, folder)
        if unwrapped is not None:
            module, extra = unwrapped
            meta["wrapper"] = {**extra, "type": name}
            break
    if isinstance(module, PreTrainedModel):
        module.save_pretrained(folder)
        meta["format"] = "transformers"
    elif hasattr(module, "arch") and hasattr(module, "net"):
        save_file(
            {k: v.detach().contiguous().cpu() for k, v in module.net.state_dict().items()},
            str(folder / "model.safetensors"),
        )
        meta["format"] = "torchvision"
        meta["arch"] = module.arch
    else:
        raise ConfigError(
            f"cannot save a {type(module).__name__}: finalize() must return a transformers "
            f"model, a torchvision wrapper, or a wrapper its method saves with save_extra()"
        )
    (folder / MODEL_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True, default=str) + "\n")


def load_module(folder: Path) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Rebuild what `save_module` wrote; returns (module in eval mode, rib_model.json)."""
    from safetensors.torch import load_file

    folder = Path(folder)
    meta = json.loads((folder / MODEL_FILE).read_text())
    if meta["format"] == "transformers":
        from transformers import AutoModelForImageClassification

        module = AutoModelForImageClassification.from_pretrained(folder)
    else:
        from ..models.presets import build_torchvision

        module = build_torchvision(meta["arch"], weights=None)
        module.net.load_state_dict(load_file(str(folder / "model.safetensors")))
    wrapper = meta.get("wrapper")
    if wrapper:
        from . import METHODS

        if wrapper["type"] not in METHODS:
            raise ConfigError(
                f"{folder} holds a model wrapped by method {wrapper['type']!r}, which is not "
                f"registered; load the plugin that provides it (--plugin MODULE or "
                f"IMAGENET_RIB_PLUGINS), known methods: {METHODS.names()}"
            )
        module = METHODS.get(wrapper["type"]).load_extra(module, folder, wrapper)
    return module.eval(), meta
