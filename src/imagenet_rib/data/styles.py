"""Stylisations that turn digit images into miniature analogs of the ImageNet-RIB test sets.

A digit d (uint8 (h, w) greyscale, white on black; 28 x 28 MNIST-like or 8 x 8) is resized
bilinearly (PIL) to ``size`` x ``size`` and mapped to a uint8 RGB image:

- ``sketch``    ImageNet-Sketch: graphite strokes along |grad d| (Sobel), jittered by a smooth
                random warp, on light paper with grain;
- ``cartoon``   ImageNet-Cartoon: flat fill and background from a small palette, bold outline;
- ``drawing``   ImageNet-Drawing: coloured hatching whose density follows d, on white paper;
- ``rendition`` ImageNet-R: texture fill, painting, neon outline or mosaic;
- ``scene``     ObjectNet: a tilted digit at a random scale and position over a defocused
                photo crop, with the red border (pure (255, 0, 0)) real ObjectNet images carry;
- ``rich_view`` / ``clean_view``: training views of a "rich" (varied) and a plain pretraining
                source, the analogs of large-scale vs ImageNet-only pretraining;
- ``jitter``    natural handwriting variation (pose, slant, stroke width) of the digit itself.

Every function is pure: all randomness comes from the ``np.random.Generator`` passed in, so a
seed fixes the output bytes. Textures and backgrounds (`package_images`) are the freely licensed sample
images bundled with scikit-image (see ``skimage.data`` for each image's licence and source);
they load offline. References: Wang et al. 2019 (Sketch), Hendrycks et al. 2021 (ImageNet-R),
Barbu et al. 2019 (ObjectNet), Salvador & Oberman 2022 (Cartoon, Drawing).
"""

from __future__ import annotations

import colorsys

import numpy as np
from PIL import Image
from scipy import ndimage

from ..errors import ConfigError
from . import _style_ops as ops

RENDITION_KINDS: tuple[str, ...] = ("texture", "painting", "outline", "mosaic")
RED = np.array([255, 0, 0], np.uint8)  # ObjectNet border colour
#: a scene keeps this fraction of its photo's contrast: at full contrast, photo edges look
#: like strokes to a 0.15 M-parameter ViT and fine-tuning cannot learn the task in minutes
SCENE_CONTRAST = 0.3
#: largest tilt of a scene's digit (deg); at 90/180/270 deg the clean model cannot adapt
SCENE_TILT = 45.0
CARTOON_PALETTE = np.array(
    [
        (230, 57, 70), (241, 143, 1), (255, 209, 102), (6, 214, 160), (17, 138, 178),
        (7, 59, 76), (131, 56, 236), (255, 0, 110), (58, 134, 255), (251, 86, 7),
        (244, 241, 222), (129, 178, 154),
    ],
    np.float32,
) / 255  # fmt: skip
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
_PAPER_TINT = np.array([1.0, 0.985, 0.95], np.float32)


# --------------------------------------------------------------------------- helpers


def _digit(digit: np.ndarray, size: int) -> np.ndarray:
    """uint8/bool (h, w) digit -> float32 (size, size) in [0, 1], bilinear (PIL)."""
    a = np.asarray(digit)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim != 2:
        raise ConfigError(f"expected a greyscale digit of shape (h, w), got shape {a.shape}")
    if a.dtype == bool:
        a = a.astype(np.uint8) * 255
    if a.dtype != np.uint8:
        raise ConfigError(
            f"expected a uint8 digit, got dtype {a.dtype}; rescale it first, e.g. "
            f"(x / x.max() * 255).round().astype(np.uint8) (8 x 8 sklearn digits go up to 16)"
        )
    if not isinstance(size, (int, np.integer)) or size < 4:
        raise ConfigError(f"size must be an int >= 4, got {size!r}")
    if a.shape == (size, size):
        return a.astype(np.float32) / 255
    resized = Image.fromarray(a).resize((int(size), int(size)), Image.Resampling.BILINEAR)
    return np.asarray(resized, np.float32) / 255


def _rgb(image: np.ndarray) -> np.ndarray:
    a = np.asarray(image)
    if a.dtype == bool:
        a = a.astype(np.uint8) * 255
    return np.repeat(a[..., None], 3, axis=2) if a.ndim == 2 else a[..., :3]


