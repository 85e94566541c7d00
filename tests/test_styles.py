"""Stylisations of the mini suite: every style goes through the same shape/determinism checks."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from imagenet_rib.data import package_images, styles
from imagenet_rib.errors import ConfigError

Style = Callable[[np.ndarray, np.random.Generator, int], np.ndarray]


def ring_digit(size: int = 28) -> np.ndarray:
    """A white '0' (ring) on black, MNIST-like."""
    yy, xx = np.mgrid[0:size, 0:size] - (size - 1) / 2
    r = np.hypot(yy / 1.3, xx)
    return np.clip(255 * (1 - np.abs(r - size * 0.22) / (size * 0.08)), 0, 255).astype(np.uint8)


def bar_digit(size: int = 28) -> np.ndarray:
    """A white '1' (vertical bar) on black."""
    d = np.zeros((size, size), np.uint8)
    half = max(1, size // 10)
    d[size // 6 : size - size // 6, size // 2 - half : size // 2 + half] = 255
    return d


DIGITS = {
    "ring28": ring_digit(28),
    "bar28": bar_digit(28),
    "ring8": ring_digit(8),
    "bar8": bar_digit(8),
}
STYLES: dict[str, Style] = {
    "sketch": lambda d, rng, size: styles.sketch(d, rng, size=size),
    "cartoon": lambda d, rng, size: styles.cartoon(d, rng, size=size),
    "drawing": lambda d, rng, size: styles.drawing(d, rng, size=size),
    **{
        f"rendition-{kind}": (
            lambda d, rng, size, kind=kind: styles.rendition(
                d, rng, package_images.textures(), size=size, kind=kind
            )
        )
        for kind in styles.RENDITION_KINDS
    },
    "rendition-any": lambda d, rng, size: styles.rendition(
        d, rng, package_images.textures(), size=size
    ),
    "scene": lambda d, rng, size: styles.scene(d, rng, package_images.backgrounds(), size=size),
    "rich_view": lambda d, rng, size: styles.rich_view(
        d, rng, package_images.backgrounds(), size=size
    ),
}


@pytest.mark.parametrize("style", sorted(STYLES))
@pytest.mark.parametrize("digit", sorted(DIGITS))
def test_shape_dtype_and_determinism(style: str, digit: str) -> None:
    fn, d = STYLES[style], DIGITS[digit]
    for size in (24, 32, 40):
        out = fn(d, np.random.default_rng(11), size)
        assert out.shape == (size, size, 3) and out.dtype == np.uint8
        assert out.tobytes() == fn(d, np.random.default_rng(11), size).tobytes()
    others = [fn(d, np.random.default_rng(s), 32) for s in range(4)]
    assert len({o.tobytes() for o in others}) == 4  # the seed matters


@pytest.mark.parametrize("style", sorted(STYLES))
def test_digit_shape_shows_in_the_output(style: str) -> None:
    # Same seed, different digit: the rendering must change (the digit is visible).
    ring = STYLES[style](DIGITS["ring28"], np.random.default_rng(2), 32).astype(float)
    bar = STYLES[style](DIGITS["bar28"], np.random.default_rng(2), 32).astype(float)
    assert np.abs(ring - bar).mean() > 3


def test_clean_view_is_the_resized_digit_in_grey() -> None:
    out = styles.clean_view(DIGITS["bar28"], size=32)
    assert out.shape == (32, 32, 3) and out.dtype == np.uint8
    assert np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 0], out[..., 2])
    assert out[16, 16, 0] == 255 and out[0, 0, 0] == 0
    np.testing.assert_array_equal(
        styles.clean_view(DIGITS["ring8"], size=8)[..., 0], DIGITS["ring8"]
    )


def test_sketch_is_dark_strokes_on_light_paper() -> None:
    out = styles.sketch(DIGITS["ring28"], np.random.default_rng(0)).astype(float)
    grey = out.mean(axis=2)
    assert np.median(grey) > 200  # paper
    assert grey.min() < 120  # graphite
    assert grey[:4, :4].std() > 1  # grain, not a flat fill


def test_cartoon_is_flat_with_a_dark_outline() -> None:
    out = styles.cartoon(DIGITS["ring28"], np.random.default_rng(0))
    colours = np.unique(out.reshape(-1, 3), axis=0)
    assert len(colours) == 3  # fill, background, ink
    assert colours.sum(axis=1).min() <= 3 * 0.12 * 255 + 1


def test_drawing_hatching_follows_the_digit() -> None:
    d = styles._digit(DIGITS["ring28"], 32)
    ink = 255 - styles.drawing(DIGITS["ring28"], np.random.default_rng(0)).astype(float).mean(
        axis=2
    )
    assert np.median(ink) < 15  # white paper
    assert ink[d > 0.8].mean() > 4 * ink[d < 0.05].mean()


def test_rendition_kind_is_validated_and_drawn_when_none() -> None:
    with pytest.raises(ConfigError, match="painting"):
        styles.rendition(
            DIGITS["ring28"], np.random.default_rng(0), package_images.textures(), kind="oil"
        )
    with pytest.raises(ConfigError, match="textures"):
        styles.rendition(DIGITS["ring28"], np.random.default_rng(0), [], kind="texture")
    drawn = {
        styles.rendition(
            DIGITS["ring28"], np.random.default_rng(s), package_images.textures()
        ).tobytes()
        for s in range(3)
    }
    assert len(drawn) == 3


@pytest.mark.parametrize("border", [0, 1, 2, 3])
def test_scene_has_a_pure_red_border_and_a_visible_digit(border: int) -> None:
    for seed in range(8):
        out = styles.scene(
            DIGITS["ring28"],
            np.random.default_rng(seed),
            package_images.backgrounds(),
            border=border,
        )
        ring = np.ones((40, 40), bool)
        ring[border : 40 - border, border : 40 - border] = False
        assert np.all(out[ring] == styles.RED)
        inner = out[border : 40 - border, border : 40 - border]
        assert not np.all(inner == styles.RED)
        empty = np.zeros_like(DIGITS["ring28"])
        background = styles.scene(
            empty, np.random.default_rng(seed), package_images.backgrounds(), border=border
        )
        assert np.array_equal(background[ring], out[ring])
        change = np.abs(out.astype(float) - background).sum(axis=2)
        assert (change > 60).mean() > 0.02  # the digit covers a visible part of the frame
        assert change.max() > 150  # in a contrasting colour


def test_scene_rejects_a_border_that_leaves_no_image() -> None:
    with pytest.raises(ConfigError, match="border"):
        styles.scene(
            DIGITS["bar28"],
            np.random.default_rng(0),
            package_images.backgrounds(),
            size=12,
            border=3,
        )


def test_rich_views_vary_in_colour_far_more_than_clean_views() -> None:
    def colour_stats(views: list[np.ndarray]) -> np.ndarray:
        return np.array([[*v.mean(axis=(0, 1)), *v.std(axis=(0, 1))] for v in views])

    digits = [DIGITS["ring28"], DIGITS["bar28"]] * 10
    rich = colour_stats(
        [
            styles.rich_view(d, np.random.default_rng(s), package_images.backgrounds())
            for s, d in enumerate(digits)
        ]
    )
    clean = colour_stats([styles.clean_view(d) for d in digits])
    assert rich.std(axis=0).mean() > 3 * clean.std(axis=0).mean()
    chroma = [
        np.abs(np.diff(v.astype(float), axis=2)).mean()
        for v in (
            styles.rich_view(
                DIGITS["ring28"], np.random.default_rng(s), package_images.backgrounds()
            )
            for s in range(10)
        )
    ]
    assert np.mean(chroma) > 10  # coloured, unlike the grey clean views


def test_package_images_are_cached_read_only_uint8() -> None:
    images = package_images.package_images()
    assert set(images) == set(package_images.PACKAGE_IMAGE_NAMES)
    for name, img in images.items():
        assert img.dtype == np.uint8 and img.ndim in (2, 3), name
        assert min(img.shape[:2]) <= package_images.PACKAGE_SHORT_SIDE and not img.flags.writeable
    assert len(package_images.textures()) == len(package_images.TEXTURE_NAMES)
    assert len(package_images.backgrounds()) == len(package_images.BACKGROUND_NAMES)
    assert package_images.textures()[0] is package_images.package_images()["brick"]


def test_bad_digits_are_rejected_with_the_fix() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ConfigError, match="uint8"):
        styles.sketch(np.zeros((8, 8)), rng)
    with pytest.raises(ConfigError, match="greyscale"):
        styles.cartoon(np.zeros((28, 28, 3), np.uint8), rng)
    assert styles.clean_view(DIGITS["bar8"].astype(bool), size=8)[..., 0].max() == 255
