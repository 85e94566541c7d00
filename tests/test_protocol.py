import pytest
import torch

from imagenet_rib.data.labels import MINI_DIGITS, LabelSpace
from imagenet_rib.data.protocol import full_protocol, objectnet_protocol, subset_protocol
from imagenet_rib.data.specs import get_dataset_spec
from imagenet_rib.errors import ConfigError, DatasetError

SPACE = LabelSpace("toy", ("a", "b", "c", "d"), ("apple, pome", "bear", "cat, feline", "dog"))


def test_full_protocol_is_identity():
    p = full_protocol(SPACE)
    z = torch.randn(3, 4)
    assert torch.equal(p.reduce(z), z)
    assert p.targets([0, 3, 2]).tolist() == [0, 3, 2]


def test_subset_restricts_before_argmax():
    p = subset_protocol(SPACE, ["b", "d"])
    z = torch.tensor([[9.0, 1.0, 8.0, 2.0]])  # the unrestricted argmax (a) is outside
    assert p.reduce(z).tolist() == [[1.0, 2.0]]
    assert p.reduce(z).argmax(-1).item() == 1  # "d"
    assert p.targets([3, 1]).tolist() == [1, 0]
    with pytest.raises(DatasetError, match="outside"):
        p.targets([0])


def test_mask_must_match_head():
    with pytest.raises(ConfigError, match="4-way head"):
        subset_protocol(SPACE, ["b"]).reduce(torch.zeros(2, 5))


MAPPING = {"thing": "cat, feline; apple, pome", "other": "bear"}


def test_objectnet_rules_differ():
    z = torch.tensor([[5.0, 0.0, 1.0, 0.0]])  # apple wins, it is thing's SECOND mapped class
    mom = objectnet_protocol(SPACE, MAPPING, "max-over-mapped")
    first = objectnet_protocol(SPACE, MAPPING, "first-match")
    assert mom.target_names == ("other", "thing")
    assert mom.reduce(z).tolist() == [[0.0, 5.0]]  # thing = max(cat, apple)
    assert first.reduce(z).tolist() == [[0.0, 1.0]]  # thing = cat only
    t = mom.targets([2], ["thing"])
    assert t.tolist() == [1] and first.targets([2], ["thing"]).tolist() == [1]
    z2 = torch.tensor([[5.0, 3.0, 1.0, 0.0]])
    assert mom.reduce(z2).argmax(-1).item() == 1  # thing (via apple): correct
    assert first.reduce(z2).argmax(-1).item() == 0  # other (bear 3 > cat 1): wrong


def test_objectnet_unknown_lemma_raises():
    with pytest.raises(DatasetError, match="fix the mapping"):
        objectnet_protocol(SPACE, {"x": "zebra"}, "first-match")
    with pytest.raises(ConfigError, match="max-over-mapped"):
        objectnet_protocol(SPACE, MAPPING, "best-guess")


def test_paper_compat_follows_the_reference_matching():
    mapping = {
        "a_thing": "apple, pome",  # "," -> split on ", ": "apple" is a short name
        "b_thing": "unknown, thing; bear",  # "," -> ["unknown", "thing; bear"]: no match
        "c_thing": "dog",  # no separator: the whole value
        "d_thing": "unknown thing; bear",  # no "," -> split on "; ": "bear"
    }
    p = objectnet_protocol(SPACE, mapping, "paper-compat")
    # b_thing silently reuses the previous class's id (apple): the defect
    assert p.groups == ((0,), (1,), (3,))
    names = ["a_thing", "b_thing", "c_thing", "d_thing"]
    assert p.targets([0] * 4, names).tolist() == [0, 0, 2, 1]
    # the walk order decides which previous id is reused
    reordered = objectnet_protocol(
        SPACE, mapping, "paper-compat", order=["d_thing", "b_thing", "a_thing", "c_thing"]
    )
    assert reordered.targets([0] * 4, names).tolist() == [0, 1, 2, 1]
    with pytest.raises(DatasetError, match="first in walk order"):
        objectnet_protocol(SPACE, {"x": "unknown, thing"}, "paper-compat")
    with pytest.raises(DatasetError, match="manual table"):
        objectnet_protocol(SPACE, {"x": "zebra"}, "paper-compat")


def test_mini_objectnet_rules_on_the_registered_mapping():
    spec = get_dataset_spec("mini-objectnet")
    mom, first = spec.protocol("max-over-mapped"), spec.protocol("first-match")
    multi = [g for g in mom.groups if len(g) > 1]
    assert len(multi) == 3  # pole, hook, pretzel map to two digits
    assert all(len(g) == 1 for g in first.groups)
    five = MINI_DIGITS.index["five"]
    assert all(five not in g for g in mom.groups)


@pytest.mark.parametrize("name,k", [("mini-a", 6), ("mini-r", 6), ("mini-v2", 10), ("mini-c", 10)])
def test_mini_label_subsets(name, k):
    p = get_dataset_spec(name).protocol()
    assert p.num_targets == k and p.num_classes == 10
    a, r = get_dataset_spec("mini-a").subset, get_dataset_spec("mini-r").subset
    assert 0 < len(set(a) & set(r)) < len(a)  # partly overlapping, as ImageNet-A/-R
