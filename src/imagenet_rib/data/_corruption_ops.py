"""Image primitives behind the ImageNet-C corruptions (``corruptions.py``).

Kernels are correlation kernels built by splatting weighted sub-pixel points bilinearly, so a
radius or a length below one pixel still blurs a little and grows smoothly with the parameter.
Resampling is separable linear interpolation done with gathers, never BLAS: BLAS threads stall
on small matrices when the cores are shared (e.g. several ``datasets.map`` workers).
The plasma fractal is the diamond-square map of Hendrycks & Dietterich (ICLR 2019).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import ndimage
from scipy.signal import fftconvolve

from ..errors import ConfigError

SUBSTEP = 0.25  # sub-pixel spacing of the points splatted into disk and line kernels
FFT_MIN_KERNEL = 12  # kernels at least this wide are applied by FFT
PLASMA_EXTENT = 256 / 224  # the reference crops 224 px from a 256 px map

Interp = tuple[np.ndarray, np.ndarray, np.ndarray]  # (i0, i1, t): linear interpolation taps


def splat_kernel(points: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Correlation kernel from weighted sub-pixel offsets ``points`` (n, 2) = (dy, dx).

    Each point's weight is shared bilinearly among its 4 neighbouring taps; sum is 1.
    """
    r = int(np.ceil(np.abs(points).max(initial=0.0))) + 1
    kernel = np.zeros((2 * r + 1, 2 * r + 1), np.float64)
    pos = points + r
    base = np.floor(pos).astype(np.int64)
    frac = pos - base
    for oy in (0, 1):
        for ox in (0, 1):
            wy = frac[:, 0] if oy else 1 - frac[:, 0]
            wx = frac[:, 1] if ox else 1 - frac[:, 1]
            np.add.at(kernel, (base[:, 0] + oy, base[:, 1] + ox), weights * wy * wx)
    nz = np.argwhere(kernel > 0)
    trim = int(min(nz.min(), 2 * r - nz.max()))  # keep the kernel centred, drop empty rim
    kernel = kernel[trim : kernel.shape[0] - trim, trim : kernel.shape[1] - trim]
    return (kernel / kernel.sum()).astype(np.float32)


@lru_cache(maxsize=128)
def disk_kernel(radius: float, alias_sigma: float) -> np.ndarray:
    """Uniform disk of ``radius`` px (anti-aliased), then a Gaussian of ``alias_sigma``."""
    n = int(np.ceil(radius / SUBSTEP))
    g = np.arange(-n, n + 1) * SUBSTEP
    yy, xx = np.meshgrid(g, g, indexing="ij")
    inside = yy**2 + xx**2 <= radius**2 + 1e-9
    kernel = splat_kernel(np.stack([yy[inside], xx[inside]], 1), np.ones(int(inside.sum())))
    if alias_sigma > 0.05:
        pad = int(np.ceil(3 * alias_sigma))
        kernel = ndimage.gaussian_filter(np.pad(kernel, pad), alias_sigma, mode="constant")
        kernel /= kernel.sum()
    return kernel


def line_kernel(
    radius: float, sigma: float, angle_deg: float, two_sided: bool = False
) -> np.ndarray:
    """ImageMagick motion kernel: taps at t in [0, 2 radius] along ``angle``, w = exp(-t^2/2s^2)."""
    t = np.arange(0.0, 2 * radius + 1e-9, SUBSTEP)
    if two_sided:
        t = np.concatenate([-t[:0:-1], t])
    a = np.deg2rad(angle_deg)
    points = np.stack([t * np.sin(a), t * np.cos(a)], 1)
    return splat_kernel(points, np.exp(-(t**2) / (2 * max(sigma, 1e-3) ** 2)))


def correlate(x: np.ndarray, kernel: np.ndarray, mode: str) -> np.ndarray:
    """out(p) = sum_q kernel(q) x(p + q) per channel; ``mode`` is 'mirror' or 'nearest'."""
    k = kernel if x.ndim == 2 else kernel[..., None]
    if kernel.shape[0] < FFT_MIN_KERNEL:
        return ndimage.correlate(x, k, mode=mode)
    r = kernel.shape[0] // 2
    pad = ((r, r), (r, r)) + ((0, 0),) * (x.ndim - 2)
    padded = np.pad(x, pad, mode={"mirror": "reflect", "nearest": "edge"}[mode])
    return fftconvolve(padded, k[::-1, ::-1], mode="valid", axes=(0, 1)).astype(np.float32)


def interp_taps(src: np.ndarray, n_in: int) -> Interp:
    """Taps sampling a length-n_in signal at coordinates ``src`` (clamped at the ends)."""
    src = np.clip(src, 0, n_in - 1)
    i0 = np.floor(src).astype(np.int64)
    return i0, np.minimum(i0 + 1, n_in - 1), (src - i0).astype(np.float32)


def resample(a: np.ndarray, rows: Interp, cols: Interp) -> np.ndarray:
    """Separable linear resampling of a (H, W, ...) array (gathers, see the module docstring)."""
    i0, i1, t = rows
    t = t.reshape(-1, *([1] * (a.ndim - 1)))
    a = a[i0] * (1 - t) + a[i1] * t
    i0, i1, t = cols
    t = t.reshape(1, -1, *([1] * (a.ndim - 2)))
    return a[:, i0] * (1 - t) + a[:, i1] * t


