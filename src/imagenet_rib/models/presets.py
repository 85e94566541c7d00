"""The paper's pretrained models by name (ViT-B/16 from seven pretraining sources, ResNets).

- Seven ViT-B/16 ImageNet-1k classifiers from different pretraining sources: timm checkpoints
  on the Hub (``timm/<tag>``), loaded through transformers' timm wrapper
  (`TimmWrapperForImageClassification`, so they save / reload / push like any HF model).
- torchvision ResNet-18 / ResNet-50 (ImageNet-1k weights).

Every transform comes from the model's own pretrained config: timm's ``pretrained_cfg``
(input size, crop_pct, interpolation, mean, std) or the torchvision weights' ``transforms()``
metadata. Offline without cached weights, loading fails at once with
`ModelNotAvailableError` naming the download command. Every head's class names are checked
against ImageNet-1k (`hf.check_class_names`): ``allow_label_mismatch=True`` overrides.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import ModelNotAvailableError
from ..transforms import ImageTransform, from_timm_config
from . import MODELS, LoadedModel
from .hf import check_class_names

#: preset name -> timm tag (the Hub repo is ``timm/<tag>``)
VIT_PRESETS = {
    "vit-b16-augreg-in1k": "vit_base_patch16_224.augreg_in1k",
    "vit-b16-sam-in1k": "vit_base_patch16_224.sam_in1k",
    "vit-b16-in21k": "vit_base_patch16_224.orig_in21k_ft_in1k",
    "vit-b16-in21k-miil": "vit_base_patch16_224_miil.in21k_ft_in1k",
    "vit-b16-augreg-in21k": "vit_base_patch16_224.augreg_in21k_ft_in1k",
    "vit-b16-clip-openai": "vit_base_patch16_clip_224.openai_ft_in1k",
    "vit-b16-clip-laion2b": "vit_base_patch16_clip_224.laion2b_ft_in1k",
}
#: preset name -> (torchvision builder, weights enum name)
TORCHVISION_PRESETS = {
    "resnet18": ("resnet18", "ResNet18_Weights.IMAGENET1K_V1"),
    "resnet50": ("resnet50", "ResNet50_Weights.IMAGENET1K_V1"),
    "resnet50-v2": ("resnet50", "ResNet50_Weights.IMAGENET1K_V2"),
}
_INTERP = {"bilinear": "bilinear", "bicubic": "bicubic", "nearest": "nearest", "lanczos": "lanczos"}


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")


# ------------------------------------------------------------------------------ timm ViTs


def timm_transform(tag: str) -> ImageTransform:
    """The evaluation transform of timm checkpoint `tag`, from its pretrained_cfg (no weights)."""
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(tag)
    if cfg is None:
        raise ModelNotAvailableError(
            f"timm has no pretrained config {tag!r}; upgrade timm or check the tag"
        )
    return from_timm_config(cfg.to_dict())


def _cached_snapshot(repo: str) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    hit = try_to_load_from_cache(repo, "config.json")
    return Path(hit).parent if isinstance(hit, str) else None


def load_timm_preset(name: str, *, allow_label_mismatch: bool = False, **_: Any) -> LoadedModel:
    from transformers import AutoModelForImageClassification

    tag = VIT_PRESETS[name]
    repo = f"timm/{tag}"
    snapshot = _cached_snapshot(repo)
    if snapshot is None and _offline():
        raise ModelNotAvailableError(
            f"{name!r} ({repo}) is not in the local Hugging Face cache and HF_HUB_OFFLINE=1; "
            f"download it once online with `hf download {repo}` (or unset HF_HUB_OFFLINE)"
        )
    try:
        model = AutoModelForImageClassification.from_pretrained(repo)
    except OSError as err:
        raise ModelNotAvailableError(
            f"cannot load {repo}: {err}; download it with `hf download {repo}`"
        ) from err
    snapshot = snapshot or _cached_snapshot(repo)
    id2label = model.config.id2label or {}
    check_class_names(
        [id2label.get(i, f"LABEL_{i}") for i in range(model.config.num_labels)],
        "imagenet-1k",
        model=name,
        allow=allow_label_mismatch,
    )
    return LoadedModel(
        name=name,
        model=model,
        transform=timm_transform(tag),
        label_space="imagenet-1k",
        revision=snapshot.name if snapshot else "",
        kind="timm",
        info={"timm_tag": tag, "hub_id": repo},
    )


# ------------------------------------------------------------------------ torchvision


class TorchvisionClassifier(nn.Module):
    """``forward(pixel_values) -> logits`` around a torchvision network (the library's calling convention)."""

    def __init__(self, arch: str, net: nn.Module) -> None:
        super().__init__()
        self.arch, self.net = arch, net

    def forward(self, pixel_values: torch.Tensor, **_: Any) -> torch.Tensor:
        return self.net(pixel_values)


def _weights(spec: str):
    import torchvision

    enum_name, member = spec.split(".")
    return getattr(getattr(torchvision.models, enum_name), member)


def torchvision_transform(weights) -> ImageTransform:
    """From the weights' ``transforms()`` metadata (resize, crop, interpolation, mean, std)."""
    t = weights.transforms()
    interp = str(getattr(t.interpolation, "value", t.interpolation)).lower()
    return ImageTransform(
        resize=int(t.resize_size[0]),
        crop=int(t.crop_size[0]),
        mean=tuple(t.mean),
        std=tuple(t.std),
        resize_mode="shortest_edge",
        interpolation=_INTERP.get(interp, "bilinear"),
    )


def build_torchvision(arch: str, weights: Any = None) -> TorchvisionClassifier:
    import torchvision

    return TorchvisionClassifier(arch, getattr(torchvision.models, arch)(weights=weights))


def load_torchvision_preset(
    name: str, *, allow_label_mismatch: bool = False, **_: Any
) -> LoadedModel:
    arch, spec = TORCHVISION_PRESETS[name]
    weights = _weights(spec)
    check_class_names(
        weights.meta["categories"], "imagenet-1k", model=name, allow=allow_label_mismatch
    )
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
    if not cached.exists() and _offline():
        raise ModelNotAvailableError(
            f"{name!r} weights ({spec}) are not in {cached.parent} and HF_HUB_OFFLINE=1; download them "
            f"once online with `python -c \"import torchvision; torchvision.models.{arch}(weights='{spec.split('.')[1]}')\"`"
        )
    try:
        model = build_torchvision(arch, weights)
    except OSError as err:  # URLError is an OSError
        raise ModelNotAvailableError(
            f"cannot download {spec} from {weights.url}: {err}; fetch it online "
            f"into {cached.parent}"
        ) from err
    return LoadedModel(
        name=name,
        model=model,
        transform=torchvision_transform(weights),
        label_space="imagenet-1k",
        revision=Path(weights.url).stem,
        kind="torchvision",
        info={"torchvision_weights": spec},
    )


for _name in VIT_PRESETS:
    MODELS.register(_name, lambda _n=_name, **kw: load_timm_preset(_n, **kw))
for _name in TORCHVISION_PRESETS:
    MODELS.register(_name, lambda _n=_name, **kw: load_torchvision_preset(_n, **kw))
