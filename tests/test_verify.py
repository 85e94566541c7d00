"""Verification: counts, class sets, labels and checksums, and what the CLI makes of them."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import pyarrow.parquet as pq
import pytest

from imagenet_rib.cli import main
from imagenet_rib.data.converters import ConvertConfig, convert
from imagenet_rib.data.verify import verify
from imagenet_rib.errors import DatasetError
from support.layouts import imagenet_c_tree, subset_wnids, wnid_tree

SERIAL = dict(num_workers=0, progress=False)


@pytest.fixture
def converted(tmp_path):
    tree = wnid_tree(tmp_path / "src", "imagenet-a", subset_wnids("imagenet_a"))
    convert(
        "imagenet-a",
        tree.root,
        tmp_path / "out",
        ConvertConfig(shard_size=4, **SERIAL),
        expected=tree.expected,
    )
    return tree, tmp_path / "out"


def _shards(out):
    return sorted((out / "data").glob("*.parquet"))


def test_a_complete_copy_verifies(converted):
    tree, out = converted
    report = verify("imagenet-a", str(out), expected=tree.expected)
    assert report.ok, report.to_text()
    assert (report.num_rows, report.num_classes, report.checksum_errors) == (9, 3, [])
    assert report.to_dict()["ok"] is True


def test_registry_counts_name_every_missing_class(converted):
    _, out = converted
    report = verify("imagenet-a", str(out))
    assert not report.ok
    assert (
        report.expected_rows == 7500
        and len(report.missing_classes) == 197
        and report.extra_classes == []
    )
    assert any("9 rows but imagenet-a has 7500 (-7491)" in p for p in report.problems)
    assert "WRONG" in report.to_text()


def test_tampered_missing_and_foreign_shards(converted):
    tree, out = converted
    first, second = _shards(out)[:2]
    shutil.copy(first, out / "data" / "extra-copy.parquet")  # rows that would be counted twice
    second.unlink()
    report = verify("imagenet-a", str(out), expected=tree.expected)
    assert any("extra-copy.parquet is not in" in e for e in report.checksum_errors)
    assert any(f"{second.name} is missing" in e for e in report.checksum_errors)
    assert report.duplicate_ids == 4 and report.num_rows == 9 - 4 + 4

    shutil.copy(first, second)  # same size and schema, wrong content
    (out / "data" / "extra-copy.parquet").unlink()
    report = verify("imagenet-a", str(out), expected=tree.expected)
    assert report.checksum_errors == [
        f"shard data/{second.name} does not match its recorded SHA-256 (modified or damaged)"
    ]


def test_a_relabelled_row_is_caught(converted):
    tree, out = converted
    shard = _shards(out)[0]
    table = pq.read_table(shard).to_pylist()
    table[0]["label"] = (table[0]["label"] + 1) % 1000
    import pyarrow as pa

    pq.write_table(pa.Table.from_pylist(table, schema=pq.read_schema(shard)), shard)
    report = verify("imagenet-a", str(out), expected=tree.expected)
    assert report.label_mismatches == 1 and not report.ok


def test_imagenet_c_missing_set_is_named(tmp_path):
    tree = imagenet_c_tree(tmp_path / "src")
    shutil.rmtree(tree.root / "snow" / "3")
    config = ConvertConfig(allow_count_mismatch=True, **SERIAL)
    convert("imagenet-c", tree.root, tmp_path / "out", config, expected=tree.expected)
    report = verify("imagenet-c", str(tmp_path / "out"), expected=tree.expected)
    assert report.missing_sets == ["snow/3"]
    assert report.set_counts == {"fog/1": 4, "fog/3": 4, "snow/1": 4}
    child = verify(
        "imagenet-c/fog/3",
        str(tmp_path / "out"),
        expected=replace(tree.expected, num_images=4, sets=None),
    )
    assert child.ok and child.num_rows == 4


def test_unfinished_conversion_is_wrong(converted):
    tree, out = converted
    manifest = json.loads((out / "conversion.json").read_text())
    manifest["complete"] = False
    (out / "conversion.json").write_text(json.dumps(manifest))
    report = verify("imagenet-a", str(out), expected=tree.expected)
    assert any("did not finish" in p for p in report.problems)


def test_skips_are_reported(tmp_path):
    tree = wnid_tree(tmp_path / "src", "imagenet-a", subset_wnids("imagenet_a"))
    (tree.root / subset_wnids("imagenet_a")[0] / "ILSVRC2012_val_00000001.JPEG").write_bytes(
        b"not a jpeg"
    )
    convert(
        "imagenet-a",
        tree.root,
        tmp_path / "out",
        ConvertConfig(on_error="skip", **SERIAL),
        expected=tree.expected,
    )
    report = verify("imagenet-a", str(tmp_path / "out"), expected=tree.expected)
    assert report.skipped_in_conversion == 1 and not report.ok  # 8 of 9 rows
    assert any("{'corrupt-image': 1}" in n for n in report.notes)


def test_no_source_is_an_error_with_the_fix(monkeypatch):
    monkeypatch.delenv("IMAGENET_RIB_DATA_DIR", raising=False)
    with pytest.raises(DatasetError, match="rib datasets build imagenet-r"):
        verify("imagenet-r")


def test_cli_verify_exit_codes(converted, capsys):
    tree, out = converted
    assert main(["datasets", "verify", "imagenet-a", "--source", str(out)]) == 1
    assert "WRONG" in capsys.readouterr().out
    assert main(["datasets", "verify", "imagenet-a", "--source", str(out), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)[0]["missing_classes"][:1] == ["n01558993"]


def test_cli_build_converts_then_verifies(tmp_path, capsys):
    tree = wnid_tree(tmp_path / "src", "imagenet-a", subset_wnids("imagenet_a"))
    args = [
        "datasets",
        "build",
        "imagenet-a",
        "--src",
        str(tree.root),
        "--out",
        str(tmp_path / "out"),
        "--expected-images",
        "9",
        "--num-workers",
        "0",
        "--no-progress",
    ]
    assert main(args) == 2  # 197 of the 200 classes are absent from the download
    assert "197 classes have no images" in capsys.readouterr().err
    code = main([*args, "--allow-count-mismatch"])
    out = capsys.readouterr().out
    assert code == 1 and "imagenet-a: 9 rows in 1 shards" in out and "197 classes missing" in out
    assert (
        main(
            ["datasets", "build", "objectnet", "--src", str(tmp_path), "--out", str(tmp_path / "o")]
        )
        == 2
    )
    assert "--i-accept-objectnet-license" in capsys.readouterr().err


def test_cli_list(capsys):
    assert main(["datasets", "list"]) == 0
    text = capsys.readouterr().out
    for name in ("imagenet-val", "imagenet-v2", "objectnet", "imagenet-c", "mini-c"):
        assert f"\n{name} " in text
    assert "imagenet-c/fog/3" not in text and "[opt-in]" in text
    assert main(["datasets", "list", "--all", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    # 9 ImageNet-RIB datasets + 75 ImageNet-C sets + 11 Mini-RIB datasets; suites loaded by
    # other tests may have registered their own ("local" layout) datasets too
    assert len([d for d in listed if d["layout"] != "local"]) == 95


def test_mini_suite_verifies_against_its_manifest(capsys):
    assert main(["datasets", "build", "mini-rib"]) == 0  # builds once per session, then reuses
    out = capsys.readouterr().out
    assert out.count(": OK - ") == 11
    report = verify("mini-objectnet")
    assert report.ok and report.num_classes == 6 and report.checksum_errors == []
