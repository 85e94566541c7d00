"""Models by name: presets registered, transforms from each model's own pretrained config,
offline failure without cached weights, and the parameter names methods rely on."""

from __future__ import annotations

import pytest

from imagenet_rib.errors import ModelNotAvailableError
from imagenet_rib.models import MODELS, load_model
from imagenet_rib.models.presets import TORCHVISION_PRESETS, VIT_PRESETS, timm_transform

#: (preset, resize, crop, interpolation, mean[0]) from the timm pretrained configs
EXPECTED_VIT = {
    "vit-b16-augreg-in1k": (248, 224, "bicubic", 0.5),
    "vit-b16-sam-in1k": (248, 224, "bicubic", 0.5),
    "vit-b16-in21k": (248, 224, "bicubic", 0.5),
    "vit-b16-in21k-miil": (256, 224, "bilinear", 0.0),
    "vit-b16-augreg-in21k": (248, 224, "bicubic", 0.5),
    "vit-b16-clip-openai": (248, 224, "bicubic", 0.48145466),
    "vit-b16-clip-laion2b": (224, 224, "bicubic", 0.48145466),
}


def test_all_presets_are_registered():
    MODELS.load()  # the built-in modules register their models
    assert set(VIT_PRESETS) | set(TORCHVISION_PRESETS) <= set(MODELS.names())
    assert set(VIT_PRESETS) == set(EXPECTED_VIT)


@pytest.mark.parametrize("name", sorted(VIT_PRESETS))
def test_vit_transform_comes_from_the_timm_pretrained_config(name):
    t = timm_transform(VIT_PRESETS[name])
    assert (t.resize, t.crop, t.interpolation, t.mean[0]) == pytest.approx(EXPECTED_VIT[name])


def test_transform_agrees_with_timm_resolve_data_config():
    import timm
    from timm.data import resolve_data_config

    tag = VIT_PRESETS["vit-b16-clip-openai"]
    model = timm.create_model(tag, pretrained=False, depth=1, embed_dim=32, num_heads=2)
    cfg = resolve_data_config({}, model=model)
    t = timm_transform(tag)
    assert t.crop == cfg["input_size"][-1] and t.mean == pytest.approx(cfg["mean"])
    assert t.std == pytest.approx(cfg["std"]) and t.interpolation == cfg["interpolation"]
    assert t.resize == int(cfg["input_size"][-1] / cfg["crop_pct"])


@pytest.mark.parametrize("size", [(500, 375), (375, 500), (641, 480), (257, 300), (1023, 767)])
def test_transform_pixels_equal_timms_own_eval_transform(size):
    """Resize of the shorter side (long side truncated) + centre crop (offset rounded), as
    timm's eval transform: bit-identical uint8 pixels on odd and even margins."""
    import numpy as np
    from PIL import Image
    from timm.data import create_transform, resolve_data_config
    from timm.models import get_pretrained_cfg

    tag = VIT_PRESETS["vit-b16-augreg-in1k"]
    cfg = resolve_data_config({}, pretrained_cfg=get_pretrained_cfg(tag).to_dict())
    resize, crop = create_transform(**cfg, is_training=False).transforms[:2]  # then ToTensor..
    w, h = size
    image = Image.fromarray(np.random.default_rng(w).integers(0, 256, (h, w, 3), np.uint8))
    expected = np.asarray(crop(resize(image))).transpose(2, 0, 1)
    assert np.array_equal(timm_transform(tag).geometry(image), expected)


@pytest.mark.parametrize(
    ("name", "resize"), [("resnet18", 256), ("resnet50", 256), ("resnet50-v2", 232)]
)
def test_torchvision_transform_comes_from_the_weights_metadata(name, resize):
    from imagenet_rib.models.presets import _weights, torchvision_transform

    t = torchvision_transform(_weights(TORCHVISION_PRESETS[name][1]))
    assert (t.resize, t.crop, t.interpolation) == (resize, 224, "bilinear")
    assert t.mean == pytest.approx((0.485, 0.456, 0.406))