def _crop(
    image: np.ndarray, rng: np.random.Generator, size: int, min_frac: float = 0.4
) -> np.ndarray:
    """Random square crop (side in [min_frac, 1] x short side) resized to size: float RGB."""
    a = _rgb(image)
    h, w = a.shape[:2]
    side = max(2, int(round(rng.uniform(min_frac, 1.0) * min(h, w))))
    top, left = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    crop = Image.fromarray(np.ascontiguousarray(a[top : top + side, left : left + side]))
    return np.asarray(crop.resize((size, size), Image.Resampling.BILINEAR), np.float32) / 255


def _pick(rng: np.random.Generator, images: list[np.ndarray], what: str) -> np.ndarray:
    if len(images) == 0:
        raise ConfigError(
            f"no {what} given; pass e.g. package_images.{what}() (scikit-image samples)"
        )
    return images[int(rng.integers(len(images)))]


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(h % 1.0, s, v), np.float32)


def _toward_luma(colour: np.ndarray, target: float) -> np.ndarray:
    """Scale a colour toward black, or mix it toward white, until its luma is ``target``."""
    luma = float(colour @ _LUMA)
    if target <= luma:
        return colour * (target / max(luma, 1e-6))
    t = (target - luma) / max(1 - luma, 1e-6)
    return colour + (1 - colour) * min(t, 1.0)


def _u8(x: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(x, 0, 1) * 255).astype(np.uint8)


def _paper(
    rng: np.random.Generator, size: int, low: float, high: float, grain: float
) -> np.ndarray:
    return rng.uniform(low, high) + grain * rng.standard_normal((size, size), dtype=np.float32)


# --------------------------------------------------------------------------- styles


def sketch(digit: np.ndarray, rng: np.random.Generator, size: int = 32) -> np.ndarray:
    """Pencil sketch (size, size, 3): paper (1 - k) + graphite k, k = clip(1.6 |grad d~|).

    d~ is the digit under a smooth random warp (std 0.6 px at 32 px), so strokes wobble;
    stroke pressure varies smoothly; the paper is U(0.88, 0.97) with grain of std 0.025.
    """
    d = _digit(digit, size)
    k = size / 32
    dy, dx = 0.6 * k * ops.smooth_noise(rng, (2, size, size), 2 * k)
    d = ops.warp(d, dy, dx)
    strokes = np.clip(1.6 * ops.edges(d), 0, 1)
    strokes *= np.clip(0.8 + 0.2 * ops.smooth_noise(rng, (size, size), k), 0.4, 1)
    paper = _paper(rng, size, 0.88, 0.97, 0.025)
    graphite = rng.uniform(0.08, 0.3)
    grey = paper * (1 - strokes) + graphite * strokes - 0.1 * ndimage.gaussian_filter(d, k)
    return _u8(grey[..., None] * _PAPER_TINT)


def cartoon(digit: np.ndarray, rng: np.random.Generator, size: int = 32) -> np.ndarray:
    """Flat cartoon (size, size, 3): fill colour on d > 0.45, background colour, dark outline.

    Fill and background are distinct palette colours with a luma gap >= 0.2 where possible;
    the outline is max(1, size / 20) px wide, a near-black ink.
    """
    mask = _digit(digit, size) > 0.45
    order = rng.permutation(len(CARTOON_PALETTE))
    fill = CARTOON_PALETTE[order[0]]
    gaps = np.abs((CARTOON_PALETTE[order[1:]] - fill) @ _LUMA)
    bg = CARTOON_PALETTE[order[1:]][int(np.argmax(gaps >= 0.2)) if (gaps >= 0.2).any() else 0]
    ink = np.full(3, rng.uniform(0.0, 0.12), np.float32)
    width = max(1, round(size / 20))
    outline = ndimage.binary_dilation(mask, iterations=width) & ~ndimage.binary_erosion(mask)
    out = np.where(mask[..., None], fill, bg)
    return _u8(np.where(outline[..., None], ink, out))


