"""The 15 ImageNet-C corruptions at severities 1..5, for images of any size.

Recipe: Hendrycks & Dietterich, "Benchmarking Neural Network Robustness to Common
Corruptions and Perturbations", ICLR 2019 (``make_imagenet_c.py``). An image x in
[0, 1]^(H x W x 3) is mapped to c_k(x; s) with the parameter table ``PARAMETERS[name]`` row
``severity - 1``, then rounded to uint8. The tables are the reference ones, which were tuned
for 224 x 224 crops.

Spatial scaling. With s = max(min(H, W) / 224, 1 / 8), every SPATIAL parameter (defocus disk
radius and its alias sigma, glass-blur sigma and displacement, motion-blur radius and sigma,
snow-flake size and streak, fog/frost map scale, frost needle length, elastic sigma and
affine jitter) is multiplied by s. Images under 28 px use the 28 px values (s >= 1/8), so an
8 x 8 image still gets a visible blur. Elastic alpha is multiplied by s^2: the std of
Gaussian-smoothed white noise falls as 1 / sigma, so alpha * s^2 keeps the displacement
field at s times its 224 px value. Zoom factors, pixelate factors, noise levels,
contrast/brightness factors and JPEG qualities are relative and keep their values. At
224 x 224, s = 1 and the reference tables are used as is.

Deviations from the reference, all because ImageMagick (wand), OpenCV and the frost photos
are not dependencies here:
- motion blur (and the snow streaks): ImageMagick's one-sided line kernel, weights
  exp(-t^2 / 2 sigma^2) for t in [0, 2 radius], angle ~ U(-45, 45) deg, splatted bilinearly
  so that sub-pixel radii (small images) still blur;
- defocus: the disk of the reference, supersampled and bilinearly splatted (anti-aliased);
- glass blur: each of the ``iterations`` passes replaces every interior pixel by the pixel at
  a random offset in [-delta, delta)^2, one vectorised gather instead of the sequential swap
  chain (similar local-scramble statistics, orders of magnitude faster); offsets stay whole
  pixels, so where s * delta < 1 only a fraction s * delta of the pixels moves;
- frost: a procedurally generated ice texture (plasma-fractal haze + needle crystals grown
  from random seeds, bluish tint) replaces the six frost photographs; blended as in the
  reference, c0 x + c1 frost;
- elastic: the random affine and the elastic field are composed into one resampling; for
  sigma >= 8 px the smoothed noise is drawn on a coarser grid (same statistics, O(H W)).
Every random draw comes from the ``np.random.Generator`` passed in; global RNG state is
never touched, so a seed fixes the output exactly.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import lru_cache
from types import MappingProxyType
from typing import Any

import numpy as np
from PIL import Image
from scipy import ndimage

from ..errors import ConfigError
from ..registry import Registry
from ._corruption_ops import (
    Interp,
    correlate,
    disk_kernel,
    frost_texture,
    interp_taps,
    line_kernel,
    plasma,
    plasma_fractal,
    resample,
    smoothed_uniform_noise,
)

__all__ = [
    "CORRUPTIONS",
    "CORRUPTION_FUNCTIONS",
    "DETERMINISTIC_CORRUPTIONS",
    "MIN_SPATIAL_SCALE",
    "PARAMETERS",
    "REFERENCE_SIZE",
    "SEVERITIES",
    "CorruptionFn",
    "as_generator",
    "as_rgb_float",
    "check_severity",
    "corrupt",
    "plasma_fractal",
]

CORRUPTIONS: tuple[str, ...] = (
    "gaussian_noise", "shot_noise", "impulse_noise",
    "defocus_blur", "glass_blur", "motion_blur", "zoom_blur",
    "snow", "frost", "fog",
    "brightness", "contrast", "elastic_transform", "pixelate", "jpeg_compression",
)  # fmt: skip
SEVERITIES: tuple[int, ...] = (1, 2, 3, 4, 5)
REFERENCE_SIZE = 224
MIN_SPATIAL_SCALE = 1 / 8  # images under 28 px are treated as 28 px for spatial parameters
# Corruptions whose output does not depend on the random generator.
DETERMINISTIC_CORRUPTIONS = frozenset(
    {"defocus_blur", "zoom_blur", "brightness", "contrast", "pixelate", "jpeg_compression"}
)

# Reference tables (make_imagenet_c.py), one row per severity 1..5; values at 224 px.
_ELASTIC_SIDE = 244  # "244 should have been 224, but ultimately nothing is incorrect" (reference)
PARAMETERS: MappingProxyType[str, tuple] = MappingProxyType({
    "gaussian_noise": (0.08, 0.12, 0.18, 0.26, 0.38),  # std of additive N(0, c^2)
    "shot_noise": (60, 25, 12, 5, 3),  # photons per unit intensity: Poisson(c x) / c
    "impulse_noise": (0.03, 0.06, 0.09, 0.17, 0.27),  # fraction of salt-and-pepper values
    "defocus_blur": ((3, 0.1), (4, 0.5), (6, 0.5), (8, 0.5), (10, 0.5)),  # (radius, alias sigma)
    "glass_blur": ((0.7, 1, 2), (0.9, 2, 1), (1, 2, 3), (1.1, 3, 2), (1.5, 4, 2)),  # (sigma, delta, iters)
    "motion_blur": ((10, 3), (15, 5), (15, 8), (15, 12), (20, 15)),  # (radius, sigma)
    "zoom_blur": ((1.11, 0.01), (1.16, 0.01), (1.21, 0.02), (1.26, 0.02), (1.31, 0.03)),  # arange(1, stop, step)
    # (noise mean, noise std, flake zoom, threshold, streak radius, streak sigma, image blend)
    "snow": (
        (0.1, 0.3, 3, 0.5, 10, 4, 0.8), (0.2, 0.3, 2, 0.5, 12, 4, 0.7),
        (0.55, 0.3, 4, 0.9, 12, 8, 0.7), (0.55, 0.3, 4.5, 0.85, 12, 8, 0.65),
        (0.55, 0.3, 2.5, 0.85, 12, 12, 0.55),
    ),
    "frost": ((1, 0.4), (0.8, 0.6), (0.7, 0.7), (0.65, 0.7), (0.6, 0.75)),  # (image, frost) weights
    "fog": ((1.5, 2), (2.0, 2), (2.5, 1.7), (2.5, 1.5), (3.0, 1.4)),  # (fog weight, wibble decay)
    "brightness": (0.1, 0.2, 0.3, 0.4, 0.5),  # added to HSV value
    "contrast": (0.4, 0.3, 0.2, 0.1, 0.05),  # (x - mean) * c + mean
    "elastic_transform": tuple(  # (alpha, sigma, affine jitter) in pixels
        (_ELASTIC_SIDE * a, _ELASTIC_SIDE * b, _ELASTIC_SIDE * c)
        for a, b, c in ((2, 0.7, 0.1), (2, 0.08, 0.2), (0.05, 0.01, 0.02), (0.07, 0.01, 0.02), (0.12, 0.01, 0.02))
    ),
    "pixelate": (0.6, 0.5, 0.4, 0.3, 0.25),  # box-downsample factor
    "jpeg_compression": (25, 18, 15, 10, 7),  # JPEG quality
})  # fmt: skip
_GREY = np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R 601 luma, as cv2.COLOR_RGB2GRAY

CorruptionFn = Callable[[np.ndarray, int, np.random.Generator], np.ndarray]
"""(x float32 (H, W, 3) in [0, 1], severity 1..5, rng) -> float image (H, W, 3), clipped later."""

CORRUPTION_FUNCTIONS: Registry[CorruptionFn] = Registry("corruption")


# --------------------------------------------------------------------------- helpers


def _scale(x: np.ndarray) -> float:
    return max(min(x.shape[0], x.shape[1]) / REFERENCE_SIZE, MIN_SPATIAL_SCALE)


@lru_cache(maxsize=64)
def _zoom_taps(n: int, severity: int) -> list[Interp]:
    """Centre-zoom taps for zoom blur's factors arange(1, stop, step) (the reference's)."""
    stop, step = PARAMETERS["zoom_blur"][severity - 1]
    c = (n - 1) / 2
    return [interp_taps((np.arange(n) - c) / z + c, n) for z in np.arange(1, stop, step)]


# --------------------------------------------------------------------------- corruptions


def _row(name: str, severity: int) -> Any:
    return PARAMETERS[name][severity - 1]


@CORRUPTION_FUNCTIONS.register("gaussian_noise")
def gaussian_noise(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    return x + _row("gaussian_noise", severity) * rng.standard_normal(x.shape, dtype=np.float32)


@CORRUPTION_FUNCTIONS.register("shot_noise")
def shot_noise(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    c = _row("shot_noise", severity)
    return rng.poisson(x * c).astype(np.float32) / c


@CORRUPTION_FUNCTIONS.register("impulse_noise")
def impulse_noise(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    # skimage.util.random_noise(mode="s&p"): each value independently, salt = pepper = 1/2.
    hit = rng.random(x.shape) < _row("impulse_noise", severity)
    salt = rng.random(x.shape) < 0.5
    return np.where(hit, salt.astype(np.float32), x)


@CORRUPTION_FUNCTIONS.register("defocus_blur")
def defocus_blur(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    radius, alias = _row("defocus_blur", severity)
    s = _scale(x)
    return correlate(x, disk_kernel(round(radius * s, 4), round(alias * s, 4)), "mirror")


@CORRUPTION_FUNCTIONS.register("glass_blur")
def glass_blur(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    sigma, delta, iterations = _row("glass_blur", severity)
    s = _scale(x)
    sigma, scaled_delta = sigma * s, delta * s
    # Offsets are whole pixels: below 1 px, only a fraction scaled_delta of pixels move.
    delta, moving = max(1, round(scaled_delta)), min(1.0, scaled_delta)
    h, w = x.shape[:2]
    x = ndimage.gaussian_filter(x, (sigma, sigma, 0), mode="nearest")
    if h > 2 * delta and w > 2 * delta:
        rows, cols = np.mgrid[delta : h - delta, delta : w - delta]
        for _ in range(iterations):
            # randint(-delta, delta) as the reference: offsets in [-delta, delta).
            dy, dx = rng.integers(-delta, delta, size=(2, *rows.shape))
            if moving < 1:
                still = rng.random(rows.shape) >= moving
                dy[still], dx[still] = 0, 0
            x[delta : h - delta, delta : w - delta] = x[rows + dy, cols + dx]
    return ndimage.gaussian_filter(x, (sigma, sigma, 0), mode="nearest")


@CORRUPTION_FUNCTIONS.register("motion_blur")
def motion_blur(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    radius, sigma = _row("motion_blur", severity)
    s = _scale(x)
    return correlate(x, line_kernel(radius * s, sigma * s, rng.uniform(-45, 45)), "nearest")


@CORRUPTION_FUNCTIONS.register("zoom_blur")
def zoom_blur(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    rows, cols = _zoom_taps(x.shape[0], severity), _zoom_taps(x.shape[1], severity)
    total = x.copy()
    for zoom_rows, zoom_cols in zip(rows, cols):
        total += resample(x, zoom_rows, zoom_cols)
    return total / (len(rows) + 1)


@CORRUPTION_FUNCTIONS.register("snow")
def snow(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    loc, scale, zoom, threshold, radius, sigma, blend = _row("snow", severity)
    s = _scale(x)
    h, w = x.shape[:2]
    flake = max(1.0, zoom * s)  # flake size in px; never below one pixel
    gh, gw = int(np.ceil(h / flake)), int(np.ceil(w / flake))
    layer = loc + scale * rng.standard_normal((gh, gw), dtype=np.float32)
    off_h, off_w = (gh * flake - h) / 2, (gw * flake - w) / 2  # centre crop, as clipped_zoom
    rows = interp_taps((np.arange(h) + 0.5 + off_h) / flake - 0.5, gh)
    cols = interp_taps((np.arange(w) + 0.5 + off_w) / flake - 0.5, gw)
    layer = resample(layer, rows, cols)
    layer = np.clip(np.where(layer < threshold, 0, layer), 0, 1)
    layer = correlate(layer, line_kernel(radius * s, sigma * s, rng.uniform(-135, -45)), "nearest")
    layer = layer[..., None]
    grey = (x * _GREY).sum(axis=2, keepdims=True)
    x = blend * x + (1 - blend) * np.maximum(x, grey * 1.5 + 0.5)
    return x + layer + np.rot90(layer, k=2)


@CORRUPTION_FUNCTIONS.register("frost")
def frost(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    c_image, c_frost = _row("frost", severity)
    return c_image * x + c_frost * frost_texture(x.shape[0], x.shape[1], _scale(x), rng)


@CORRUPTION_FUNCTIONS.register("fog")
def fog(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    weight, decay = _row("fog", severity)
    max_val = float(x.max())
    x = x + weight * plasma(x.shape[0], x.shape[1], decay, rng)[..., None]
    return x * max_val / (max_val + weight)


@CORRUPTION_FUNCTIONS.register("brightness")
def brightness(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    # HSV value V = max(R, G, B) raised to min(V + c, 1) at fixed hue and saturation: every
    # channel scales by V' / V (a black pixel becomes grey V'), exactly skimage's round trip.
    v = x.max(axis=2, keepdims=True)
    v_new = np.minimum(v + _row("brightness", severity), 1.0)
    return np.where(v > 0, x * v_new / np.maximum(v, 1e-12), v_new)


@CORRUPTION_FUNCTIONS.register("contrast")
def contrast(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    means = x.mean(axis=(0, 1), keepdims=True)
    return (x - means) * _row("contrast", severity) + means


@CORRUPTION_FUNCTIONS.register("elastic_transform")
def elastic_transform(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    alpha, sigma, jitter = _row("elastic_transform", severity)
    s = _scale(x)
    alpha, sigma, jitter = alpha * s * s, sigma * s, jitter * s
    h, w = x.shape[:2]
    # Random affine A fixed by 3 jittered points (x, y); the warp samples x at A^-1(p + d(p)).
    centre = np.array([w // 2, h // 2], np.float64)
    side = max(min(h, w) // 3, 1)
    src = np.array([centre + side, [centre[0] + side, centre[1] - side], centre - side])
    dst = src + rng.uniform(-jitter, jitter, size=src.shape)
    forward = np.linalg.solve(np.c_[src, np.ones(3)], dst).T  # (2, 3): dst = A @ [src, 1]
    inverse = np.linalg.inv(np.vstack([forward, [0, 0, 1]]))[:2]
    dx, dy = (alpha * smoothed_uniform_noise(h, w, sigma, rng) for _ in range(2))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    px, py = xx + dx, yy + dy
    sx = inverse[0, 0] * px + inverse[0, 1] * py + inverse[0, 2]
    sy = inverse[1, 0] * px + inverse[1, 1] * py + inverse[1, 2]
    return np.stack(
        [ndimage.map_coordinates(x[..., ch], (sy, sx), order=1, mode="reflect") for ch in range(3)],
        axis=2,
    )


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(x, 0, 1) * 255).astype(np.uint8)


@CORRUPTION_FUNCTIONS.register("pixelate")
def pixelate(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    c = _row("pixelate", severity)
    h, w = x.shape[:2]
    img = Image.fromarray(_to_uint8(x))
    small = img.resize((max(1, int(w * c)), max(1, int(h * c))), Image.Resampling.BOX)
    return np.asarray(small.resize((w, h), Image.Resampling.BOX), np.float32) / 255


@CORRUPTION_FUNCTIONS.register("jpeg_compression")
def jpeg_compression(x: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(_to_uint8(x)).save(buffer, "JPEG", quality=_row("jpeg_compression", severity))
    return np.asarray(Image.open(buffer).convert("RGB"), np.float32) / 255


# --------------------------------------------------------------------------- public API


def as_rgb_float(image: np.ndarray | Image.Image) -> np.ndarray:
    """uint8 (H, W), (H, W, 1|3|4) array or PIL image -> float32 (H, W, 3) in [0, 1]."""
    if isinstance(image, Image.Image):
        image = image.convert("RGB")
    a = np.asarray(image)
    if a.dtype != np.uint8:
        raise ConfigError(
            f"corrupt expects a uint8 image, got dtype {a.dtype}; convert a float image in "
            f"[0, 1] with (np.clip(x, 0, 1) * 255).round().astype(np.uint8)"
        )
    if a.ndim == 3 and a.shape[2] in (1, 3, 4):
        a = a[..., :3] if a.shape[2] != 1 else a[..., 0]
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] != 3 or min(a.shape[:2]) < 2:
        raise ConfigError(
            f"corrupt expects an image of shape (H, W) or (H, W, 3) with H, W >= 2, got shape "
            f"{np.asarray(image).shape}"
        )
    return a.astype(np.float32) / 255


def as_generator(
    seed_or_rng: int | np.random.SeedSequence | np.random.Generator,
) -> np.random.Generator:
    """An explicit generator from an int seed, a SeedSequence or a Generator (passed through)."""
    if isinstance(seed_or_rng, np.random.Generator):
        return seed_or_rng
    if isinstance(seed_or_rng, np.random.SeedSequence) or (
        isinstance(seed_or_rng, (int, np.integer)) and not isinstance(seed_or_rng, bool)
    ):
        return np.random.default_rng(seed_or_rng)
    raise ConfigError(
        f"seed_or_rng must be an int seed, a np.random.SeedSequence or a np.random.Generator, "
        f"got {type(seed_or_rng).__name__}; pass e.g. seed_or_rng=0 (global RNG state is never used)"
    )


def check_severity(severity: int) -> int:
    if (
        isinstance(severity, bool)
        or not isinstance(severity, (int, np.integer))
        or severity not in SEVERITIES
    ):
        raise ConfigError(
            f"severity must be one of {SEVERITIES}, got {severity!r}; ImageNet-C defines "
            f"severities 1 (mildest) to 5 (strongest)"
        )
    return int(severity)


def corrupt(
    image: np.ndarray | Image.Image,
    name: str,
    severity: int,
    seed_or_rng: int | np.random.SeedSequence | np.random.Generator,
) -> np.ndarray:
    """Apply ImageNet-C corruption ``name`` at ``severity`` to one image.

    Args:
        image: uint8 (H, W, 3) or (H, W) greyscale array, or a PIL image (converted to RGB).
        name: one of ``CORRUPTIONS`` (or any name registered in ``CORRUPTION_FUNCTIONS``).
        severity: 1..5.
        seed_or_rng: int seed, SeedSequence or ``np.random.Generator``; the only randomness.

    Returns:
        uint8 array (H, W, 3): round(255 clip(c(x / 255), 0, 1)).
    """
    fn = CORRUPTION_FUNCTIONS.get(name)
    severity = check_severity(severity)
    rng = as_generator(seed_or_rng)
    return _to_uint8(fn(as_rgb_float(image), severity, rng))
