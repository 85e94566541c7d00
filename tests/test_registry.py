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


def test_library_registries_share_the_type():
    from imagenet_rib.data.labels import LABEL_SPACES
    from imagenet_rib.data.specs import DATASETS, get_dataset_spec
    from imagenet_rib.models import MODELS, _load_builtin

    get_dataset_spec("mini-val")
    _load_builtin()
    for reg in (LABEL_SPACES, DATASETS, MODELS):
        assert isinstance(reg, Registry)
    with pytest.raises(UnknownNameError, match="mini-sketch"):
        get_dataset_spec("mini-skech")
