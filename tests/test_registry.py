import pytest

from imagenet_rib.errors import DuplicateNameError, UnknownNameError
from imagenet_rib.registry import Registry


def test_register_and_get():
    reg = Registry("widget")
    reg.register("alpha", 1)

    @reg.register("beta")
    def beta():
        return 2

    assert reg.get("alpha") == 1
    assert reg.get("beta") is beta
    assert reg.names() == ["alpha", "beta"]
    assert "alpha" in reg and len(reg) == 2


def test_duplicate_raises():
    reg = Registry("widget")
    reg.register("alpha", 1)
    with pytest.raises(DuplicateNameError, match="already registered"):
        reg.register("alpha", 2)
    assert reg.get("alpha") == 1  # the first registration is untouched


def test_unknown_lists_close_matches():
    reg = Registry("dataset")
    for name in ("imagenet-r", "imagenet-a", "objectnet"):
        reg.register(name, name)
    with pytest.raises(UnknownNameError) as err:
        reg.get("imagenet-rr")
    msg = str(err.value)
    assert "unknown dataset 'imagenet-rr'" in msg and "Did you mean 'imagenet-r'" in msg
    assert "objectnet" in msg  # the full list of known names


@pytest.mark.parametrize("bad", ["", " x", "x "])
def test_invalid_names(bad):
    with pytest.raises(ValueError):
        Registry("widget").register(bad, 1)


@pytest.mark.parametrize(
    "where, registry, known, typo",
    [
        ("imagenet_rib.data.labels", "LABEL_SPACES", "mini-digits", "mini-digit"),
        ("imagenet_rib.data.specs", "DATASETS", "mini-sketch", "mini-skech"),
        ("imagenet_rib.models", "MODELS", "mini-vit-clean", "mini-vit-clen"),
        ("imagenet_rib.methods", "METHODS", "lora", "lorra"),
    ],
)
def test_library_registries_refuse_duplicates_and_suggest_names(where, registry, known, typo):
    import importlib

    reg = getattr(importlib.import_module(where), registry)
    assert known in reg
    with pytest.raises(UnknownNameError, match=known):
        reg.get(typo)
    with pytest.raises(DuplicateNameError, match=known):
        reg.register(known, reg.get(known))
    assert reg.get(known) is not None  # the refused registration changed nothing


def _loading_registry(calls: list[str]) -> Registry:
    """A registry whose loader registers a built-in and records every lookup it sees."""
    reg: Registry[int] = Registry("widget", loader=lambda: _builtin(reg, calls))
    return reg


def _builtin(reg: Registry, calls: list[str]) -> None:
    calls.append("load")
    reg.register("builtin", 1)
    calls.append(f"sees {reg.names()}")  # a lookup while loading: no re-entry


def test_loader_runs_once_on_the_first_lookup():
    calls: list[str] = []
    reg = _loading_registry(calls)
    assert calls == [] and repr(reg) == "Registry('widget', 0 items)"
    assert "builtin" in reg and reg.get("builtin") == 1 and len(reg) == 1
    assert reg.names() == ["builtin"] and calls == ["load", "sees ['builtin']"]


def test_builtins_are_registered_before_anything_from_outside():
    calls: list[str] = []
    reg = _loading_registry(calls)
    with pytest.raises(DuplicateNameError, match="'builtin' is already registered"):
        reg.register("builtin", 2)  # a plugin reusing a built-in name, before any lookup
    assert reg.get("builtin") == 1 and calls[0] == "load"
    reg.register("plugin", 3)
    assert reg.names() == ["builtin", "plugin"] and calls.count("load") == 1


def test_a_failing_loader_raises_again_on_the_next_lookup():
    attempts = []

    def loader():
        attempts.append(1)
        raise RuntimeError("plugin x is broken")

    reg = Registry("widget", loader=loader)
    for _ in range(2):
        with pytest.raises(RuntimeError, match="plugin x is broken"):
            reg.get("anything")
    assert len(attempts) == 2  # never silently marked as loaded
