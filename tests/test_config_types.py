"""Config values are coerced or refused by their field types before anything runs."""

from __future__ import annotations

from typing import Any, Literal

import pytest

from imagenet_rib.config import coerce_fields, coerce_value
from imagenet_rib.data.splits import SplitConfig
from imagenet_rib.errors import ConfigError
from imagenet_rib.plan import BenchmarkConfig, plan
from imagenet_rib.training import TrainConfig


@pytest.mark.parametrize(
    "value,tp,expected",
    [
        ("1e-3", float, 0.001),  # PyYAML reads an exponent without a dot as a string
        (3, float, 3),  # valid values stay as they are (run ids hash them)
        (64.0, int, 64),
        ("12", int, 12),
        (7, str, "7"),
        ("yes", bool, True),
        ("mini-vit-clean", tuple[str, ...], ("mini-vit-clean",)),
        (0, tuple[int, ...], (0,)),
        (["0", 1], tuple[int, ...], (0, 1)),
        ({"a": "5"}, dict[str, int], {"a": 5}),
        (None, str | None, None),
        ("exact", Literal["gaussian", "exact"], "exact"),
        ({"x": [1]}, Any, {"x": [1]}),
    ],
)
def test_coerce_value(value, tp, expected):
    out = coerce_value("Cfg.key", value, tp)
    assert out == expected and type(out) is type(expected)


@pytest.mark.parametrize(
    "value,tp,message",
    [
        ("fast", float, r"Cfg.key='fast' must be a number"),
        ("nan", float, "must be a number"),
        (True, int, "must be an integer"),
        (2.5, int, "must be an integer"),
        ([1], str, "must be a string"),
        ("maybe", bool, "must be true or false"),
        ({"a": 1}, tuple[str, ...], "must be a list of strings"),
        (["a"], tuple[int, ...], r"Cfg.key\[0\]='a' must be an integer"),
        (["a"], dict[str, int], "must be a mapping"),
        (None, int, "is empty"),
        ("other", Literal["a", "b"], r"not allowed; choose one of \['a', 'b'\]"),
    ],
)
def test_coerce_value_refuses(value, tp, message):
    with pytest.raises(ConfigError, match=message):
        coerce_value("Cfg.key", value, tp)


def test_from_dict_coerces_and_names_unknown_keys():
    assert TrainConfig.from_dict({"lr": "1e-3", "batch_size": "32"}).lr == 0.001
    assert SplitConfig.from_dict({"test_fraction": "0.25"}).test_fraction == 0.25
    with pytest.raises(ConfigError, match=r"unknown option\(s\) \['lrr'\]"):
        coerce_fields(TrainConfig, {"lrr": 1})
    with pytest.raises(ConfigError, match="must be a mapping"):
        TrainConfig.from_dict(["lr", 0.1])


def _bench(tmp_path, text: str) -> BenchmarkConfig:
    path = tmp_path / "bench.yaml"
    path.write_text(text)
    return BenchmarkConfig.load(path)


def test_yaml_scalars_and_strings_become_the_intended_values(tmp_path):
    cfg = _bench(
        tmp_path,
        "models: mini-vit-clean\nmethods: ft\nseeds: 0\ntrain: {lr: 1e-3, epochs: 2}\n"
        "max_train_samples: {mini-c: '100'}\n",
    )
    assert cfg.models == ("mini-vit-clean",) and cfg.seeds == (0,)
    assert [m.name for m in cfg.methods] == ["ft"]
    assert cfg.train == {"lr": 0.001, "epochs": 2} and cfg.max_train_samples == {"mini-c": 100}
    runs = plan(cfg)
    suite = cfg.load_suite()
    # one baseline + one ft run per fine-tuning set: not one row per letter of the model name
    assert len(runs) == 1 + len(suite.datasets)
    assert {r.model for r in runs} == {"mini-vit-clean"}
    assert all(r.train.get("lr", 0.001) == 0.001 for r in runs)


def test_equivalent_spellings_plan_the_same_run_ids(tmp_path):
    a = _bench(tmp_path, "models: [mini-vit-clean]\nmethods: [ft]\ntrain: {lr: 0.001}\n")
    b = _bench(tmp_path, "models: mini-vit-clean\nmethods: ft\ntrain: {lr: 1.0e-3}\n")
    c = _bench(tmp_path, "models: mini-vit-clean\nmethods: ft\ntrain: {lr: 1e-3}\n")
    ids = [[r.run_id for r in plan(x)] for x in (a, b, c)]
    assert ids[0] == ids[1] == ids[2]


def test_method_train_overrides_are_checked_up_front(tmp_path):
    cfg = _bench(
        tmp_path,
        "models: [mini-vit-clean]\nmethods:\n  - {name: ft, train: {lr: 2e-3, warmup_steps: '0'}}\n",
    )
    assert cfg.methods[0].train == {"lr": 0.002, "warmup_steps": 0}
    with pytest.raises(ConfigError, match=r"method 'ft' train: .*momentum=1.5 is out of range"):
        _bench(tmp_path, "models: [m]\nmethods:\n  - {name: ft, train: {momentum: 1.5}}\n")


def test_direct_construction_is_coerced_too():
    cfg = BenchmarkConfig(models="mini-vit-clean", methods="ft", seeds=3)
    assert cfg.models == ("mini-vit-clean",) and cfg.seeds == (3,)
