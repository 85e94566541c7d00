"""The scikit-image sample images the Mini-RIB styles draw on (textures, photo backgrounds).

They ship inside the scikit-image wheel under free licences (see ``skimage.data`` for each
image's licence and source), so they load offline. Each is downscaled once (LANCZOS) to a
short side of at most ``PACKAGE_SHORT_SIDE`` px and kept read-only in memory.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image

PACKAGE_IMAGE_NAMES: tuple[str, ...] = (
    "astronaut", "brick", "camera", "cat", "chelsea", "coffee", "colorwheel", "grass", "gravel",
    "hubble_deep_field", "immunohistochemistry", "rocket", "moon", "horse", "page", "text",
    "clock", "coins", "checkerboard", "retina", "cell",
)  # fmt: skip
TEXTURE_NAMES: tuple[str, ...] = (
    "brick", "grass", "gravel", "checkerboard", "moon", "cell", "coins", "text", "page",
)  # fmt: skip
BACKGROUND_NAMES: tuple[str, ...] = (
    "astronaut", "cat", "chelsea", "coffee", "rocket", "hubble_deep_field",
    "immunohistochemistry", "retina", "camera", "clock",
)  # fmt: skip
PACKAGE_SHORT_SIDE = 128  # package images are downscaled once to this short side


@lru_cache(maxsize=1)
def _load_package_images() -> tuple[tuple[str, np.ndarray], ...]:
    import skimage.data  # heavy; loaded once, on first use

    items = []
    for name in PACKAGE_IMAGE_NAMES:
        a = np.asarray(getattr(skimage.data, name)())
        a = a.astype(np.uint8) * 255 if a.dtype == bool else a.astype(np.uint8)
        h, w = a.shape[:2]
        if min(h, w) > PACKAGE_SHORT_SIDE:
            r = PACKAGE_SHORT_SIDE / min(h, w)
            new = (max(1, round(w * r)), max(1, round(h * r)))
            a = np.asarray(Image.fromarray(a).resize(new, Image.Resampling.LANCZOS))
        a.setflags(write=False)
        items.append((name, a))
    return tuple(items)


def package_images() -> dict[str, np.ndarray]:
    """The scikit-image sample images (read-only uint8, short side <= 128 px), by name."""
    return dict(_load_package_images())


def textures() -> list[np.ndarray]:
    """Texture-like package images (``TEXTURE_NAMES``), for ``rendition``."""
    images = package_images()
    return [images[n] for n in TEXTURE_NAMES]


def backgrounds() -> list[np.ndarray]:
    """Cluttered photo-like package images (``BACKGROUND_NAMES``), for ``scene``/``rich_view``."""
    images = package_images()
    return [images[n] for n in BACKGROUND_NAMES]