@pytest.mark.parametrize("name", ["vit-b16-augreg-in1k", "vit-b16-clip-laion2b"])
def test_offline_timm_preset_without_cache_fails_fast_with_the_download_command(name):
    with pytest.raises(ModelNotAvailableError, match=rf"hf download timm/{VIT_PRESETS[name]}"):
        load_model(name)


def test_offline_torchvision_preset_without_cache_fails_fast(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(ModelNotAvailableError, match="torchvision.models.resnet18"):
        load_model("resnet18")


def test_local_hf_folder_loads_with_its_processor_transform(tiny_root):
    loaded = load_model(str(tiny_root / "model"))
    assert loaded.label_space == "mini-digits" and loaded.revision.startswith("sha256:")
    assert (loaded.transform.crop, loaded.transform.mean) == (32, (0.5, 0.5, 0.5))


def test_method_parameter_names_on_timm_and_torchvision_models():
    """Head, paper-variant extras and LoRA targets resolve on every model kind."""
    import timm
    import torchvision

    from imagenet_rib.methods.base import head_prefix, is_paper_extra
    from imagenet_rib.methods.lora import resolve_targets
    from imagenet_rib.models.presets import TorchvisionClassifier

    vit = timm.create_model(
        "vit_base_patch16_224",
        pretrained=False,
        depth=1,
        embed_dim=32,
        num_heads=2,
        img_size=32,
        patch_size=8,
    )
    assert head_prefix(vit) == "head"
    assert {n for n, _ in vit.named_parameters() if is_paper_extra(n)} == {
        "cls_token",
        "pos_embed",
        "norm.weight",
        "norm.bias",
    }
    assert resolve_targets(vit, ("auto",)) == ["qkv"]
    resnet = TorchvisionClassifier("resnet18", torchvision.models.resnet18(weights=None))
    assert head_prefix(resnet) == "net.fc"
    assert not any(is_paper_extra(n) for n, _ in resnet.named_parameters())


def test_head_class_names_are_checked_against_the_label_space(tmp_path, caplog):
    import torchvision

    from imagenet_rib.data.labels import MINI_DIGITS, imagenet_1k
    from imagenet_rib.errors import ConfigError
    from imagenet_rib.models.hf import check_class_names

    space = imagenet_1k()
    cats = torchvision.models.ResNet50_Weights.IMAGENET1K_V1.meta["categories"]
    for names in (space.wnids, space.lemmas, cats):  # wnids, lemmas, torchvision short names
        check_class_names(names, "imagenet-1k", model="m")
    with pytest.raises(ConfigError, match="logit 0 is 'goldfish' but class 0 is 'n01440764'"):
        check_class_names(cats[1:] + cats[:1], "imagenet-1k", model="m")
    check_class_names(list(reversed(MINI_DIGITS.wnids)), "mini-digits", model="m", allow=True)
    assert "accepted because allow_label_mismatch=True" in caplog.text


def test_shuffled_head_loads_only_with_the_explicit_override(tmp_path):
    from transformers import ViTForImageClassification

    from imagenet_rib.data.labels import MINI_DIGITS
    from imagenet_rib.errors import ConfigError
    from imagenet_rib.models.mini import image_processor, vit_config

    names = list(reversed(MINI_DIGITS.wnids))
    config = vit_config(hidden_size=16, num_hidden_layers=1, intermediate_size=16)
    config.id2label = dict(enumerate(names))
    config.label2id = {n: i for i, n in enumerate(names)}
    ViTForImageClassification(config).save_pretrained(tmp_path / "m")
    image_processor().save_pretrained(tmp_path / "m")
    with pytest.raises(ConfigError, match="disagrees with label space 'mini-digits'"):
        load_model(str(tmp_path / "m"))
    loaded = load_model(str(tmp_path / "m"), allow_label_mismatch=True)
    assert loaded.label_space == "mini-digits"
