"""Small image helpers shared by the converters and the Mini-RIB builder."""

from __future__ import annotations

import numpy as np
from PIL import Image


def to_pil(array: np.ndarray) -> Image.Image:
    """uint8 (H, W) or (H, W, 3) array -> PIL image ("L" or "RGB")."""
    if array.dtype != np.uint8:
        raise TypeError(f"expected a uint8 image array, got {array.dtype}")
    return Image.fromarray(array, mode="L" if array.ndim == 2 else "RGB")


def crop_border(image: Image.Image, px: int) -> Image.Image:
    """Remove `px` pixels on every side (ObjectNet's red frame; the reference crops 2 px)."""
    if px <= 0:
        return image
    w, h = image.size
    if w <= 2 * px or h <= 2 * px:
        raise ValueError(f"image of size {w}x{h} is too small to crop a {px}px border")
    return image.crop((px, px, w - px, h - px))
