"""Preprocessing derived from a model's own pretrained config (never hard-coded).

An `ImageTransform` is what the evaluation transform of timm / transformers does:

    resize (shortest edge to `resize`, or exactly to (resize, resize))
    -> center crop `crop` -> to [0, 1] -> (x - mean) / std

split into a uint8 geometric part (`geometry`, applied by the data-loader workers) and a
cheap normalisation (`normalize`, applied batch by batch on the device), so batches travel
as uint8.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ConfigError

if TYPE_CHECKING:
    import torch
    from PIL import Image

INTERPOLATIONS = ("bilinear", "bicubic", "nearest", "lanczos")


@dataclass(frozen=True)
class ImageTransform:
    """Evaluation (and, as in the reference, training) transform of one model.

    Attributes:
        resize: target of the resize step (pixels).
        resize_mode: ``"shortest_edge"`` (keep aspect) or ``"exact"`` (resize to resize x resize).
        crop: center-crop size after resizing (equal to `resize` for "exact").
        mean, std: per-channel normalisation, RGB.
        interpolation: resampling filter.
    """

    resize: int
    crop: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    resize_mode: str = "shortest_edge"
    interpolation: str = "bicubic"

    def __post_init__(self) -> None:
        if self.resize_mode not in ("shortest_edge", "exact"):
            raise ConfigError(f"resize_mode {self.resize_mode!r} not in ('shortest_edge', 'exact')")
        if self.interpolation not in INTERPOLATIONS:
            raise ConfigError(f"interpolation {self.interpolation!r} not in {INTERPOLATIONS}")
        if self.crop > self.resize:
            raise ConfigError(f"crop {self.crop} is larger than resize {self.resize}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def geometry(self, image: Image.Image) -> np.ndarray:
        """PIL image (any mode/size) -> uint8 (3, crop, crop) after resize + center crop."""
        from PIL import Image as PILImage

        resample = getattr(PILImage.Resampling, self.interpolation.upper())
        image = image.convert("RGB")
        w, h = image.size
        size = self.resized_size(w, h)
        if size != (w, h):
            image = image.resize(size, resample)
        w, h = image.size
        left, top = self.crop_offsets(w, h)
        if (w, h) != (self.crop, self.crop):
            image = image.crop((left, top, left + self.crop, top + self.crop))
        return np.asarray(image, dtype=np.uint8).transpose(2, 0, 1).copy()

    def resized_size(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) after the resize step, for an image of `width` x `height`."""
        if self.resize_mode == "exact":
            return (self.resize, self.resize)
        # the shorter side becomes `resize`, the longer one is truncated like torchvision's
        # Resize(int) and transformers' shortest_edge resize: int(resize * long / short)
        short, long = sorted((width, height))
        new_long = max(self.resize, int(self.resize * long / short))
        return (self.resize, new_long) if width <= height else (new_long, self.resize)

    def crop_offsets(self, width: int, height: int) -> tuple[int, int]:
        """(left, top) of the centre crop of a resized `width` x `height` image."""
        # torchvision's (and so timm's) centre crop: round((size - crop) / 2), half to even
        return round((width - self.crop) / 2.0), round((height - self.crop) / 2.0)

    def normalize(self, pixels: torch.Tensor) -> torch.Tensor:
        """uint8 (..., 3, H, W) -> float32 (pixels / 255 - mean) / std, a new tensor."""
        import torch

        mean = torch.tensor(self.mean, dtype=torch.float32, device=pixels.device).view(3, 1, 1)
        std = torch.tensor(self.std, dtype=torch.float32, device=pixels.device).view(3, 1, 1)
        # in place on one fresh copy: the values of (x / 255 - mean) / std, one allocation
        return pixels.to(torch.float32, copy=True).div_(255.0).sub_(mean).div_(std)

    def __call__(self, image: Image.Image) -> torch.Tensor:
        import torch

        return self.normalize(torch.from_numpy(self.geometry(image)))


def _size_field(size: Any, key: str) -> int | None:
    """Read `key` from a size spec: a dict (transformers 4) or a SizeDict (transformers 5)."""
    value = size.get(key) if isinstance(size, dict) else getattr(size, key, None)
    return int(value) if value is not None else None


def from_hf_processor(processor: Any) -> ImageTransform:
    """From a transformers image processor (ViTImageProcessor and friends)."""
    size = getattr(processor, "size", None) or {}
    if _size_field(size, "shortest_edge") is not None:
        resize, mode = _size_field(size, "shortest_edge"), "shortest_edge"
    elif _size_field(size, "height") is not None:
        resize, mode = _size_field(size, "height"), "exact"
    else:
        raise ConfigError(
            f"cannot derive a transform from image processor size {size!r}: expected "
            f"'shortest_edge' or 'height'/'width'; fix the checkpoint's preprocessor_config.json"
        )
    crop = getattr(processor, "crop_size", None)
    crop_px = (
        _size_field(crop, "height")
        if getattr(processor, "do_center_crop", False) and crop
        else None
    )
    resample = getattr(processor, "resample", None)
    code = int(getattr(resample, "value", resample)) if resample is not None else 2
    interp = {0: "nearest", 1: "lanczos", 2: "bilinear", 3: "bicubic"}.get(code, "bilinear")
    normalize = getattr(processor, "do_normalize", True)
    mean = tuple(float(v) for v in processor.image_mean) if normalize else (0.0, 0.0, 0.0)
    std = tuple(float(v) for v in processor.image_std) if normalize else (1.0, 1.0, 1.0)
    assert resize is not None
    return ImageTransform(
        resize=resize,
        crop=crop_px or resize,
        mean=mean,
        std=std,  # type: ignore[arg-type]
        resize_mode=mode,
        interpolation=interp,
    )


def from_timm_config(cfg: dict[str, Any]) -> ImageTransform:
    """From a timm pretrained config (input_size, crop_pct, interpolation, mean, std)."""
    crop = int(cfg["input_size"][-1])
    crop_pct = float(cfg.get("crop_pct", 0.875))
    resize = int(np.floor(crop / crop_pct))
    return ImageTransform(
        resize=resize,
        crop=crop,
        mean=tuple(cfg["mean"]),
        std=tuple(cfg["std"]),
        resize_mode="shortest_edge",
        interpolation=cfg.get("interpolation", "bicubic"),
    )
