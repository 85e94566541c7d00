"""Every fine-tuning method through the same checks (tiny ViT, a few CPU steps).

Per registered method: the contract (kind, one-line description, documented options,
sources), config round trips; per training method: the loss is finite, exactly the
parameters that should change do change, and a reloaded run gives the logits of the returned
model. Plus LoRA merging, WiSE-FT end points, soups of identical runs, the validation of
derived methods' sources, and a method's own wrapper saved through its save/load hook.
"""

from __future__ import annotations

import dataclasses
import math
import re

import pytest
import torch

from imagenet_rib.data.splits import SplitConfig
from imagenet_rib.errors import ConfigError
from imagenet_rib.finetune import derived_models, finetune, load_run
from imagenet_rib.methods import (
    KINDS,
    METHODS,
    Method,
    MethodConfig,
    get_method,
    register_method,
)
from imagenet_rib.methods.base import head_prefix, is_paper_extra
from imagenet_rib.models import logits_of
from support.rib_train_helpers import quick_train, tiny_loaded

EXPECTED = {
    "pretrained",
    "ft",
    "linear-probe",
    "lp-ft",
    "lora",
    "ewc",
    "l2sp",
    "lwf",
    "wise-ft",
    "soup",
    "visual-prompt",
}
SPLIT = SplitConfig(rule="none")
TRAINED = ["ft", "linear-probe", "lp-ft", "lora", "ewc", "l2sp", "lwf", "visual-prompt", "ewc+lwf"]
CONFIGS = {
    "lp-ft": {"lp_epochs": 1, "ft_epochs": 1},
    "ewc": {"fisher_samples": 16},
    "ewc+lwf": {"ewc": {"fisher_samples": 16}},
}


def _changed(before: dict, after: dict) -> set[str]:
    return {n for n, t in before.items() if not torch.equal(t, after[n])}


@pytest.fixture(scope="module")
def runs(tiny_root, tmp_path_factory):
    """One short run per training method, shared by the checks below."""
    mp = pytest.MonkeyPatch()
    mp.setenv("IMAGENET_RIB_DATA_DIR", str(tiny_root / "data"))
    out = tmp_path_factory.mktemp("runs")
    results = {
        m: finetune(
            str(tiny_root / "model"),
            m,
            "mini-r",
            method_config=CONFIGS.get(m),
            train=quick_train(max_steps=2),
            split=SPLIT,
            output_dir=out / m,
        )
        for m in TRAINED
    }
    yield results
    mp.undo()


def test_registry_holds_exactly_the_benchmark_methods():
    assert set(METHODS.names()) == EXPECTED
    for name in EXPECTED:
        method = METHODS.get(name)
        assert method.name == name and method.kind in ("train", "derived", "baseline")
        assert method.make_config().to_dict() == method.Config.from_dict({}).to_dict()


@pytest.mark.parametrize("name", METHODS.names())
def test_every_registered_method_keeps_the_contract(name):
    method = get_method(name)
    assert method.kind in KINDS and method.description and "\n" not in method.description
    assert issubclass(method.Config, MethodConfig)
    assert all(f.metadata.get("help") for f in dataclasses.fields(method.Config))
    sources = method.sources(method.make_config())
    if method.kind == "derived":  # by default, runs of registered training methods
        assert sources and all(get_method(s).kind == "train" for s in sources)
    else:
        assert sources == ()


@pytest.mark.parametrize("name", METHODS.names())
def test_config_round_trips_and_rejects_unknown_keys(name):
    method = get_method(name)
    cfg = method.make_config()
    assert method.make_config(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="unknown option"):
        method.make_config({"no_such_option": 1})


@pytest.mark.parametrize("name", TRAINED)
def test_loss_finite_and_the_right_parameters_change(name, runs, tiny_root):
    result = runs[name]
    losses = [r["loss"] for r in result.log if "loss" in r]
    assert losses and all(math.isfinite(v) for v in losses)
    pre = tiny_loaded(tiny_root).model
    before = pre.state_dict()
    if name == "visual-prompt":
        after = result.model.model.state_dict()
        assert _changed(before, after) == set()
        assert all(p.abs().sum() > 0 for p in result.model.prompter.parameters())
        return
    after = result.model.state_dict()
    assert set(after) == set(before)  # LoRA merged away: plain model keys
    changed = _changed(before, after)
    head = head_prefix(pre)
    if name == "linear-probe":  # default: the paper variant
        expected = {n for n in before if n.startswith(head + ".") or is_paper_extra(n)}
        assert expected == {
            "classifier.weight",
            "classifier.bias",
            "vit.embeddings.cls_token",
            "vit.embeddings.position_embeddings",
            "vit.layernorm.weight",
            "vit.layernorm.bias",
        }
    elif name == "lora":
        expected = {n for n in before if n.endswith(("q_proj.weight", "v_proj.weight"))}
    else:
        expected = set(before)
    assert changed == expected


@pytest.mark.parametrize("name", TRAINED)
def test_reloaded_run_gives_the_same_logits(name, runs):
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        a = logits_of(runs[name].model.eval(), x)
        b = logits_of(load_run(runs[name].run_dir).model, x)
    torch.testing.assert_close(a, b)


