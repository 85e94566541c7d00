"""Converters: every real layout, labels checked image by image; bad inputs; resumption."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from imagenet_rib.data import imagenet
from imagenet_rib.data.converters import ConvertConfig, convert, engine
from imagenet_rib.data.labels import get_label_space
from imagenet_rib.data.specs import DATASETS, get_dataset_spec
from imagenet_rib.errors import ConfigError, DatasetError
from support.layouts import (
    decode,
    imagenet_c_tree,
    objectnet_tree,
    subset_wnids,
    truncate,
    v2_tree,
    wnid_tree,
)

SERIAL = dict(num_workers=0, progress=False)
FULL_WNIDS = ["n01440764", "n01443537", "n04099969"]  # tench, goldfish, rocking chair


def rows(out) -> list[dict]:
    manifest = json.loads((out / "conversion.json").read_text())
    files = sorted(out / info["file"] for info in manifest["shards"].values())
    return [r for f in files for r in pq.read_table(f).to_pylist()]


def check_truth(tree, out) -> list[dict]:
    got = rows(out)
    assert sorted(r["id"] for r in got) == sorted(tree.truth)  # nothing lost, nothing duplicated
    for r in got:
        for key, value in tree.truth[r["id"]].items():
            assert r[key] == value, (r["id"], key)
    return got


@pytest.fixture(autouse=True)
def _no_leaked_mapping(monkeypatch):
    monkeypatch.delenv("IMAGENET_RIB_DATA_OBJECTNET", raising=False)
    monkeypatch.delenv("IMAGENET_RIB_DATA_DIR", raising=False)


# --------------------------------------------------------------------------- the registry


def test_registry_has_the_nine_datasets_and_75_imagenet_c_sets():
    get_dataset_spec("imagenet-val")
    names = [
        "imagenet-val", "imagenet-v2", "imagenet-a", "imagenet-r", "imagenet-sketch",
        "objectnet", "imagenet-cartoon", "imagenet-drawing", "imagenet-c",
    ]  # fmt: skip
    assert all(n in DATASETS for n in names)
    children = [n for n in DATASETS if n.startswith("imagenet-c/")]
    corruptions_15 = [
        "gaussian_noise",
        "shot_noise",
        "impulse_noise",
        "defocus_blur",
        "glass_blur",
        "motion_blur",
        "zoom_blur",
        "snow",
        "frost",
        "fog",
        "brightness",
        "contrast",
        "elastic_transform",
        "pixelate",
        "jpeg_compression",
    ]
    expected = {f"imagenet-c/{c}/{s}" for c in corruptions_15 for s in range(1, 6)}
    assert set(children) == expected and len(children) == 75
    fog3 = get_dataset_spec("imagenet-c/fog/3")
    assert (fog3.parent, fog3.corruption, fog3.severity) == ("imagenet-c", "fog", 3)
    counts = {n: (get_dataset_spec(n).num_images, get_dataset_spec(n).num_classes) for n in names}
    assert counts["imagenet-a"] == (7500, 200) and counts["imagenet-r"] == (30000, 200)
    assert counts["imagenet-c"] == (3_750_000, 1000) and counts["objectnet"] == (18574, 113)
    from imagenet_rib.data import corruptions

    assert imagenet.CORRUPTIONS == corruptions.CORRUPTIONS  # the registry's copy of the list


@pytest.mark.parametrize(
    "name",
    [
        "imagenet-val",
        "imagenet-v2",
        "imagenet-a",
        "imagenet-r",
        "imagenet-sketch",
        "imagenet-cartoon",
        "imagenet-drawing",
        "imagenet-c",
        "imagenet-c/fog/3",
    ],
)
def test_protocols_of_the_registered_datasets(name):
    spec = get_dataset_spec(name)
    protocol = spec.protocol()
    assert protocol.num_classes == 1000
    assert protocol.num_targets == spec.num_classes
    assert spec.licence and spec.citation.startswith("@") and spec.homepage.startswith("https://")


def test_objectnet_protocol_needs_the_converted_mapping():
    with pytest.raises(DatasetError, match="rib datasets build objectnet"):
        get_dataset_spec("objectnet").protocol()


# --------------------------------------------------------------------------- each layout


@pytest.mark.parametrize(
    "name",
    [
        "imagenet-val",
        "imagenet-a",
        "imagenet-r",
        "imagenet-sketch",
        "imagenet-cartoon",
        "imagenet-drawing",
    ],
)
def test_wnid_folder_layouts(tmp_path, name):
    wnids = {
        "imagenet-a": subset_wnids("imagenet_a"),
        "imagenet-r": subset_wnids("imagenet_r"),
    }.get(name, FULL_WNIDS)
    tree = wnid_tree(tmp_path / "src", name, wnids)
    report = convert(
        name,
        tree.root,
        tmp_path / "out",
        ConvertConfig(shard_size=4, **SERIAL),
        expected=tree.expected,
    )
    assert report.num_rows == len(tree.truth) == 9 and report.num_shards == 3
    assert report.ignored == {"file next to the class folders": 1} and not report.skipped
    got = check_truth(tree, tmp_path / "out")
    for r in got:  # JPEG bytes are stored untouched (grey ones too)
        assert r["image"]["bytes"] == (tree.root / r["id"]).read_bytes()
    meta = pq.read_schema(next((tmp_path / "out" / "data").glob("*.parquet"))).metadata[
        b"huggingface"
    ]
    names = json.loads(meta)["info"]["features"]["label"]["names"]
    assert names == list(get_label_space("imagenet-1k").wnids)  # 1000-way, standard order


@pytest.mark.usefixtures("hf_cache")
def test_v2_numeric_folders_are_class_indices(tmp_path):
    import datasets

    tree = v2_tree(tmp_path / "src")
    convert(
        "imagenet-v2", tree.root, tmp_path / "out", ConvertConfig(**SERIAL), expected=tree.expected
    )
    got = check_truth(tree, tmp_path / "out")
    folders = sorted({r["id"].split("/")[0] for r in got})  # lexicographic: 0, 10, 100, 2, 999
    assert folders == ["0", "10", "100", "2", "999"]
    assert {r["id"].split("/")[0]: r["label"] for r in got} == {
        "0": 0,
        "10": 10,
        "100": 100,
        "2": 2,
        "999": 999,
    }
    ds = datasets.load_dataset(str(tmp_path / "out"), split="train")
    assert ds.features["label"].num_classes == 1000 and len(ds) == 10
    assert sorted(zip(ds["id"], ds["label"])) == sorted(
        (i, t["label"]) for i, t in tree.truth.items()
    )


@pytest.mark.usefixtures("hf_cache")
def test_objectnet_every_rule_matches_the_generator(tmp_path):
    from imagenet_rib.data.loading import load_rib_dataset

    tree = objectnet_tree(tmp_path / "src")
    config = ConvertConfig(accept_objectnet_license=True, **SERIAL)
    report = convert("objectnet", tree.root, tmp_path / "out", config, expected=tree.expected)
    assert report.dropped == {"Air freshener": 2}  # outside the ImageNet mapping, by design
    check_truth(tree, tmp_path / "out")
    assert (
        json.loads((tmp_path / "out" / "objectnet_to_imagenet_1k.json").read_text())
        == tree.extra["mapping"]
    )
    ds = load_rib_dataset("objectnet", str(tmp_path / "out"))
    spec = get_dataset_spec("objectnet")
    for rule in ("max-over-mapped", "first-match", "paper-compat"):
        protocol = spec.protocol(rule, source=str(tmp_path / "out"))  # the stored mapping
        targets = protocol.targets(ds["label"], ds["class_name"])
        for name, t in zip(ds["class_name"], targets):
            assert protocol.groups[t] == tree.extra["groups"][name][rule], (rule, name)
    groups = tree.extra["groups"]
    assert (
        len(groups["Chair"]["max-over-mapped"]) == 3
        and groups["Chair"]["paper-compat"] != groups["Chair"]["first-match"]
    )
    for r in ds.cast_column("image", ds.features["image"].__class__(decode=False)):
        pixels = decode(r["image"])
        assert (
            pixels.shape == tree.extra["inner"][r["id"]].shape
        )  # 2 px border cropped, RGBA -> RGB
        np.testing.assert_array_equal(pixels, tree.extra["inner"][r["id"]])


def test_objectnet_needs_opt_in_and_its_mapping_files(tmp_path):
    tree = objectnet_tree(tmp_path / "src")
    with pytest.raises(ConfigError, match="i-accept-objectnet-license"):
        convert("objectnet", tree.root, tmp_path / "out", ConvertConfig(**SERIAL))
    (tree.root / "objectnet-1.0" / "mappings" / "objectnet_to_imagenet_1k.json").unlink()
    with pytest.raises(DatasetError, match="objectnet_to_imagenet_1k.json is missing"):
        convert(
            "objectnet",
            tree.root,
            tmp_path / "out",
            ConvertConfig(accept_objectnet_license=True, on_error="skip", **SERIAL),
        )
    assert not (tmp_path / "out").exists()


@pytest.mark.usefixtures("hf_cache")
def test_imagenet_c_sets_are_addressable(tmp_path):
    import datasets

    from imagenet_rib.data.loading import load_rib_dataset

    tree = imagenet_c_tree(tmp_path / "src")
    report = convert(
        "imagenet-c",
        tree.root,
        tmp_path / "out",
        ConvertConfig(shard_size=3, **SERIAL),
        expected=tree.expected,
    )
    assert report.ignored == {"extra corruption spatter (not in the benchmark)": 1}
    assert report.num_shards == 8  # 4 sets x ceil(4 / 3)
    check_truth(tree, tmp_path / "out")
    fog3 = load_rib_dataset("imagenet-c/fog/3", str(tmp_path / "out"))
    assert sorted(fog3["id"]) == sorted(i for i in tree.truth if i.startswith("fog/3/"))
    config = datasets.load_dataset(str(tmp_path / "out"), "snow-1", split="train")
    assert sorted(config["id"]) == sorted(i for i in tree.truth if i.startswith("snow/1/"))
    groups = {}
    for r in rows(tmp_path / "out"):  # one group per source image, shared by its versions
        groups.setdefault(r["group"], set()).add((r["corruption"], r["severity"]))
    assert len(groups) == 4 and all(len(v) == 4 for v in groups.values())


# --------------------------------------------------------------------------- bad inputs


def _break(kind, tree):
    first = tree.root / FULL_WNIDS[0]
    if kind == "corrupt-image":
        truncate(first / "ILSVRC2012_val_00000001.JPEG")
        return {f"{FULL_WNIDS[0]}/ILSVRC2012_val_00000001.JPEG"}
    if kind == "unknown-folder":
        (tree.root / "n99999999").mkdir()
        (tree.root / "n99999999" / "x.JPEG").write_bytes(
            (first / "ILSVRC2012_val_00000001.JPEG").read_bytes()
        )
        return set()
    if kind == "empty-folder":
        for f in (tree.root / FULL_WNIDS[2]).iterdir():
            f.unlink()
        return {i for i in tree.truth if i.startswith(FULL_WNIDS[2])}
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["corrupt-image", "unknown-folder", "empty-folder"])
def test_bad_input_raises_by_default(tmp_path, kind):
    tree = wnid_tree(tmp_path / "src", "imagenet-val", FULL_WNIDS)
    _break(kind, tree)
    with pytest.raises(DatasetError, match="--on-error skip") as err:
        convert(
            "imagenet-val",
            tree.root,
            tmp_path / "out",
            ConvertConfig(allow_count_mismatch=True, **SERIAL),
            expected=tree.expected,
        )
    assert str(tree.root) in str(err.value)  # names the file or folder
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("kind", ["corrupt-image", "unknown-folder", "empty-folder"])
def test_bad_input_is_a_counted_skip_on_request(tmp_path, kind):
    tree = wnid_tree(tmp_path / "src", "imagenet-val", FULL_WNIDS)
    lost = _break(kind, tree)
    report = convert(
        "imagenet-val",
        tree.root,
        tmp_path / "out",
        ConvertConfig(on_error="skip", **SERIAL),
        expected=tree.expected,
    )
    assert [s["kind"] for s in report.skipped] == [kind]
    assert report.num_rows == len(tree.truth) - len(lost)
    for rid in lost:
        del tree.truth[rid]
    check_truth(tree, tmp_path / "out")  # every remaining row keeps its true label
    assert (kind == "unknown-folder") == (
        not report.warnings
    )  # lost images: count mismatch reported


def test_wrong_count_is_an_error_unless_allowed(tmp_path):
    from dataclasses import replace

    tree = wnid_tree(tmp_path / "src", "imagenet-a", subset_wnids("imagenet_a"))
    expected = replace(tree.expected, num_images=10)
    with pytest.raises(DatasetError, match="found 9 images but imagenet-a has 10"):
        convert(
            "imagenet-a", tree.root, tmp_path / "out", ConvertConfig(**SERIAL), expected=expected
        )
    report = convert(
        "imagenet-a",
        tree.root,
        tmp_path / "out",
        ConvertConfig(allow_count_mismatch=True, **SERIAL),
        expected=expected,
    )
    assert report.warnings[0] == "count mismatch: found 9 images but imagenet-a has 10"
    assert report.warnings[1].startswith("converted 9 rows but imagenet-a has 10")


def test_a_wnid_outside_the_subset_is_not_silently_kept(tmp_path):
    tree = wnid_tree(
        tmp_path / "src", "imagenet-a", subset_wnids("imagenet_a") + ["n01440764"]
    )  # tench: not in A
    with pytest.raises(DatasetError, match="not a class of imagenet-a"):
        convert(
            "imagenet-a",
            tree.root,
            tmp_path / "out",
            ConvertConfig(**SERIAL),
            expected=tree.expected,
        )


@pytest.mark.parametrize(
    "kw", [{"on_error": "ignore"}, {"shard_size": 0}, {"num_workers": -2}, {"border_px": -1}]
)
def test_bad_convert_config(kw):
    with pytest.raises(ConfigError):
        ConvertConfig(**kw)


def test_out_folder_that_is_not_a_conversion_is_left_alone(tmp_path):
    tree = wnid_tree(tmp_path / "src", "imagenet-val", FULL_WNIDS)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "precious.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="not a conversion"):
        convert(
            "imagenet-val",
            tree.root,
            tmp_path / "out",
            ConvertConfig(**SERIAL),
            expected=tree.expected,
        )
    assert (tmp_path / "out" / "precious.txt").read_text() == "keep me"


# --------------------------------------------------------------------------- resumption


def test_interrupted_conversion_resumes_without_duplicates(tmp_path, monkeypatch):
    tree = wnid_tree(
        tmp_path / "src", "imagenet-val", FULL_WNIDS, per_class=4
    )  # 12 images, 6 shards
    config = ConvertConfig(shard_size=2, **SERIAL)
    real, calls = engine.convert_shard, []

    def flaky(task):
        calls.append(task.key)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(task)

    monkeypatch.setattr(engine, "convert_shard", flaky)
    with pytest.raises(KeyboardInterrupt):
        convert("imagenet-val", tree.root, tmp_path / "out", config, expected=tree.expected)
    partial = tmp_path / "out.partial"
    assert (
        not (tmp_path / "out").exists()
        and len(json.loads((partial / "conversion.json").read_text())["shards"]) == 3
    )
    before = {p.name: p.stat().st_mtime_ns for p in (partial / "data").glob("*.parquet")}
    monkeypatch.setattr(engine, "convert_shard", real)
    report = convert("imagenet-val", tree.root, tmp_path / "out", config, expected=tree.expected)
    assert report.reused_shards == 3 and report.num_shards == 6 and report.num_rows == 12
    check_truth(tree, tmp_path / "out")
    after = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out" / "data").glob("*.parquet")}
    assert all(after[name] == t for name, t in before.items())  # reused, not rewritten
    again = convert("imagenet-val", tree.root, tmp_path / "out", config, expected=tree.expected)
    assert (again.num_rows, again.reused_shards) == (12, 6)  # a finished conversion is not redone


def test_fixed_image_resumes_and_changed_source_needs_force(tmp_path):
    tree = wnid_tree(tmp_path / "src", "imagenet-val", FULL_WNIDS)
    bad = tree.root / FULL_WNIDS[2] / "ILSVRC2012_val_00000002.JPEG"
    good = bad.read_bytes()
    truncate(bad)
    config = ConvertConfig(shard_size=3, **SERIAL)
    with pytest.raises(DatasetError, match="cannot decode"):
        convert("imagenet-val", tree.root, tmp_path / "out", config, expected=tree.expected)
    bad.write_bytes(good)  # re-downloaded
    report = convert("imagenet-val", tree.root, tmp_path / "out", config, expected=tree.expected)
    assert report.reused_shards == 2 and report.num_rows == 9
    check_truth(tree, tmp_path / "out")

    truncate(bad)
    with pytest.raises(DatasetError):
        convert("imagenet-val", tree.root, tmp_path / "out2", config, expected=tree.expected)
    (tree.root / FULL_WNIDS[0] / "new.JPEG").write_bytes(good)  # the listing changed
    config = config.replace(allow_count_mismatch=True)
    with pytest.raises(DatasetError, match="--force"):
        convert("imagenet-val", tree.root, tmp_path / "out2", config, expected=tree.expected)
    bad.write_bytes(good)
    report = convert(
        "imagenet-val",
        tree.root,
        tmp_path / "out2",
        config.replace(force=True),
        expected=tree.expected,
    )
    assert report.reused_shards == 0 and report.num_rows == 10


def test_parallel_conversion_equals_serial(tmp_path):
    tree = imagenet_c_tree(tmp_path / "src")
    shas = []
    for workers, out in ((0, "serial"), (2, "parallel")):
        convert(
            "imagenet-c",
            tree.root,
            tmp_path / out,
            ConvertConfig(num_workers=workers, shard_size=3, progress=False),
            expected=tree.expected,
        )
        manifest = json.loads((tmp_path / out / "conversion.json").read_text())
        shas.append({k: v["sha256"] for k, v in manifest["shards"].items()})
    assert shas[0] == shas[1] and len(shas[0]) == 8