def drawing(digit: np.ndarray, rng: np.random.Generator, size: int = 32) -> np.ndarray:
    """Coloured-pencil drawing (size, size, 3) on white paper.

    Hatching h(theta) = (1 + cos(2 pi <p, n_theta> / period + phase + wobble)) / 2; stroke
    layer 1 = clip((h(theta1) - (1 - d)) / 0.35, 0, 1) (density follows d), cross-hatch layer 2
    at theta1 + 90 +- 23 deg only where d > 0.5; each layer a random pencil colour.
    """
    k = size / 32
    d = ndimage.gaussian_filter(_digit(digit, size), 0.6 * k)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    period = max(2.0, rng.uniform(2.5, 3.5) * k)
    wobble = 0.8 * ops.smooth_noise(rng, (size, size), 3 * k)
    theta1 = rng.uniform(0, np.pi)
    theta2 = theta1 + np.pi / 2 + rng.uniform(-0.4, 0.4)

    def hatch(theta: float) -> np.ndarray:
        phase = (xx * np.cos(theta) + yy * np.sin(theta)) * 2 * np.pi / period
        return 0.5 + 0.5 * np.cos(phase + wobble + rng.uniform(0, 2 * np.pi))

    layer1 = np.clip((hatch(theta1) - (1 - d)) / 0.35, 0, 1)[..., None]
    layer2 = np.clip((hatch(theta2) - (1.5 - d)) / 0.35, 0, 1)[..., None]
    colour1 = _hsv(rng.uniform(), rng.uniform(0.5, 1), rng.uniform(0.3, 0.8))
    colour2 = _hsv(rng.uniform(), rng.uniform(0.5, 1), rng.uniform(0.2, 0.7))
    out = _paper(rng, size, 0.96, 1.0, 0.015)[..., None] * _PAPER_TINT
    out = out * (1 - 0.9 * layer1) + colour1 * 0.9 * layer1
    return _u8(out * (1 - 0.85 * layer2) + colour2 * 0.85 * layer2)


