"""The three ObjectNet rules on the REAL ObjectNet 1.0 mapping files (tests/fixtures/objectnet).

paper-compat must reproduce the reference code's hard-coded class list exactly (105 ImageNet
classes), and differ from first-match on exactly the 9 ObjectNet classes it mislabels.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imagenet_rib.data.labels import imagenet_1k
from imagenet_rib.data.protocol import OBJECTNET_RULES, objectnet_protocol
from imagenet_rib.data.specs import get_dataset_spec
from imagenet_rib.errors import ConfigError, DatasetError

FIXTURES = Path(__file__).parent / "fixtures" / "objectnet"
#: `objclasses` hard-coded in FieteLab/ImageNet-RIB lib/dataset/objectnet_dataset.py
REFERENCE_OBJCLASSES = [
    409, 414, 418, 419, 434, 440, 455, 457, 462, 463, 470, 473, 487, 499, 504, 507, 508, 531,
    533, 539, 543, 545, 549, 550, 560, 567, 578, 587, 588, 589, 610, 618, 619, 620, 623, 626,
    629, 630, 632, 644, 647, 651, 658, 659, 664, 671, 673, 677, 679, 694, 695, 696, 700, 703,
    720, 721, 725, 728, 729, 731, 732, 737, 740, 742, 752, 761, 769, 770, 772, 773, 774, 783,
    790, 792, 797, 804, 806, 809, 811, 813, 828, 834, 837, 841, 846, 849, 850, 851, 859, 868,
    879, 882, 883, 893, 898, 902, 907, 909, 923, 930, 950, 951, 954, 968, 999,
]  # fmt: skip
#: folder -> (paper-compat wnid, first-match wnid) of the 9 classes the reference mislabels
MISMATCHED = {
    "chair": ("n03085013", "n02791124"),  # computer keyboard vs barber chair
    "wheel": ("n03874293", "n02974003"),  # paddlewheel vs car wheel
    "weight_scale": ("n03976467", "n04141975"),  # Polaroid camera vs scale
    "trash_bin": ("n03197337", "n02747177"),  # digital watch vs ashcan
    "swimming_trunks": ("n04596742", "n04371430"),  # wok vs swimming trunks
    "skirt": ("n03482405", "n03534580"),  # hamper vs hoopskirt
    "jeans": ("n04399382", "n03594734"),  # teddy vs jean
    "binder_closed": ("n02909870", "n02840245"),  # bucket vs binder
    "iron_for_clothes": ("n04517823", "n03584829"),  # vacuum vs iron
}


@pytest.fixture()
def real_mapping(monkeypatch):
    from imagenet_rib.data import imagenet

    monkeypatch.setenv("IMAGENET_RIB_OBJECTNET_MAPPING", str(FIXTURES / imagenet.MAPPING_FILE))
    monkeypatch.delenv("IMAGENET_RIB_DATA_OBJECTNET", raising=False)
    monkeypatch.delenv("IMAGENET_RIB_DATA_DIR", raising=False)
    folders = json.loads((FIXTURES / imagenet.FOLDER_MAPPING_FILE).read_text())
    mapping = json.loads((FIXTURES / imagenet.MAPPING_FILE).read_text())
    return folders, mapping


def _class_of(protocol, name: str) -> int:
    (c,) = protocol.groups[protocol.target_index[name]]
    return c


def test_rule_sizes_on_the_real_mapping(real_mapping):
    spec = get_dataset_spec("objectnet")
    space = imagenet_1k()
    mom, first, paper = (
        spec.protocol(r) for r in ("max-over-mapped", "first-match", "paper-compat")
    )
    assert mom.num_targets == first.num_targets == 113
    assert len({c for g in mom.groups for c in g}) == 125  # 113 targets over 125 ImageNet classes
    assert len({g[0] for g in first.groups}) == 113
    assert paper.num_targets == 105 and paper.rule == "objectnet/paper-compat"
    assert [space.index[w] for w in paper.target_names] == REFERENCE_OBJCLASSES
    assert sorted(c for (c,) in paper.groups) == REFERENCE_OBJCLASSES


def test_paper_compat_mislabels_exactly_nine_classes(real_mapping):
    folders, _ = real_mapping
    spec = get_dataset_spec("objectnet")
    space = imagenet_1k()
    first, paper = spec.protocol("first-match"), spec.protocol("paper-compat")
    differ = {
        folder: (space.wnids[_class_of(paper, label)], space.wnids[_class_of(first, label)])
        for folder, label in folders.items()
        if label in first.target_index and _class_of(paper, label) != _class_of(first, label)
    }
    assert differ == MISMATCHED


def test_paper_compat_depends_on_the_folder_order(real_mapping):
    """Walking the mapping alphabetically instead of in folder order gives other classes."""
    _, mapping = real_mapping
    space = imagenet_1k()
    paper = get_dataset_spec("objectnet").protocol("paper-compat")
    alphabetical = objectnet_protocol(space, mapping, "paper-compat", order=sorted(mapping))
    assert {k: _class_of(paper, k) for k in mapping} != {
        k: _class_of(alphabetical, k) for k in mapping
    }


def test_paper_compat_refuses_without_the_folder_file(tmp_path, monkeypatch, real_mapping):
    from imagenet_rib.data import imagenet

    (tmp_path / imagenet.MAPPING_FILE).write_bytes((FIXTURES / imagenet.MAPPING_FILE).read_bytes())
    monkeypatch.setenv("IMAGENET_RIB_OBJECTNET_MAPPING", str(tmp_path / imagenet.MAPPING_FILE))
    spec = get_dataset_spec("objectnet")
    assert spec.protocol("first-match").num_targets == 113  # the other rules need no order
    with pytest.raises(DatasetError, match="folder_to_objectnet_label.json"):
        spec.protocol("paper-compat")


def test_paper_compat_is_never_a_default():
    from imagenet_rib.data.specs import DatasetSpec

    assert get_dataset_spec("objectnet").default_rule == "max-over-mapped"
    with pytest.raises(ConfigError, match="known defect"):
        DatasetSpec("x", "imagenet-1k", "x", objectnet_mapping=dict, default_rule="paper-compat")


def test_datasets_list_labels_paper_compat_a_known_defect(capsys):
    from imagenet_rib.cli import main

    assert main(["datasets", "list"]) == 0
    out = capsys.readouterr().out
    (line,) = [ln for ln in out.splitlines() if ln.strip().startswith("paper-compat")]
    assert "KNOWN DEFECT" in line and "105 classes instead of 113" in line
    assert main(["datasets", "list", "--json"]) == 0
    entries = {e["name"]: e for e in json.loads(capsys.readouterr().out)}
    assert "KNOWN DEFECT" in entries["objectnet"]["objectnet_rules"]["paper-compat"]


# ------------------------------------------------------------- each copy scores with its own


#: a two-class ObjectNet-style mapping over ImageNet-1k, unlike the real one's 113 classes
SMALL_MAPPING = {
    "Alarm clock": "analog clock",
    "Chair": "barber chair; folding chair; rocking chair, rocker",
}


def _copy_with_mapping(path: Path, space_name: str, mapping: dict[str, str]) -> str:
    """A save_to_disk copy (two rows per class, labelled first-match) with `mapping` stored
    next to it, as a converted or published ObjectNet-style folder holds it."""
    import io

    import datasets
    from PIL import Image

    from imagenet_rib.data import imagenet
    from imagenet_rib.data.labels import get_label_space
    from imagenet_rib.data.schema import features

    space = get_label_space(space_name)
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), (10, 20, 30)).save(buf, format="PNG")
    rows = {c: [] for c in ("image", "label", "wnid", "id", "group", "class_name")}
    for name, lemmas in sorted(mapping.items()):
        label = space.lemmas.index(lemmas.split("; ")[0])
        for i in range(2):
            rows["image"].append({"bytes": buf.getvalue(), "path": None})
            rows["label"].append(label)
            rows["wnid"].append(space.wnids[label])
            rows["id"].append(f"{name}/{i}")
            rows["group"].append(f"{name}/{i}")
            rows["class_name"].append(name)
    n = len(rows["id"])
    rows |= {"corruption": [""] * n, "severity": [0] * n}
    datasets.Dataset.from_dict(rows, features=features(space)).save_to_disk(str(path))
    (path / imagenet.MAPPING_FILE).write_text(json.dumps(mapping))
    return str(path)


def _groups_by_class(part) -> dict[str, set[tuple[int, ...]]]:
    out: dict[str, set[tuple[int, ...]]] = {}
    for name, t in zip(part.dataset["class_name"], part.targets):
        out.setdefault(name, set()).add(part.protocol.groups[t])
    return out


def test_two_mappings_in_one_process_never_mix(tmp_path, real_mapping):
    """Protocols of copies with different mappings, interleaved, each reduce by their own."""
    from imagenet_rib.data import imagenet

    spec = get_dataset_spec("objectnet")
    small = tmp_path / "small"
    small.mkdir()
    (small / imagenet.MAPPING_FILE).write_text(json.dumps(SMALL_MAPPING))
    walk = {"alarm_clock": "Alarm clock", "chair": "Chair"}  # Chair reuses the clock's class
    (small / imagenet.FOLDER_MAPPING_FILE).write_text(json.dumps(walk))
    real_before = spec.protocol("first-match", source=str(FIXTURES))
    mine = {r: spec.protocol(r, source=str(small)) for r in OBJECTNET_RULES}
    real_after = spec.protocol("first-match", source=str(FIXTURES))
    space = imagenet_1k()
    chairs = tuple(space.lemmas.index(x) for x in SMALL_MAPPING["Chair"].split("; "))
    clock = (space.lemmas.index("analog clock"),)
    assert mine["max-over-mapped"].groups == (clock, chairs)
    assert mine["first-match"].groups == (clock, chairs[:1])
    assert mine["paper-compat"].groups == (clock,)  # by its own walk order file
    assert real_before == real_after and real_after.num_targets == 113
    # without a source: the configured mapping, whatever was read before
    assert spec.protocol("first-match") == real_after


def test_loading_the_mini_and_a_real_copy_keeps_each_reduction(tmp_path, real_mapping):
    """A Mini-ObjectNet copy stores its own objectnet_to_imagenet_1k.json (mini-digits
    lemmas); loading it must not change how the real ObjectNet entry scores, and loading a
    real copy must not change Mini-ObjectNet's."""
    from imagenet_rib.data.labels import get_label_space
    from imagenet_rib.data.loading import load_split
    from imagenet_rib.data.mini.specs import objectnet_mapping as mini_mapping
    from imagenet_rib.data.splits import SplitConfig

    whole = SplitConfig(rule="none")
    mini_copy = _copy_with_mapping(tmp_path / "mini", "mini-digits", mini_mapping())
    real_copy = _copy_with_mapping(tmp_path / "real", "imagenet-1k", SMALL_MAPPING)
    digits, space = get_label_space("mini-digits"), imagenet_1k()
    want_mini = {
        name: {tuple(digits.lemmas.index(x) for x in lemmas.split("; "))}
        for name, lemmas in mini_mapping().items()
    }
    want_real = {
        name: {tuple(space.lemmas.index(x) for x in lemmas.split("; "))}
        for name, lemmas in SMALL_MAPPING.items()
    }
    for _ in range(2):  # mini, real, mini, real: no load leaves anything behind
        mini = load_split("mini-objectnet", "test", whole, source=mini_copy)
        real = load_split("objectnet", "test", whole, source=real_copy)
        assert mini.protocol.num_targets == 6 and _groups_by_class(mini) == want_mini
        assert real.protocol.num_targets == 2 and _groups_by_class(real) == want_real
    assert get_dataset_spec("objectnet").protocol().num_targets == 113  # the configured one
