import numpy as np
import pytest

from imagenet_rib.data.splits import SplitConfig, split_indices
from imagenet_rib.errors import ConfigError


def _toy(n_per_class=10, classes=3, copies=1):
    labels, groups = [], []
    for c in range(classes):
        for i in range(n_per_class):
            for _ in range(copies):
                labels.append(c)
                groups.append(f"img{c}-{i}")
    return labels, groups


def test_holdout_is_stratified_and_disjoint():
    labels, groups = _toy()
    s = split_indices(labels, groups, SplitConfig(test_fraction=0.2))
    assert set(s["train"]).isdisjoint(s["test"])
    assert len(s["train"]) + len(s["test"]) == 30
    test_labels = np.asarray(labels)[s["test"]]
    assert np.bincount(test_labels).tolist() == [2, 2, 2]


def test_holdout_keeps_groups_together():
    labels, groups = _toy(copies=5)  # e.g. 5 corruptions of each source image
    s = split_indices(labels, groups, SplitConfig())
    train_groups = {groups[i] for i in s["train"]}
    assert train_groups.isdisjoint({groups[i] for i in s["test"]})


def test_holdout_is_order_independent_and_seeded():
    labels, groups = _toy()
    s = split_indices(labels, groups, SplitConfig(seed=3))
    perm = np.random.default_rng(1).permutation(len(labels))
    s2 = split_indices([labels[i] for i in perm], [groups[i] for i in perm], SplitConfig(seed=3))
    assert {groups[i] for i in s["test"]} == {groups[perm[i]] for i in s2["test"]}
    other = split_indices(labels, groups, SplitConfig(seed=4))
    assert set(other["test"]) != set(s["test"])


def test_none_rule_uses_everything():
    labels, groups = _toy()
    s = split_indices(labels, groups, SplitConfig(rule="none"))
    assert s["train"].tolist() == s["test"].tolist() == list(range(30))


@pytest.mark.parametrize("kw", [{"rule": "random"}, {"test_fraction": 0.0}, {"test_fraction": 1.5}])
def test_bad_split_config(kw):
    with pytest.raises(ConfigError):
        SplitConfig(**kw)