def test_strict_head_only_probe(tiny_env, tmp_path):
    r = finetune(
        str(tiny_env / "model"),
        "linear-probe",
        "mini-r",
        method_config={"variant": "head-only"},
        train=quick_train(max_steps=2),
        split=SPLIT,
        output_dir=tmp_path / "lp",
    )
    before = tiny_loaded(tiny_env).model.state_dict()
    assert _changed(before, r.model.state_dict()) == {"classifier.weight", "classifier.bias"}


def test_lora_merged_logits_equal_adapter_logits_and_reload_once(tiny_env, tmp_path):
    from imagenet_rib.methods.weights import load_module, save_module

    method = get_method("lora")
    cfg = method.make_config({"rank": 2, "alpha": 4.0})
    loaded = tiny_loaded(tiny_env)
    peft_model = method.prepare(loaded, cfg)
    trainable = {n for n, p in peft_model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    torch.manual_seed(1)
    for n, p in peft_model.named_parameters():
        if "lora_B" in n:
            p.data.normal_()
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        adapter = logits_of(peft_model.eval(), x)
        merged_model = method.finalize(peft_model, cfg)
        merged = logits_of(merged_model, x)
        save_module(merged_model, tmp_path / "m", {"kind": "hf"})
        reloaded = logits_of(load_module(tmp_path / "m")[0], x)
        plain = logits_of(tiny_loaded(tiny_env).model.eval(), x)
    torch.testing.assert_close(merged, adapter, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(reloaded, adapter, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(plain, adapter, atol=1e-3)  # the update is real


def test_wise_ft_end_points_and_midpoint(runs, tiny_root):
    pre = tiny_loaded(tiny_root)
    ft = runs["ft"]
    variants = dict(derived_models("wise-ft", pre, [ft], {"alphas": [0.0, 0.5, 1.0]}))
    assert list(variants) == ["alpha=0.0", "alpha=0.5", "alpha=1.0"]
    p, f = pre.model.state_dict(), ft.model.state_dict()
    for n in p:
        torch.testing.assert_close(variants["alpha=0.0"].state_dict()[n], p[n], atol=0, rtol=0)
        torch.testing.assert_close(variants["alpha=1.0"].state_dict()[n], f[n], atol=0, rtol=0)
        torch.testing.assert_close(variants["alpha=0.5"].state_dict()[n], (p[n] + f[n]) / 2)


def test_soup_of_identical_runs_is_the_run_and_of_two_the_mean(runs):
    a, b = runs["ft"], runs["l2sp"]
    ((_, same),) = derived_models("soup", None, [a, a.run_dir])
    for n, t in a.model.state_dict().items():
        torch.testing.assert_close(same.state_dict()[n], t, atol=1e-7, rtol=0)
    ((_, mixed),) = derived_models("soup", None, [a, b])
    for n, t in a.model.state_dict().items():
        torch.testing.assert_close(mixed.state_dict()[n], (t + b.model.state_dict()[n]) / 2)


def test_derived_methods_refuse_to_train_and_mismatched_soups_fail(runs, tiny_env, tmp_path):
    from imagenet_rib.errors import ConfigError

    with pytest.raises(ConfigError, match="derived_models"):
        finetune(str(tiny_env / "model"), "wise-ft", "mini-r", output_dir=tmp_path / "w")
    with pytest.raises(ConfigError, match="do not match"):
        derived_models("soup", None, [runs["ft"], runs["visual-prompt"]])


@pytest.mark.parametrize(
    ("name", "config", "match"),
    [
        (
            "wise-ft",
            {"base_method": "fft"},
            "base_method='fft' is not a training method: unknown method 'fft'. Did you mean 'ft'",
        ),
        ("wise-ft", {"base_method": "soup"}, "'soup' is a method of kind 'derived'"),
        ("soup", {"ingredients": ["ft", "lorra"]}, "ingredients='lorra' is not a training method"),
        ("soup", {"ingredients": ["ft", "ft"]}, "each once"),
        ("soup", {"ingredients": []}, "at least one"),
    ],
)
def test_derived_sources_are_validated_against_the_registry(name, config, match):
    with pytest.raises(ConfigError, match=re.escape(match)):
        get_method(name).make_config(config)
    assert get_method("wise-ft").sources(
        get_method("wise-ft").make_config({"base_method": "ft+ewc"})
    ) == ("ft+ewc",)


def test_register_method_rejects_an_incomplete_method():
    class NoDescription(Method):
        name = "no-description"

    class BadKind(Method):
        name, kind, description = "bad-kind", "eval", "x"

    with pytest.raises(ConfigError, match="description"):
        register_method(NoDescription)
    with pytest.raises(ConfigError, match="kind='eval'"):
        register_method(BadKind)
    assert "no-description" not in METHODS and "bad-kind" not in METHODS


class _Scaled(torch.nn.Module):
    """logits * s: a wrapper that weights.py knows nothing about."""

    def __init__(self, model: torch.nn.Module, scale: float) -> None:
        super().__init__()
        self.model, self.scale = model, scale

    def forward(self, pixel_values, **kwargs):
        return logits_of(self.model, pixel_values) * self.scale


class _ScaledHead(Method):
    name, description = "test-scaled-head", "the model with its logits scaled (a test wrapper)"

    def finalize(self, module, config):
        return _Scaled(module, 3.0)

    def save_extra(self, module, folder):
        if not isinstance(module, _Scaled):
            return None
        (folder / "scale.txt").write_text(str(module.scale))
        return module.model, {"file": "scale.txt"}

    def load_extra(self, module, folder, meta):
        return _Scaled(module, float((folder / meta["file"]).read_text()))


def test_a_methods_own_wrapper_saves_and_reloads_through_its_hook(tiny_env, tmp_path):
    from imagenet_rib.methods.weights import load_module, save_module

    register_method(_ScaledHead)
    try:
        method = get_method("test-scaled-head")
        final = method.finalize(method.prepare(tiny_loaded(tiny_env), method.make_config()), None)
        save_module(final, tmp_path / "m", {"kind": "hf"})
        module, meta = load_module(tmp_path / "m")
        assert meta["wrapper"] == {"type": "test-scaled-head", "file": "scale.txt"}
        assert isinstance(module, _Scaled) and module.scale == 3.0
        x = torch.randn(2, 3, 32, 32)
        with torch.no_grad():
            torch.testing.assert_close(logits_of(module, x), logits_of(final.eval(), x))
    finally:
        METHODS.unregister("test-scaled-head")
    with pytest.raises(ConfigError, match="'test-scaled-head', which is not registered"):
        load_module(tmp_path / "m")


def test_the_cli_lists_every_method_with_its_description_and_options(capsys):
    import json

    from imagenet_rib.cli import main

    with pytest.raises(SystemExit, match="0"):
        main(["finetune", "--help"])
    help_text = capsys.readouterr().out
    for name in METHODS.names():
        line = rf"^  {re.escape(name)} +(train|derived|baseline)? *{re.escape(METHODS.get(name).description)}$"
        assert re.search(line, help_text, re.M), name
    assert main(["methods", "--json"]) == 0
    infos = json.loads(capsys.readouterr().out)
    assert [i["name"] for i in infos] == METHODS.names()
    lora = {
        o["name"]: (o["type"], o["default"])
        for o in infos[METHODS.names().index("lora")]["options"]
    }
    assert lora == {
        "rank": ("int", 8),
        "alpha": ("float", 1.0),
        "dropout": ("float", 0.0),
        "target_modules": ("tuple[str, ...]", ["auto"]),
    }
    assert main(["methods", "lp-ft", "ewc+lwf"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("lp-ft (train: ") and "\nlwf (train: " in text
    assert "  lp_epochs: float | None  (default None)\n" in text


def test_wise_ft_combines_weights_that_live_on_different_devices(runs, tiny_root):
    """In one `rib run` on a GPU the cached pretrained model and a reloaded run may sit on
    different devices; the meta device stands in for the second one here."""
    import copy
    import warnings

    pre = tiny_loaded(tiny_root)
    on_meta = copy.deepcopy(runs["ft"].model).to("meta")
    cfg = get_method("wise-ft").make_config({"alphas": [0.0, 0.5]})
    with warnings.catch_warnings():  # loading into meta parameters is a no-op, by design here
        warnings.simplefilter("ignore", UserWarning)
        variants = dict(get_method("wise-ft").derive(pre, [on_meta], cfg))
    for module in variants.values():
        assert {p.device.type for p in module.parameters()} == {"meta"}
    assert {p.device.type for p in pre.model.parameters()} == {"cpu"}  # never moved
    soup = get_method("soup").derive(None, [on_meta, runs["ft"].model], cfg)
    assert {p.device.type for p in soup[0][1].parameters()} == {"meta"}


def test_wise_ft_and_soups_of_mixed_dtypes_compute_in_float32(runs, tiny_root):
    import copy

    pre = tiny_loaded(tiny_root)
    p = {k: v.clone() for k, v in pre.model.state_dict().items()}
    half = copy.deepcopy(runs["ft"].model).to(torch.bfloat16)
    f = half.state_dict()
    cfg = get_method("wise-ft").make_config({"alphas": [0.0, 0.5, 1.0]})
    variants = dict(get_method("wise-ft").derive(pre, [half], cfg))
    for n in p:
        mid = ((1 - 0.5) * p[n] + 0.5 * f[n].float()).to(torch.bfloat16)
        assert torch.equal(variants["alpha=0.5"].state_dict()[n], mid)
        assert torch.equal(variants["alpha=0.0"].state_dict()[n], p[n].to(torch.bfloat16))
        assert torch.equal(variants["alpha=1.0"].state_dict()[n], f[n])
        assert torch.equal(pre.model.state_dict()[n], p[n])  # the pretrained weights untouched
    ((_, soup),) = get_method("soup").derive(None, [half, pre.model], cfg)
    for n in p:
        mean = (0.5 * f[n].float() + 0.5 * p[n]).to(torch.bfloat16)
        assert torch.equal(soup.state_dict()[n], mean)
