"""Geometric primitives behind the Mini-RIB styles (``styles.py``): float32 (h, w) fields."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def edges(d: np.ndarray) -> np.ndarray:
    """|grad d| by Sobel, scaled so that a unit step gives 1."""
    return np.hypot(ndimage.sobel(d, 0), ndimage.sobel(d, 1)) / 4


def smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], sigma: float) -> np.ndarray:
    """Gaussian-filtered white noise with unit std (per last two axes' field)."""
    n = ndimage.gaussian_filter(
        rng.standard_normal(shape, dtype=np.float32), (0,) * (len(shape) - 2) + (sigma, sigma)
    )
    return n / max(float(n.std()), 1e-6)


def warp(d: np.ndarray, dy: np.ndarray, dx: np.ndarray) -> np.ndarray:
    yy, xx = np.mgrid[0 : d.shape[0], 0 : d.shape[1]].astype(np.float32)
    return ndimage.map_coordinates(d, (yy + dy, xx + dx), order=1, mode="constant")


def affine(d: np.ndarray, angle_deg: float, scale: float, shift: np.ndarray) -> np.ndarray:
    """Rotate by angle, scale about the centre, then shift (px); bilinear, zero outside."""
    a = np.deg2rad(angle_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]) / scale
    centre = (np.array(d.shape, np.float64) - 1) / 2
    return ndimage.affine_transform(d, rot, offset=centre - rot @ (centre + shift), order=1)
