"""Dataset cards: rendered for every registered dataset; they record protocol, split and licence."""

from __future__ import annotations

import re

import numpy as np
import pytest
import yaml

from imagenet_rib.cli import main
from imagenet_rib.data.converters import ConvertConfig, convert
from imagenet_rib.data.dataset_card import render_card, split_table
from imagenet_rib.data.labels import get_label_space
from imagenet_rib.data.specs import DATASETS, get_dataset_spec
from imagenet_rib.data.splits import SplitConfig, split_indices
from imagenet_rib.data.verify import RowMeta
from imagenet_rib.errors import ConfigError
from support.layouts import imagenet_c_tree, objectnet_tree, wnid_tree

SERIAL = dict(num_workers=0, progress=False)


def _front_matter(text: str) -> dict:
    return yaml.safe_load(text.split("---\n")[1])


def _meta(spec, n_per_class: int = 5) -> RowMeta:
    space = get_label_space(spec.label_space)
    wnids = list(spec.subset or space.wnids[:4])[:4]
    cols = {c: [] for c in ("label", "wnid", "id", "group", "class_name", "corruption", "severity")}
    for w in wnids:
        for i in range(n_per_class):
            for key, value in zip(cols, (space.index[w], w, f"{w}/{i}", f"{w}/{i}", w, "", 0)):
                cols[key].append(value)
    return RowMeta(cols)


def _all_specs() -> list[str]:
    get_dataset_spec("imagenet-val")
    return [n for n, s in DATASETS.items() if not s.parent and not s.is_objectnet]


#: the Hub licence id every card must carry (MNIST is CC BY-SA 3.0, the UCI digits CC BY 4.0)
LICENCES = {
    "imagenet-val": "other",
    "imagenet-v2": "mit",
    "imagenet-a": "mit",
    "imagenet-r": "mit",
    "imagenet-sketch": "mit",
    "imagenet-cartoon": "other",
    "imagenet-drawing": "other",
    "imagenet-c": "cc-by-4.0",
    "mini-v2": "cc-by-4.0",
    **{
        f"mini-{n}": "cc-by-sa-3.0"
        for n in ("val", "a", "r", "sketch", "cartoon", "drawing", "c")
        + ("pretrain-clean", "pretrain-rich")
    },
}


BUILTIN = _all_specs()  # at collection, before any test registers a dataset of its own


def test_the_licence_table_covers_every_builtin_dataset():
    assert set(BUILTIN) == set(LICENCES)


@pytest.mark.parametrize("name", BUILTIN)
def test_every_dataset_gets_a_card(name):
    spec = get_dataset_spec(name)
    card = render_card(
        spec, _meta(spec), SplitConfig(test_fraction=0.4, seed=3), repo_id=f"org/{name}"
    )
    data = _front_matter(str(card))
    assert data["pretty_name"] == spec.title and data["license"]
    assert data["license"] == LICENCES[name]
    assert data["imagenet_rib"]["split"] == {
        "rule": "holdout",
        "seed": 3,
        "test_fraction": 0.4,
        "train_rows": 12,
        "test_rows": 8,
    }
    assert data["configs"][0]["data_files"][0]["path"] == "data/**/*.parquet"
    text = card.text
    assert spec.citation in text and spec.licence in text and f'load_dataset("org/{name}"' in text
    rows = re.findall(r"^\| `(\S+)` \| (\d+) \| (\d+) \|$", text, flags=re.M)
    assert len(rows) == 4 and all(
        (int(tr), int(te)) == (3, 2) for _, tr, te in rows
    )  # per-class split
    expected_rule = "subset" if spec.subset else "full"
    assert data["imagenet_rib"]["label_protocol"] == expected_rule


def test_split_table_is_the_split_of_load_split():
    spec = get_dataset_spec("imagenet-val")
    meta = _meta(spec, 7)
    table = split_table(meta, SplitConfig(seed=5), "wnid")
    idx = split_indices(meta["label"], meta["group"], SplitConfig(seed=5))
    assert table["test_rows"] == len(idx["test"]) and table["train_rows"] == len(idx["train"])
    per_class = {r["class"]: r["test"] for r in table["per_class"]}
    assert per_class == {
        w: int(np.sum(np.asarray(meta["wnid"])[idx["test"]] == w)) for w in set(meta["wnid"])
    }


def test_converted_folder_carries_its_card(tmp_path):
    tree = imagenet_c_tree(tmp_path / "src")
    convert(
        "imagenet-c", tree.root, tmp_path / "out", ConvertConfig(**SERIAL), expected=tree.expected
    )
    text = (tmp_path / "out" / "README.md").read_text()
    data = _front_matter(text)
    assert (
        len(data["configs"]) == 1 + 75
        and {
            "config_name": "fog-3",
            "data_files": [{"split": "train", "path": "data/fog/3/*.parquet"}],
        }
        in data["configs"]
    )
    assert "| `snow/3` | 4 |" in text and "mean-over-corruption-severity" in text
    assert data["imagenet_rib"]["num_rows"] == 16
    # the 4 versions of an image share a group, so the split holds them together
    assert data["imagenet_rib"]["split"]["test_rows"] % 4 == 0


def test_objectnet_card_states_the_licence_restriction(tmp_path):
    tree = objectnet_tree(tmp_path / "src")
    convert(
        "objectnet",
        tree.root,
        tmp_path / "out",
        ConvertConfig(accept_objectnet_license=True, **SERIAL),
        expected=tree.expected,
    )
    text = (tmp_path / "out" / "README.md").read_text()
    assert "may NOT be used to train or tune" in text and "--i-accept-objectnet-license" in text
    assert "never uploaded to the Hub" in text and "`paper-compat`" in text
    data = _front_matter(text)
    assert (
        data["license"] == "other"
        and data["imagenet_rib"]["label_protocol"] == "objectnet/max-over-mapped"
    )
    assert {"`Alarm clock`", "`Chair`", "`Swimming suit`"} <= set(
        re.findall(r"`[A-Z][a-z ]+`", text)
    )


def test_cli_card_writes_a_file(tmp_path, capsys):
    tree = wnid_tree(tmp_path / "src", "imagenet-sketch", ["n01440764", "n01443537"], per_class=5)
    convert(
        "imagenet-sketch",
        tree.root,
        tmp_path / "out",
        ConvertConfig(**SERIAL),
        expected=tree.expected,
    )
    assert (
        main(
            [
                "datasets",
                "card",
                "imagenet-sketch",
                "--source",
                str(tmp_path / "out"),
                "--out",
                str(tmp_path / "README.md"),
                "--split-seed",
                "4",
                "--split-rule",
                "none",
            ]
        )
        == 0
    )
    data = _front_matter((tmp_path / "README.md").read_text())
    assert data["imagenet_rib"]["split"] == {
        "rule": "none",
        "seed": 4,
        "test_fraction": 0.2,
        "train_rows": 10,
        "test_rows": 10,
    }


def test_missing_template_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("IMAGENET_RIB_HUB_CARDS", str(tmp_path))
    spec = get_dataset_spec("imagenet-val")
    with pytest.raises(ConfigError, match="IMAGENET_RIB_HUB_CARDS"):
        render_card(spec, _meta(spec))
