"""ImageNet-C corruptions: every registered corruption x severity goes through the same checks."""

from __future__ import annotations

import random

import datasets
import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from imagenet_rib.data.corruptions import (
    CORRUPTION_FUNCTIONS,
    CORRUPTIONS,
    DETERMINISTIC_CORRUPTIONS,
    MIN_SPATIAL_SCALE,
    PARAMETERS,
    SEVERITIES,
    corrupt,
    plasma_fractal,
)
from imagenet_rib.data.corruptions_dataset import apply_to_dataset, image_seed
from imagenet_rib.errors import ConfigError, UnknownNameError

SIZES = [(8, 8), (28, 28), (32, 40), (64, 64)]
STOCHASTIC = sorted(set(CORRUPTIONS) - DETERMINISTIC_CORRUPTIONS)
CASES = [(n, s) for n in CORRUPTIONS for s in SEVERITIES]


def textured(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Isotropic texture in [0.2, 0.8]: smoothed white noise, per channel shifted colours."""
    rng = np.random.default_rng(seed)
    noise = ndimage.gaussian_filter(rng.standard_normal((h, w, 3)), (1.2, 1.2, 0))
    noise /= np.abs(noise).max()
    return np.rint((0.5 + 0.3 * noise) * 255).astype(np.uint8)


def diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).mean())


def laplacian_energy(img: np.ndarray) -> float:
    return float(np.abs(ndimage.laplace(img.astype(np.float64).mean(axis=2))).mean())


@pytest.fixture(scope="module")
def tex64() -> np.ndarray:
    return textured(64, 64)


def test_registry_holds_exactly_the_15_corruptions() -> None:
    assert len(CORRUPTIONS) == 15 and len(set(CORRUPTIONS)) == 15
    assert CORRUPTION_FUNCTIONS.names() == sorted(CORRUPTIONS)
    assert set(PARAMETERS) == set(CORRUPTIONS)
    assert all(len(rows) == len(SEVERITIES) for rows in PARAMETERS.values())


@pytest.mark.parametrize(("name", "severity"), CASES)
def test_shape_dtype_and_determinism(name: str, severity: int) -> None:
    for h, w in SIZES:
        img = textured(h, w)
        out = corrupt(img, name, severity, 7)
        assert out.shape == (h, w, 3) and out.dtype == np.uint8
        np.testing.assert_array_equal(out, corrupt(img, name, severity, 7))
        np.testing.assert_array_equal(out, corrupt(img, name, severity, np.random.default_rng(7)))


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_greyscale_pil_and_rgba_inputs_match_rgb(name: str) -> None:
    grey = textured(28, 28)[..., 0]
    rgb = np.repeat(grey[..., None], 3, axis=2)
    expected = corrupt(rgb, name, 3, 1)
    np.testing.assert_array_equal(corrupt(grey, name, 3, 1), expected)
    np.testing.assert_array_equal(corrupt(Image.fromarray(grey), name, 3, 1), expected)
    rgba = np.concatenate([rgb, np.full((28, 28, 1), 9, np.uint8)], axis=2)
    np.testing.assert_array_equal(corrupt(rgba, name, 3, 1), expected)


@pytest.mark.parametrize("name", STOCHASTIC)
def test_different_seeds_give_different_images(name: str, tex64: np.ndarray) -> None:
    for severity in SEVERITIES:
        assert not np.array_equal(
            corrupt(tex64, name, severity, 0), corrupt(tex64, name, severity, 1)
        )


@pytest.mark.parametrize("name", sorted(DETERMINISTIC_CORRUPTIONS))
def test_deterministic_corruptions_ignore_the_seed(name: str, tex64: np.ndarray) -> None:
    np.testing.assert_array_equal(corrupt(tex64, name, 4, 0), corrupt(tex64, name, 4, 123))


def test_global_rng_state_is_untouched(tex64: np.ndarray) -> None:
    np.random.seed(5)
    random.seed(5)
    np_state, py_state = np.random.get_state(), random.getstate()
    for name in CORRUPTIONS:
        corrupt(tex64, name, 5, 0)
    after = np.random.get_state()
    assert all(np.array_equal(a, b) for a, b in zip(np_state, after))
    assert random.getstate() == py_state


def mean_change(img: np.ndarray, name: str, severity: int) -> float:
    return float(np.mean([diff(corrupt(img, name, severity, s), img) for s in range(3)]))


# The reference elastic table is not monotone in pixel change: severities 1-2 are large random
# affine warps (jitter 24-49 px at 224 px), 3-5 small affine + growing local elastic fields.
NON_MONOTONE = {"elastic_transform": (3, 5)}


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_severity_5_degrades_at_least_as_much_as_severity_1(name: str) -> None:
    img = textured(64, 64, seed=3)
    low, high = NON_MONOTONE.get(name, (1, 5))
    assert mean_change(img, name, high) >= mean_change(img, name, low) > 0


def test_elastic_local_distortion_grows_over_severities_3_to_5() -> None:
    img = textured(64, 64, seed=3)
    changes = [mean_change(img, "elastic_transform", s) for s in (3, 4, 5)]
    assert np.all(np.diff(changes) > 0), changes
    assert mean_change(img, "elastic_transform", 1) > changes[-1]  # the big affine warps


@pytest.mark.parametrize("name", ["gaussian_noise", "shot_noise", "impulse_noise"])
def test_noise_deviation_grows_with_severity(name: str, tex64: np.ndarray) -> None:
    devs = [diff(corrupt(tex64, name, s, 0), tex64) for s in SEVERITIES]
    assert np.all(np.diff(devs) > 0), devs


def test_gaussian_noise_matches_its_sigma(tex64: np.ndarray) -> None:
    # Unclipped region (texture in [0.2, 0.8], sigma 0.08): residual std ~ 0.08 * 255.
    residual = corrupt(tex64, "gaussian_noise", 1, 0).astype(float) - tex64
    assert residual.std() == pytest.approx(0.08 * 255, rel=0.05)


@pytest.mark.parametrize("name", ["defocus_blur", "motion_blur", "zoom_blur"])
def test_blur_high_frequency_energy_falls_with_severity(name: str, tex64: np.ndarray) -> None:
    energy = [laplacian_energy(corrupt(tex64, name, s, 0)) for s in SEVERITIES]
    assert energy[0] < laplacian_energy(tex64)
    assert np.all(np.diff(energy) < 0), energy


def test_glass_blur_removes_high_frequencies_at_224() -> None:
    # Below ~100 px the sigmas are sub-pixel and the whole-pixel scramble dominates (as in
    # CIFAR-10-C); at the reference size the blur wins.
    img = textured(224, 224)
    energy = [laplacian_energy(corrupt(img, "glass_blur", s, 0)) for s in (1, 5)]
    assert energy[1] < energy[0] < laplacian_energy(img)


def test_contrast_std_falls_and_mean_is_kept(tex64: np.ndarray) -> None:
    outs = [corrupt(tex64, "contrast", s, 0).astype(float) for s in SEVERITIES]
    stds = [o.std(axis=(0, 1)).mean() for o in outs]
    assert np.all(np.diff(stds) < 0)
    assert stds[0] == pytest.approx(0.4 * tex64.std(axis=(0, 1)).mean(), rel=0.02)
    np.testing.assert_allclose(outs[4].mean(axis=(0, 1)), tex64.mean(axis=(0, 1)), atol=0.6)


def test_brightness_mean_grows_and_black_turns_grey(tex64: np.ndarray) -> None:
    means = [corrupt(tex64, "brightness", s, 0).mean() for s in SEVERITIES]
    assert np.all(np.diff(means) > 0)
    black = np.zeros((8, 8, 3), np.uint8)
    assert np.all(corrupt(black, "brightness", 5, 0) == round(0.5 * 255))


def test_pixelate_detail_falls_with_severity(tex64: np.ndarray) -> None:
    distinct = [
        len(np.unique(corrupt(tex64, "pixelate", s, 0).reshape(-1, 3), axis=0)) for s in SEVERITIES
    ]
    assert np.all(np.diff(distinct) < 0), distinct
    assert distinct[-1] <= 16 * 16  # 64 * 0.25 = 16 blocks a side


def test_jpeg_error_grows_with_severity(tex64: np.ndarray) -> None:
    errors = [diff(corrupt(tex64, "jpeg_compression", s, 0), tex64) for s in SEVERITIES]
    assert np.all(np.diff(errors) > 0), errors


def test_weather_layers_add_structure_to_a_flat_image() -> None:
    dark = np.full((32, 40, 3), 40, np.uint8)
    assert corrupt(dark, "frost", 5, 0).mean() > dark.mean() + 40
    assert corrupt(dark, "snow", 5, 0).mean() > dark.mean() + 40
    for name in ("fog", "frost", "snow"):
        assert corrupt(dark, name, 3, 0).std() > 1


@pytest.mark.parametrize("name", ["defocus_blur", "motion_blur"])
def test_spatial_parameters_scale_with_image_size(name: str) -> None:
    # Blurring at 224 px then downsampling 4x ~ downsampling then blurring at 56 px.
    big = np.asarray(
        Image.fromarray(textured(56, 56, seed=2)).resize((224, 224), Image.Resampling.BICUBIC)
    )
    small = np.asarray(Image.fromarray(big).resize((56, 56), Image.Resampling.BOX))
    down = np.asarray(
        Image.fromarray(corrupt(big, name, 5, 0)).resize((56, 56), Image.Resampling.BOX)
    )
    unscaled_gap = diff(small, down)
    assert diff(corrupt(small, name, 5, 0), down) < 0.4 * unscaled_gap


def test_small_images_use_the_28px_floor() -> None:
    img = textured(8, 8)
    assert pytest.approx(28 / 224) == MIN_SPATIAL_SCALE
    assert laplacian_energy(corrupt(img, "defocus_blur", 5, 0)) < 0.8 * laplacian_energy(img)


def test_errors_name_the_fix(tex64: np.ndarray) -> None:
    with pytest.raises(UnknownNameError, match="gaussian_noise"):
        corrupt(tex64, "gausian_noise", 1, 0)
    for bad in (0, 6, 2.5, True, "3"):
        with pytest.raises(ConfigError, match=r"\(1, 2, 3, 4, 5\)"):
            corrupt(tex64, "fog", bad, 0)
    with pytest.raises(ConfigError, match="uint8"):
        corrupt(tex64.astype(np.float32) / 255, "fog", 1, 0)
    with pytest.raises(ConfigError, match="seed"):
        corrupt(tex64, "fog", 1, None)


def test_plasma_fractal_range_and_determinism() -> None:
    a = plasma_fractal(32, 2.0, np.random.default_rng(0))
    assert a.shape == (32, 32) and a.min() == 0 and a.max() == 1
    np.testing.assert_array_equal(a, plasma_fractal(32, 2.0, np.random.default_rng(0)))
    with pytest.raises(ConfigError, match="power of two"):
        plasma_fractal(30, 2.0, np.random.default_rng(0))


# --------------------------------------------------------------------------- datasets


@pytest.fixture(scope="module")
def tiny_dataset() -> datasets.Dataset:
    datasets.disable_progress_bars()
    images = [Image.fromarray(textured(12, 16, seed=i)[..., 0]) for i in range(4)]  # greyscale
    features = datasets.Features(
        {
            "image": datasets.Image(),
            "label": datasets.Value("int64"),
            "severity": datasets.Value("int32"),
        }
    )
    return datasets.Dataset.from_dict(
        {"image": images, "label": [3, 1, 2, 0], "severity": [9] * 4}, features=features
    )


def test_apply_to_dataset_all_settings(tiny_dataset: datasets.Dataset) -> None:
    out = apply_to_dataset(tiny_dataset, seed=5)
    assert len(out) == 4 * 15 * 5
    assert set(out.column_names) == {"image", "label", "corruption", "severity"}
    assert out.features["severity"] == datasets.Value("int64")
    expected = [(n, s) for n in CORRUPTIONS for s in SEVERITIES for _ in range(4)]
    assert list(zip(out["corruption"], out["severity"])) == expected
    assert out["label"] == [3, 1, 2, 0] * 75
    for j in (0, 37, 150, 299):
        name, sev, i = out[j]["corruption"], out[j]["severity"], j % 4
        clean = np.asarray(tiny_dataset[i]["image"])
        np.testing.assert_array_equal(
            np.asarray(out[j]["image"]), corrupt(clean, name, sev, image_seed(5, name, sev, i))
        )


SUBSET = {"corruptions": ("glass_blur", "snow"), "severities": (2, 5), "seed": 1}


def assert_same_images(a: datasets.Dataset, b: datasets.Dataset) -> None:
    assert len(a) == len(b)
    for x, y in zip(a["image"], b["image"]):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_apply_to_dataset_is_independent_of_processing_order(
    tiny_dataset: datasets.Dataset,
) -> None:
    ref = apply_to_dataset(tiny_dataset, **SUBSET)
    assert len(ref) == 4 * 2 * 2
    shuffled = tiny_dataset.add_column("row", list(range(4))).shuffle(seed=3)
    resorted = shuffled.select(np.argsort(shuffled["row"])).remove_columns("row")
    assert resorted["label"] == tiny_dataset["label"]
    assert_same_images(ref, apply_to_dataset(resorted, batch_size=3, **SUBSET))
    other_seed = apply_to_dataset(tiny_dataset, **{**SUBSET, "seed": 2})
    assert not np.array_equal(np.asarray(ref[0]["image"]), np.asarray(other_seed[0]["image"]))


@pytest.mark.slow
def test_apply_to_dataset_is_independent_of_num_proc(tiny_dataset: datasets.Dataset) -> None:
    assert_same_images(
        apply_to_dataset(tiny_dataset, **SUBSET),
        apply_to_dataset(tiny_dataset, num_proc=2, batch_size=1, **SUBSET),
    )


def test_apply_to_dataset_errors(tiny_dataset: datasets.Dataset) -> None:
    with pytest.raises(UnknownNameError, match="pixelate"):
        apply_to_dataset(tiny_dataset, corruptions=("pixelat",))
    with pytest.raises(ConfigError, match="image_column"):
        apply_to_dataset(tiny_dataset, image_column="img")
    with pytest.raises(ConfigError, match="severity"):
        apply_to_dataset(tiny_dataset, severities=(0,))
    with pytest.raises(ConfigError, match="sequences"):
        apply_to_dataset(tiny_dataset, corruptions="fog")