def resize_taps(n_out: int, n_in: int, ratio: float) -> Interp:
    """Sample n_out pixel centres at ``ratio`` input px per output px from the top-left."""
    return interp_taps((np.arange(n_out) + 0.5) * ratio - 0.5, n_in)


def plasma_fractal(mapsize: int, wibbledecay: float, rng: np.random.Generator) -> np.ndarray:
    """Diamond-square height map (mapsize, mapsize) in [0, 1]; ``mapsize`` a power of two.

    As the reference: octave k adds wibble_k * U(-wibble_k, wibble_k) with wibble_0 = 100 and
    wibble_{k+1} = wibble_k / wibbledecay (the squared amplitude is the reference's quirk).
    """
    if mapsize < 2 or mapsize & (mapsize - 1):
        raise ConfigError(f"plasma_fractal mapsize must be a power of two >= 2, got {mapsize}")
    m = np.zeros((mapsize, mapsize), np.float64)
    step, wibble = mapsize, 100.0

    def wibbled_mean(a: np.ndarray) -> np.ndarray:
        return a / 4 + wibble * rng.uniform(-wibble, wibble, a.shape)

    while step >= 2:
        half = step // 2
        corners = m[0:mapsize:step, 0:mapsize:step]
        acc = corners + np.roll(corners, -1, axis=0)
        acc += np.roll(acc, -1, axis=1)
        m[half:mapsize:step, half:mapsize:step] = wibbled_mean(acc)
        dr = m[half:mapsize:step, half:mapsize:step]
        ul = m[0:mapsize:step, 0:mapsize:step]
        lt = dr + np.roll(dr, 1, axis=0) + ul + np.roll(ul, -1, axis=1)
        m[0:mapsize:step, half:mapsize:step] = wibbled_mean(lt)
        tt = dr + np.roll(dr, 1, axis=1) + ul + np.roll(ul, -1, axis=0)
        m[half:mapsize:step, 0:mapsize:step] = wibbled_mean(tt)
        step = half
        wibble /= wibbledecay
    m -= m.min()
    return m / max(m.max(), 1e-12)


@lru_cache(maxsize=64)
def _plasma_grid(h: int, w: int) -> tuple[int, Interp, Interp]:
    extent = max(h, w) * PLASMA_EXTENT  # same map-to-image ratio as the reference
    mapsize = max(4, 1 << int(np.ceil(np.log2(extent))))
    ratio = mapsize / extent
    return mapsize, resize_taps(h, mapsize, ratio), resize_taps(w, mapsize, ratio)


def plasma(h: int, w: int, wibbledecay: float, rng: np.random.Generator) -> np.ndarray:
    mapsize, rows, cols = _plasma_grid(h, w)
    return resample(plasma_fractal(mapsize, wibbledecay, rng).astype(np.float32), rows, cols)


def smoothed_uniform_noise(h: int, w: int, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """G_sigma * U(-1, 1) white noise (reflect borders, truncate 3), shape (h, w).

    For sigma >= 8 px the noise is drawn on a grid f = floor(sigma / 4) times coarser, as
    f x f block means (same field statistics: a block mean carries the block's total weight),
    filtered with sigma / f and resampled linearly: O(h w) instead of O(h w sigma).
    """
    f = int(sigma // 4) if sigma >= 8 else 1
    if f == 1:
        return ndimage.gaussian_filter(
            rng.uniform(-1, 1, (h, w)), sigma, mode="reflect", truncate=3
        )
    ch, cw = -(-h // f), -(-w // f)
    blocks = rng.uniform(-1, 1, (ch, f, cw, f)).mean(axis=(1, 3))
    coarse = ndimage.gaussian_filter(blocks, sigma / f, mode="reflect", truncate=3)
    return resample(coarse, resize_taps(h, ch, 1 / f), resize_taps(w, cw, 1 / f))


FROST_ANGLES = 6  # needle directions per frost texture


def frost_texture(h: int, w: int, s: float, rng: np.random.Generator) -> np.ndarray:
    """Procedural frost (H, W, 3) in [0, 1]: ice needles clustered where a plasma haze is dense.

    Needles grow from sparse seeds (about 300 per 224 x 224 frame, more where the haze is
    bright) in ``FROST_ANGLES`` random directions with random lengths up to 20 s px, over a
    fine rime grain and the haze itself; tinted bluish white.
    """
    haze = plasma(h, w, 1.6, rng)
    grain = ndimage.gaussian_filter(rng.standard_normal((h, w), dtype=np.float32), 0.6 * s)
    grain = np.abs(grain) / max(float(grain.std()), 1e-6)
    seed_p = min(0.3, 0.006 / (s * s * FROST_ANGLES)) * 2 * haze
    crystals = np.zeros((h, w), np.float32)
    for angle, length in zip(rng.uniform(0, 180, FROST_ANGLES), rng.uniform(6, 20, FROST_ANGLES)):
        seeds = (rng.random((h, w)) < seed_p).astype(np.float32)
        needle = line_kernel(length * s / 2, length * s / 2, angle, two_sided=True)
        crystals += correlate(seeds, needle * needle.shape[0], "mirror")
    # A needle is ~1/s px wide at 224 px, so below 224 px its coverage is diluted by s.
    crystals = 1 - np.exp(-min(s, 1.0) * crystals)  # dense ice saturates to white
    grey = np.clip(0.3 + 0.35 * haze + 0.1 * grain + 0.6 * crystals, 0, 1)
    tint = np.array([0.86, 0.93, 1.0], np.float32)
    return grey[..., None] * tint + np.array([0.0, 0.02, 0.05], np.float32)