def rendition(
    digit: np.ndarray,
    rng: np.random.Generator,
    textures: list[np.ndarray],
    size: int = 32,
    kind: str | None = None,
) -> np.ndarray:
    """ImageNet-R style rendition (size, size, 3); ``kind`` in RENDITION_KINDS, else drawn.

    texture: strokes filled with a tinted texture crop over a plain colour; painting: soft
    colour blobs (4 x 4 colours, bicubic) with directional brush noise; outline: neon
    |grad d| with glow on a dark ground; mosaic: 5-8 tiles per side of the mean colour
    (+ jitter), with darkened grout lines when tiles are >= 4 px.
    """
    if kind is None:
        kind = RENDITION_KINDS[int(rng.integers(len(RENDITION_KINDS)))]
    if kind not in RENDITION_KINDS:
        raise ConfigError(f"unknown rendition kind {kind!r}; use one of {RENDITION_KINDS} or None")
    d = _digit(digit, size)
    k = size / 32
    mask = np.clip((d - 0.3) / 0.4, 0, 1)[..., None]
    fg = _hsv(rng.uniform(), rng.uniform(0.5, 1), rng.uniform(0.6, 1))
    bg = _hsv(rng.uniform(), rng.uniform(0, 0.5), 1.0)
    fg_luma = float(fg @ _LUMA)
    bg = _toward_luma(
        bg, fg_luma + 0.4 if fg_luma < 0.5 else fg_luma - 0.4
    )  # keep the digit legible
    if kind == "texture":
        tex = _crop(_pick(rng, textures, "textures"), rng, size, min_frac=0.25)
        tex = tex @ _LUMA
        tex = (0.35 + 0.9 * tex[..., None]) * fg
        return _u8(mask * tex + (1 - mask) * bg * 0.9)
    if kind == "painting":
        grid = (rng.random((4, 4, 3)) * 255).astype(np.uint8)
        blobs = (
            np.asarray(
                Image.fromarray(grid).resize((size, size), Image.Resampling.BICUBIC), np.float32
            )
            / 255
        )
        brush = ndimage.gaussian_filter(
            rng.standard_normal((size, size), dtype=np.float32), (0.4 * k, 2.5 * k)
        )
        brush = ndimage.rotate(brush, rng.uniform(0, 180), reshape=False, order=1, mode="reflect")
        brush /= max(float(brush.std()), 1e-6)
        soft = ndimage.gaussian_filter(mask, (k, k, 0))
        out = soft * fg + (1 - soft) * (0.35 * blobs + 0.65 * bg)
        return _u8(out * (1 + 0.08 * brush[..., None]))
    if kind == "outline":
        edges = np.clip(1.5 * ops.edges(d), 0, 1)
        glow = np.clip(1.5 * ndimage.gaussian_filter(edges, 1.2 * k), 0, 1)
        neon = _hsv(rng.uniform(), 1.0, 1.0)
        ground = _hsv(rng.uniform(), rng.uniform(0.3, 1), rng.uniform(0.0, 0.15))
        out = ground + neon * (0.8 * glow + edges)[..., None] + 0.5 * (edges**2)[..., None]
        return _u8(out)
    tile = max(2, int(round(size / rng.choice([5, 6, 8]))))  # mosaic
    n = -(-size // tile)
    image = mask * fg + (1 - mask) * bg
    padded = np.pad(image, ((0, n * tile - size), (0, n * tile - size), (0, 0)), mode="edge")
    means = padded.reshape(n, tile, n, tile, 3).mean(axis=(1, 3))
    means = np.clip(means + 0.05 * rng.standard_normal(means.shape, dtype=np.float32), 0, 1)
    tiles = np.repeat(np.repeat(means, tile, 0), tile, 1)[:size, :size]
    if tile >= 4:
        grout = (np.arange(size) % tile) == tile - 1
        shade = rng.uniform(0.4, 0.7)  # grout lines darken the tiles they cross
        tiles[grout] *= shade
        tiles[:, grout] *= shade
    return _u8(tiles)


def scene(
    digit: np.ndarray,
    rng: np.random.Generator,
    backgrounds: list[np.ndarray],
    size: int = 40,
    border: int = 2,
) -> np.ndarray:
    """ObjectNet-style scene (size, size, 3) with a ``border`` px pure red frame.

    Inside the frame (side n = size - 2 border): a photo crop, defocused as behind an object
    photographed up close (Gaussian blur, sigma = n / 18 px) with its contrast about the
    mean colour scaled by `SCENE_CONTRAST`; the digit is tilted by U(-45, 45) deg, resized to
    side U(0.75, 0.95) n at a uniform position and painted in a random hue whose luma
    contrasts with the covered photo region (0.12 on bright regions, 0.85 on dark ones). Random draws never depend on the digit's pixels, so
    ``scene(zeros, ...)`` with the same seed is the background-only render.
    """
    if not isinstance(border, (int, np.integer)) or border < 0 or size - 2 * border < 8:
        raise ConfigError(
            f"need border >= 0 and size - 2 * border >= 8, got size={size}, border={border}"
        )
    inner = size - 2 * border
    photo = _crop(_pick(rng, backgrounds, "backgrounds"), rng, inner, min_frac=0.3)
    photo = ndimage.gaussian_filter(photo, (inner / 18, inner / 18, 0))
    mean = photo.mean(axis=(0, 1))
    photo = mean + SCENE_CONTRAST * (photo - mean)
    angle = rng.uniform(-SCENE_TILT, SCENE_TILT)
    side = max(3, int(round(rng.uniform(0.75, 0.95) * inner)))
    top, left = (rng.random(2) * (inner - side + 1)).astype(int)
    hue, sat = rng.uniform(), rng.uniform(0.6, 1.0)
    alpha = ndimage.rotate(_digit(digit, side), angle, reshape=False, order=1)
    region = photo[top : top + side, left : left + side] @ _LUMA
    colour = _toward_luma(_hsv(hue, sat, 1.0), 0.12 if region.mean() > 0.5 else 0.85)
    a = np.clip(alpha, 0, 1)[..., None]
    patch = photo[top : top + side, left : left + side]
    photo[top : top + side, left : left + side] = a * colour + (1 - a) * patch
    out = np.empty((size, size, 3), np.uint8)
    out[:] = RED
    out[border : border + inner, border : border + inner] = _u8(photo)
    return out


def rich_view(
    digit: np.ndarray, rng: np.random.Generator, backgrounds: list[np.ndarray], size: int = 32
) -> np.ndarray:
    """A varied training view (size, size, 3) for the "rich" pretraining source.

    Random foreground/background colours (bright on dark, inverted with p = 0.3); background
    plain (p = 0.5), a photo crop blended with the background colour (p = 0.25) or a tinted
    greyscale crop (p = 0.25); affine: rotation U(-20, 20) deg, scale U(0.8, 1.1), shift
    U(-0.1, 0.1) size; blur sigma U(0, 0.8) (p = 0.5); Gaussian noise std U(0, 0.05).
    """
    d = _digit(digit, size)
    k = size / 32
    fg = _hsv(rng.uniform(), rng.uniform(0, 1), rng.uniform(0.65, 1.0))
    bg = _hsv(rng.uniform(), rng.uniform(0, 1), rng.uniform(0.0, 0.35))
    if rng.random() < 0.3:
        fg, bg = bg, fg
    u = rng.random()
    if u < 0.5:
        ground = np.broadcast_to(bg, (size, size, 3))
    else:
        crop = _crop(_pick(rng, backgrounds, "backgrounds"), rng, size, min_frac=0.2)
        mix = rng.uniform(0.4, 0.8)
        ground = mix * crop + (1 - mix) * bg if u < 0.75 else (crop @ _LUMA)[..., None] * 2 * bg
    m = ops.affine(d, rng.uniform(-20, 20), rng.uniform(0.8, 1.1), rng.uniform(-0.1, 0.1, 2) * size)
    out = np.clip(m, 0, 1)[..., None] * fg + (1 - np.clip(m, 0, 1)[..., None]) * ground
    if rng.random() < 0.5:
        out = ndimage.gaussian_filter(out, (rng.uniform(0, 0.8) * k,) * 2 + (0,))
    return _u8(out + rng.uniform(0, 0.05) * rng.standard_normal(out.shape, dtype=np.float32))


def clean_view(digit: np.ndarray, size: int = 32) -> np.ndarray:
    """The plain digit resized to (size, size) and replicated to RGB (white on black)."""
    return np.repeat(_u8(_digit(digit, size))[..., None], 3, axis=2)


def jitter(
    digit: np.ndarray,
    rng: np.random.Generator,
    rotation: float = 15.0,
    shear: float = 0.2,
    scale: tuple[float, float] = (0.85, 1.1),
    shift: float = 1.5,
    stroke: bool = True,
) -> np.ndarray:
    """The digit as another hand might have written it: uint8 (h, w) -> uint8 (h, w).

    Output pixel p samples the input at M (p - c) + c - t (bilinear, zero outside), with c
    the centre and M = (R(theta) Sh(s))^-1 / k: rotation theta ~ U(-rotation, rotation) deg,
    slant s ~ U(-shear, shear), scale k ~ U(scale), shift t ~ U(-shift, shift)^2 px. With
    `stroke`, strokes are thickened (2 x 2 grey dilation, p = 1/4) or thinned (2 x 2 grey
    erosion, p = 1/4, skipped where it would remove more than half the ink).
    """
    a = np.asarray(digit)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ConfigError(f"jitter expects a square (h, h) greyscale digit, got shape {a.shape}")
    d = _digit(a, a.shape[0])  # float32 in [0, 1]; validates the dtype
    theta = np.deg2rad(rng.uniform(-rotation, rotation))
    fwd = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]]) @ np.array(
        [[1.0, rng.uniform(-shear, shear)], [0.0, 1.0]]
    )
    m = np.linalg.inv(fwd) / rng.uniform(*scale)
    centre = (np.array(d.shape, np.float64) - 1) / 2
    t = rng.uniform(-shift, shift, 2)
    out = ndimage.affine_transform(d, m, offset=centre - m @ (centre + t), order=1)
    u = rng.random() if stroke else 1.0
    if u < 0.25:
        out = ndimage.grey_dilation(out, size=(2, 2))
    elif u < 0.5:
        thin = ndimage.grey_erosion(out, size=(2, 2))
        out = thin if thin.sum() > 0.5 * out.sum() else out
    return _u8(out)
