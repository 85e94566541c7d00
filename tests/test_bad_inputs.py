"""The catalogue of bad inputs: each one gets a clear error, and nothing already written changes.

Every `Case` is one bad input to the Python API (`run`) or to the CLI (`argv`). The test
runs it in a fresh working directory (``tmp_path``, after `setup` wrote its files there)
and checks:

- the API raises `error` (an `imagenet_rib.errors.RIBError` subclass unless stated) whose
  message matches `match`; the CLI exits with `exit_code`, and for exit 2 prints
  ``rib <command>: error: ...`` matching `match` (for other codes `match` is searched in
  stdout + stderr);
- every file under the working directory is byte-identical before and after, and no file
  was added or removed ("nothing lost, nothing half-written").

To add a case, append a `Case` to `CASES` (or to a section list below); `setup`, `env`
and `run` / `argv` receive the working directory as a `Path`.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from imagenet_rib.errors import CacheError, ConfigError, DatasetError, RIBError, UnknownNameError
from imagenet_rib.scores import ScoreInputError


@dataclass(frozen=True)
class Case:
    """One bad input: `run(cwd)` (Python API) or `argv(cwd)` (CLI) and what must happen."""

    name: str
    match: str  # regex the error message must contain (the problem and/or the fix)
    run: Callable[[Path], Any] | None = None
    argv: Callable[[Path], list[str]] | None = None
    error: type[BaseException] = RIBError
    exit_code: int = 2
    setup: Callable[[Path], Any] | None = None
    env: Callable[[Path], dict[str, str]] | None = None  # environment variables for the run
    marks: tuple[Any, ...] = field(default=())

    def __post_init__(self) -> None:
        assert (self.run is None) != (self.argv is None), self.name


def snapshot(root: Path) -> dict[str, str]:
    """{relative path: SHA-256} of every file under `root`."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# ----------------------------------------------------------------------------- helpers


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def bench_yaml(cwd: Path, extra: str) -> Path:
    """A benchmark config over the built-in Mini-RIB suite with `extra` YAML lines."""
    base = "name: bad\nmodels: [mini-vit-clean]\nmethods: [ft]\noutput_dir: runs\n"
    keys = {line.split(":")[0] for line in extra.splitlines() if line and line[0] != " "}
    base = "".join(line + "\n" for line in base.splitlines() if line.split(":")[0] not in keys)
    return write(cwd / "bench.yaml", base + extra)


def load_bench(cwd: Path):
    from imagenet_rib.plan import BenchmarkConfig

    return BenchmarkConfig.load(cwd / "bench.yaml")


def png(path: Path, value: int = 0) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 8, 3), value, np.uint8)).save(path)


def class_tree(root: Path, classes: list[str], per_class: int = 2) -> Path:
    for c in classes:
        for i in range(per_class):
            png(root / c / f"{i}.png", 20 * i)
    return root


def suite_yaml(cwd: Path, body: str, label_space: str = "mini-digits") -> Path:
    return write(cwd / "suite.yaml", f"name: bad-suite\nlabel_space: {label_space}\n{body}")


def suite_part(cwd: Path, name: str):
    from imagenet_rib.data.splits import SplitConfig
    from imagenet_rib.suites import load_suite

    return load_suite(cwd / "suite.yaml").part(name, "test", SplitConfig(rule="none"))


def tiny_rows(path: Path, n: int = 12) -> Path:
    from support.rib_train_helpers import make_dataset

    return make_dataset(path, tuple(range(10)), n)


def imagenet_rows(path: Path) -> Path:
    """Rows in the ImageNet-1k schema (1000 wnid ClassLabel) saved to disk."""
    import datasets

    from imagenet_rib.data.labels import imagenet_1k
    from imagenet_rib.data.schema import features

    space = imagenet_1k()
    rows = {"image": [], "label": [], "wnid": [], "id": [], "group": [], "class_name": []}
    for i in range(4):
        png(path.parent / "_img.png", i)
        rows["image"].append({"bytes": (path.parent / "_img.png").read_bytes(), "path": None})
        rows["label"].append(i)
        rows["wnid"].append(space.wnids[i])
        rows["id"].append(f"r{i}")
        rows["group"].append(f"r{i}")
        rows["class_name"].append(space.wnids[i])
    (path.parent / "_img.png").unlink()
    rows |= {"corruption": [""] * 4, "severity": [0] * 4}
    datasets.Dataset.from_dict(rows, features=features(space)).save_to_disk(str(path))
    return path


def plain_rows(path: Path, columns: dict[str, list], label_feature: Any = None) -> Path:
    """A save_to_disk dataset with the given columns (images: tiny PNG bytes)."""
    import datasets

    n = len(next(iter(columns.values())))
    png(path.parent / "_img.png", 3)
    data = {"image": [{"bytes": (path.parent / "_img.png").read_bytes(), "path": None}] * n}
    (path.parent / "_img.png").unlink()
    data |= columns
    feats = {"image": datasets.Image()}
    for k, v in columns.items():
        feats[k] = (
            label_feature
            if k == "label" and label_feature is not None
            else datasets.Value("int64" if isinstance(v[0], int) else "string")
        )
    datasets.Dataset.from_dict(data, features=datasets.Features(feats)).save_to_disk(str(path))
    return path


def foreign_sqlite(path: Path) -> Path:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE people (name TEXT, age INTEGER)")
    con.execute("INSERT INTO people VALUES ('ada', 36)")
    con.commit()
    con.close()
    return path


def store_with_version(path: Path, version: str) -> Path:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    con.execute("CREATE TABLE records (run_id TEXT)")
    con.execute("INSERT INTO meta VALUES ('schema_version', ?)", (version,))
    con.commit()
    con.close()
    return path


def made_store(path: Path) -> Path:
    from imagenet_rib.results import ResultStore
    from test_results_store import make_record

    store = ResultStore(path)
    store.add([make_record()], done=("r0", {}))
    for suffix in ("-wal", "-shm"):  # a cleanly closed store: only the database file remains
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    return path


def fake_mini_cache(cwd: Path, flip: bool) -> Path:
    """A Mini-RIB cache under ``cwd/cache`` holding only ``mini-v2`` (tiny rows) + manifest."""
    import datasets

    from imagenet_rib.data.mini import build
    from imagenet_rib.data.schema import content_hash

    root = build.suite_root(0, cwd / "cache" / "mini-rib")
    ds = datasets.load_from_disk(str(tiny_rows(root / "mini-v2")))
    manifest = {"version": build.MINI_VERSION, "seed": 0, "datasets": {}}
    manifest["datasets"]["mini-v2"] = {"num_rows": len(ds), "sha256": content_hash(ds)}
    write(root / "manifest.json", json.dumps(manifest))
    write(root / ".build.lock", "")  # what build_suite's file lock leaves behind
    if flip:  # one flipped bit inside an image's compressed data
        arrow = next((root / "mini-v2").glob("*.arrow"))
        data = bytearray(arrow.read_bytes())
        data[data.index(b"IDAT") + 12] ^= 0x10
        arrow.write_bytes(bytes(data))
    return root


def converted_shards(cwd: Path, truncate: bool) -> Path:
    """A `rib datasets build`-style folder of imagenet-sketch (2 classes), one shard cut short."""
    from imagenet_rib.data.converters import ConvertConfig, convert
    from support.layouts import wnid_tree

    tree = wnid_tree(cwd / "_src", "imagenet-sketch", ["n01440764", "n01443537"], per_class=3)
    out = cwd / "sketch"
    convert(
        "imagenet-sketch",
        tree.root,
        out,
        ConvertConfig(num_workers=0, progress=False, shard_size=3),
        expected=tree.expected,
    )
    import shutil

    shutil.rmtree(cwd / "_src")
    if truncate:
        shard = sorted(out.glob("data/**/*.parquet"))[0]
        shard.write_bytes(shard.read_bytes()[:200])
    return out


def bad_model(cwd: Path, id2label: dict[int, str] | None, space: str | None = "mini-digits"):
    import torch
    from transformers import ViTForImageClassification

    from imagenet_rib.models.mini import image_processor, vit_config

    torch.manual_seed(0)
    over = {"hidden_size": 16, "num_hidden_layers": 1, "intermediate_size": 16}
    config = vit_config(**over)
    if id2label is not None:
        config.id2label = id2label
        config.label2id = {v: k for k, v in id2label.items()}
    if space is None:
        del config.rib_label_space
    ViTForImageClassification(config).save_pretrained(cwd / "model")
    image_processor().save_pretrained(cwd / "model")


DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
SHUFFLED = {i: DIGITS[(i + 1) % 10] for i in range(10)}


def rib_metric(config: str = "accuracy"):
    import evaluate

    from imagenet_rib import metrics

    return evaluate.load(metrics.path("rib"), config)


def otdd_metric():
    import evaluate

    from imagenet_rib import metrics

    return evaluate.load(metrics.path("otdd"))


ROWS4 = dict(finetune_set=["a", "b", "a", "b"], eval_set=["b", "a", "ref", "ref"])


# ----------------------------------------------------------------------------- config types

CONFIG_CASES = [
    Case(
        "lr-not-a-number",
        "TrainConfig.lr='abc' must be a number",
        run=load_bench,
        error=ConfigError,
        setup=lambda d: bench_yaml(d, "train: {lr: abc}\n"),
    ),
    Case(
        "lr-negative",
        r"lr=-1.*out of range",
        run=load_bench,
        error=ConfigError,
        setup=lambda d: bench_yaml(d, "train: {lr: -1}\n"),
    ),
    Case(
        "epochs-word",
        "TrainConfig.epochs='ten' must be a number",
        run=load_bench,
        error=ConfigError,
        setup=lambda d: bench_yaml(d, "train: {epochs: ten}\n"),
    ),
    Case(
        "train-option-typo",
        r"unknown option\(s\) \['optimiser'\]",
        run=load_bench,
        error=ConfigError,
        setup=lambda d: bench_yaml(d, "train: {optimiser: adamw}\n"),
    ),
    Case(
        "method-train-override-bad",
        r"method 'ft' train: TrainConfig.batch_size='64x' must be an integer",
        run=load_bench,
        error=ConfigError,
        setup=lambda d: bench_yaml(d, "methods:\n  - {name: ft, train: {batch_size: 64x}}\n"),
    ),
    Case(
        "seeds-not-integers",
        r"BenchmarkConfig.seeds\[0\]='a' must be an integer",
        run=load_bench,
        error=ConfigError,
        setup=lambda d: bench_yaml(d, "seeds: [a]\n"),
    ),
    Case(
        "seeds-empty",
        "seeds is empty",
        run=load_bench,
        error=ConfigError,
        setup=lambda d: bench_yaml(d, "seeds: []\n"),
    ),
    Case(
        "models-mapping",
        "BenchmarkConfig.models=.* must be a list of strings",
        run=load_bench,
        error=ConfigError,
        setup=lambda d: bench_yaml(d, "models: {a: b}\n"),
    ),
    Case(
        "models-null",
        "BenchmarkConfig.models is empty",
        run=load_bench,
        error=ConfigError,
        setup=lambda d: bench_yaml(d, "models:\n"),
    ),
    Case(
        "split-rule-unknown",
        r"SplitConfig.rule='random' is not allowed",
        run=load_bench,
        error=ConfigError,
        setup=lambda d: bench_yaml(d, "split: {rule: random}\n"),
    ),
    Case(
        "split-fraction-word",
        "SplitConfig.test_fraction='half' must be a number",
        run=load_bench,
        error=ConfigError,
        setup=lambda d: bench_yaml(d, "split: {test_fraction: half}\n"),
    ),
    Case(
        "max-train-samples-zero",
        r"max_train_samples\['mini-r'\]=0 is out of range",
        run=load_bench,
        error=ConfigError,
        setup=lambda d: bench_yaml(d, "max_train_samples: {mini-r: 0}\n"),
    ),
    Case(
        "max-train-samples-word",
        r"max_train_samples\['mini-r'\]='many' must be an integer",
        run=load_bench,
        error=ConfigError,
        setup=lambda d: bench_yaml(d, "max_train_samples: {mini-r: many}\n"),
    ),
    Case(
        "eval-batch-size-zero",
        "eval_batch_size=0 is out of range",
        run=load_bench,
        error=ConfigError,
        setup=lambda d: bench_yaml(d, "eval_batch_size: 0\n"),
    ),
    Case(
        "bench-yaml-syntax",
        "benchmark config .*bench.yaml cannot be parsed.*line",
        run=load_bench,
        error=ConfigError,
        setup=lambda d: write(d / "bench.yaml", "models: [a\nmethods: ft\n"),
    ),
    Case(
        "bench-yaml-list",
        "must hold a mapping of BenchmarkConfig options",
        run=load_bench,
        error=ConfigError,
        setup=lambda d: write(d / "bench.yaml", "- ft\n- lora\n"),
    ),
    Case(
        "cli-run-bad-lr-writes-nothing",
        "TrainConfig.lr='fast' must be a number",
        argv=lambda d: ["run", str(d / "bench.yaml")],
        setup=lambda d: bench_yaml(d, "train: {lr: fast}\n"),
    ),
]

# ----------------------------------------------------------------------------- suites


SUITE_CASES = [
    Case(
        "suite-dataset-undefined",
        r"dataset 'my-sketches' is neither registered nor defined.*source:",
        run=lambda d: suite_part(d, "my-sketches"),
        error=ConfigError,
        setup=lambda d: suite_yaml(d, "datasets: [mini-sketch, my-sketches]\n"),
    ),
    Case(
        "suite-unknown-field",
        r"unknown field\(s\) \['titel'\]",
        run=lambda d: suite_part(d, "ds20"),
        error=ConfigError,
        setup=lambda d: suite_yaml(d, "datasets:\n  - {name: ds20, source: ./x, titel: Mine}\n"),
    ),
    Case(
        "suite-stray-source",
        r"'sources:' names \['mini-sketc'\]",
        run=lambda d: suite_part(d, "mini-sketch"),
        error=ConfigError,
        setup=lambda d: suite_yaml(
            d, "datasets: [mini-sketch, mini-r]\nsources: {mini-sketc: ./x}\n"
        ),
    ),
    Case(
        "suite-source-not-a-string",
        r"source=5 must be a folder path or a Hub dataset id",
        run=lambda d: suite_part(d, "ds22"),
        error=ConfigError,
        setup=lambda d: suite_yaml(d, "datasets:\n  - {name: ds22, source: 5}\n"),
    ),
    Case(
        "suite-unknown-label-space",
        "unknown label space 'digitz'",
        run=lambda d: suite_part(d, "mini-r"),
        error=UnknownNameError,
        setup=lambda d: suite_yaml(d, "datasets: [mini-r, mini-a]\n", label_space="digitz"),
    ),
    Case(
        "suite-yaml-syntax",
        "suite file .*suite.yaml cannot be parsed",
        run=lambda d: suite_part(d, "mini-r"),
        error=ConfigError,
        setup=lambda d: write(d / "suite.yaml", "name: x\ndatasets: [mini-r\n"),
    ),
    Case(
        "imagefolder-unknown-class",
        r"class name\(s\) 'ten' match no class.*wnid",
        run=lambda d: suite_part(d, "ds25"),
        error=DatasetError,
        setup=lambda d: (
            class_tree(d / "tree", ["zero", "one", "ten"]),
            suite_yaml(d, "datasets:\n  - {name: ds25, source: ./tree}\n"),
        ),
    ),
    Case(
        "imagefolder-imagenet-wnids-in-digits-suite",
        "labelled in another label space",
        run=lambda d: suite_part(d, "ds26"),
        error=DatasetError,
        setup=lambda d: (
            class_tree(d / "tree", ["n01440764", "n01443537"]),
            suite_yaml(d, "datasets:\n  - {name: ds26, source: ./tree}\n"),
        ),
    ),
    Case(
        "imagenet-rows-in-digits-suite",
        r"none of its 1000 class names .* labelled in another label space",
        run=lambda d: suite_part(d, "ds27"),
        error=DatasetError,
        setup=lambda d: (
            imagenet_rows(d / "rows"),
            suite_yaml(d, "datasets:\n  - {name: ds27, source: ./rows}\n"),
        ),
    ),
    Case(
        "imagefolder-ambiguous-imagenet-name",
        r"'crane' \(classes n02012849, n03126707\) match several classes",
        run=lambda d: suite_part(d, "ds28"),
        error=DatasetError,
        setup=lambda d: (
            class_tree(d / "tree", ["crane", "tench"]),
            suite_yaml(d, "datasets:\n  - {name: ds28, source: ./tree}\n", "imagenet-1k"),
        ),
    ),
    Case(
        "imagefolder-with-split-folders",
        r"holds the splits \['test', 'train'\]; point the source .* at one split",
        run=lambda d: suite_part(d, "ds29"),
        error=DatasetError,
        setup=lambda d: (
            class_tree(d / "tree" / "train", ["zero", "one"]),
            class_tree(d / "tree" / "test", ["zero", "one"]),
            suite_yaml(d, "datasets:\n  - {name: ds29, source: ./tree}\n"),
        ),
    ),
    Case(
        "source-folder-without-images",
        "holds neither a save_to_disk folder, Parquet shards nor class folders",
        run=lambda d: suite_part(d, "ds30"),
        error=DatasetError,
        setup=lambda d: (
            write(d / "empty" / "notes" / "readme.txt", "nothing here"),
            suite_yaml(d, "datasets:\n  - {name: ds30, source: ./empty}\n"),
        ),
    ),
    Case(
        "rows-with-bare-integer-labels",
        "'label' column holds bare integers .* ClassLabel",
        run=lambda d: suite_part(d, "ds31"),
        error=DatasetError,
        setup=lambda d: (
            plain_rows(d / "rows", {"label": [0, 1, 2]}),
            suite_yaml(d, "datasets:\n  - {name: ds31, source: ./rows}\n"),
        ),
    ),
    Case(
        "rows-without-label-column",
        r"a dataset needs at least 'image' and 'label'",
        run=lambda d: suite_part(d, "ds32"),
        error=DatasetError,
        setup=lambda d: (
            plain_rows(d / "rows", {"class": ["zero", "one"]}),
            suite_yaml(d, "datasets:\n  - {name: ds32, source: ./rows}\n"),
        ),
    ),
    Case(
        "rows-wnid-disagrees-with-label",
        r"rows have a 'wnid' that disagrees with the class name of their label",
        run=lambda d: suite_part(d, "ds33"),
        error=DatasetError,
        setup=lambda d: (
            plain_rows(
                d / "rows",
                {"label": [0, 1], "wnid": ["one", "one"]},
                label_feature=__import__("datasets").ClassLabel(names=["zero", "one"]),
            ),
            suite_yaml(d, "datasets:\n  - {name: ds33, source: ./rows}\n"),
        ),
    ),
    Case(
        "cli-evaluate-imagefolder-unknown-class",
        r"class name\(s\) 'eleven' match no class",
        argv=lambda d: ["evaluate", "--suite", str(d / "suite.yaml"), "--model", str(d / "m")],
        setup=lambda d: (
            class_tree(d / "tree", ["zero", "eleven"]),
            class_tree(d / "good", ["zero", "one"]),
            suite_yaml(
                d,
                "datasets:\n  - {name: ds34, source: ./tree}\n  - {name: ds34b, source: ./good}\n",
            ),
        ),
    ),
]

# ----------------------------------------------------------------------------- results stores


def _open_store(path: Path, **kw):
    from imagenet_rib.results import ResultStore

    return ResultStore(path, **kw)


def _write_read_only(path: Path) -> None:
    from test_results_store import make_record

    _open_store(path, read_only=True).add([make_record(run="r1")])


STORE_CASES = [
    Case(
        "store-foreign-sqlite",
        r"not an imagenet-rib results store: it is an SQLite database of something else "
        r"\(tables: \['people'\]\).*untouched",
        run=lambda d: _open_store(d / "people.sqlite"),
        setup=lambda d: foreign_sqlite(d / "people.sqlite"),
    ),
    Case(
        "store-foreign-sqlite-read-only",
        "not an imagenet-rib results store",
        run=lambda d: _open_store(d / "people.sqlite", read_only=True),
        setup=lambda d: foreign_sqlite(d / "people.sqlite"),
    ),
    Case(
        "store-text-file",
        "not an imagenet-rib results store: it is not an SQLite database",
        run=lambda d: _open_store(d / "notes.sqlite"),
        setup=lambda d: write(d / "notes.sqlite", "my notes\n"),
    ),
    Case(
        "store-other-schema-version",
        "has results-store schema v99",
        run=lambda d: _open_store(d / "old.sqlite"),
        setup=lambda d: store_with_version(d / "old.sqlite", "99"),
    ),
    Case(
        "store-missing-read-only",
        "there is no results store at",
        run=lambda d: _open_store(d / "nothing.sqlite", read_only=True),
        error=ConfigError,
    ),
    Case(
        "store-write-when-read-only",
        "opened read-only",
        run=lambda d: _write_read_only(d / "r.sqlite"),
        setup=lambda d: made_store(d / "r.sqlite"),
    ),
    Case(
        "cli-report-foreign-sqlite",
        "not an imagenet-rib results store",
        argv=lambda d: ["report", "--store", str(d / "people.sqlite"), "--out", str(d / "out")],
        setup=lambda d: foreign_sqlite(d / "people.sqlite"),
    ),
]

# ----------------------------------------------------------------------------- caches, verify


def _load_mini(d: Path) -> None:
    from imagenet_rib.data import loading

    loading._MINI_CHECKED.pop("mini-v2", None)  # forget an earlier check in this process
    loading.load_rib_dataset("mini-v2")


CACHE_CASES = [
    Case(
        "mini-cache-bit-flip",
        r"cached Mini-RIB dataset 'mini-v2' .* is damaged.*rib datasets build mini-rib --force",
        run=_load_mini,
        error=CacheError,
        setup=lambda d: fake_mini_cache(d, flip=True),
        env=lambda d: {"IMAGENET_RIB_CACHE": str(d / "cache")},
    ),
    Case(
        "verify-damaged-mini-cache",
        r"mini-v2 .*WRONG.*content hash of mini-v2 differs .*rib datasets build mini-rib --force",
        argv=lambda d: ["datasets", "verify", "mini-v2", "--expected-images", "12"],
        exit_code=1,
        setup=lambda d: fake_mini_cache(d, flip=True),
        env=lambda d: {"IMAGENET_RIB_CACHE": str(d / "cache")},
    ),
    Case(
        "verify-truncated-parquet-shard",
        r"PROBLEM: shard data/\S+\.parquet is unreadable .*rib datasets build",
        argv=lambda d: ["datasets", "verify", "imagenet-sketch", "--source", str(d / "sketch")],
        exit_code=1,
        setup=lambda d: converted_shards(d, truncate=True),
    ),
    Case(
        "verify-truncated-arrow",
        r"PROBLEM: the dataset at \S*rows is unreadable",
        argv=lambda d: ["datasets", "verify", "mini-sketch", "--source", str(d / "rows")],
        exit_code=1,
        setup=lambda d: (
            tiny_rows(d / "rows"),
            (a := next((d / "rows").glob("*.arrow"))).write_bytes(a.read_bytes()[:300]),
        ),
    ),
    Case(
        "objectnet-mapping-truncated",
        r"ObjectNet mapping file .* is unreadable or not valid JSON.*copy it again",
        run=lambda d: _objectnet_protocol(d, "first-match"),
        error=DatasetError,
        setup=lambda d: write(d / "on" / "objectnet_to_imagenet_1k.json", '{"Chair": "bar'),
    ),
    Case(
        "objectnet-paper-compat-without-folder-file",
        r"paper-compat rule needs folder_to_objectnet_label.json",
        run=lambda d: _objectnet_protocol(d, "paper-compat"),
        error=DatasetError,
        setup=lambda d: write(
            d / "on" / "objectnet_to_imagenet_1k.json", '{"Alarm clock": "analog clock"}'
        ),
    ),
    Case(
        "objectnet-unknown-rule",
        r"ObjectNet rule 'best' unknown; choose one of",
        run=lambda d: _objectnet_protocol(d, "best"),
        error=ConfigError,
        setup=lambda d: write(
            d / "on" / "objectnet_to_imagenet_1k.json", '{"Alarm clock": "analog clock"}'
        ),
    ),
]


def _objectnet_protocol(d: Path, rule: str):
    from imagenet_rib.data.specs import get_dataset_spec

    return get_dataset_spec("objectnet").protocol(rule, source=str(d / "on"))


# ----------------------------------------------------------------------------- metrics

METRIC_CASES = [
    Case(
        "rib-fractions-mixed-with-percents",
        r"fractions mixed with percentages\? .*multiply fractions by 100",
        run=lambda d: rib_metric().compute(
            predictions=[0.6, 40.0, 70.0, 55.0], references=[50.0, 50.0, 60.0, 60.0], **ROWS4
        ),
        error=ScoreInputError,
    ),
    Case(
        "rib-all-fractions",
        r"they look like fractions.*scale='fraction'",
        run=lambda d: rib_metric().compute(
            predictions=[0.6, 0.4, 0.7, 0.55], references=[0.5, 0.5, 0.6, 0.6], **ROWS4
        ),
        error=ScoreInputError,
    ),
    Case(
        "rib-above-100",
        r"accuracy 140.0 is outside \[0, 100\]",
        run=lambda d: rib_metric().compute(
            predictions=[60.0, 140.0, 70.0, 55.0], references=[50.0] * 4, **ROWS4
        ),
        error=ScoreInputError,
    ),
    Case(
        "rib-unknown-scale",
        r"scale='percentage' is not one of",
        run=lambda d: rib_metric().compute(
            predictions=[60.0] * 4, references=[50.0] * 4, scale="percentage", **ROWS4
        ),
        error=ScoreInputError,
    ),
    Case(
        "rib-float-correctness",
        r"predictions\[0\] holds float64 values such as \[0.3.*one bool \(or 0/1\) per image",
        run=lambda d: rib_metric("correctness").compute(
            predictions=[[0.3, 0.9, 0.1], [1.0, 0.0, 1.0]],
            references=[[True, False, True]] * 2,
            finetune_set=["a", "b"],
            eval_set=["b", "a"],
        ),
        error=ScoreInputError,
    ),
    Case(
        "rib-correctness-2d",
        r"references\[0\] has shape \(2, 2\); a correctness vector is 1-D",
        run=lambda d: rib_metric("correctness").compute(
            predictions=[[True, False], [True, True]],
            references=[[[True, False], [True, False]], [[True, True], [False, True]]],
            finetune_set=["a", "b"],
            eval_set=["b", "a"],
        ),
        error=ScoreInputError,
    ),
    Case(
        "otdd-zero-dimensional-features",
        r"features have shape \(4, 0\); give an \(n, d\) array with d >= 1",
        run=lambda d: otdd_metric().compute(
            features=[[], [], [], []], labels=[0, 1, 0, 1], dataset=["a", "a", "b", "b"]
        ),
        error=ScoreInputError,
    ),
    Case(
        "otdd-ragged-features",
        r"features must be an \(n, d\) array of numbers with the same d in every row",
        run=lambda d: otdd_metric().compute(
            features=[[0.0], [1.0, 2.0], [0.5], [0.1]],
            labels=[0, 1, 0, 1],
            dataset=["a"] * 2 + ["b"] * 2,
        ),
        error=ScoreInputError,
    ),
    Case(
        "otdd-float-labels",
        r"labels must be integers",
        run=lambda d: otdd_metric().compute(
            features=[[0.0], [1.0], [0.5], [0.1]],
            labels=[0, 0.5, 0, 1],
            dataset=["a"] * 2 + ["b"] * 2,
        ),
        error=ScoreInputError,
    ),
    Case(
        "otdd-function-zero-dimensional-features",
        r"features a must be an \(n, d\) array with n, d >= 1, got shape \(4, 0\)",
        run=lambda d: __import__("imagenet_rib.otdd").otdd.otdd(
            np.zeros((4, 0)), np.array([0, 0, 1, 1]), np.zeros((4, 0)), np.array([0, 0, 1, 1])
        ),
    ),
    Case(
        "otdd-nan-features",
        r"features contain NaN or infinite values",
        run=lambda d: otdd_metric().compute(
            features=[[0.0], [float("nan")], [0.5], [0.1]],
            labels=[0, 1, 0, 1],
            dataset=["a"] * 2 + ["b"] * 2,
        ),
        error=ScoreInputError,
    ),
]

# ----------------------------------------------------------------------------- OTDD files


def otdd_file(d: Path, data: Any = None, text: str | None = None) -> Path:
    """An OTDD file at d/otdd.json: `text` as is, or `data` as JSON (default: a valid one)."""
    if text is None:
        data = VALID_OTDD if data is None else data
        text = json.dumps(data)
    return write(d / "otdd.json", text)


def _entry(**changes: Any) -> dict[str, Any]:
    from imagenet_rib.otdd import OTDDConfig

    entry = {
        "model": "src-a",
        "reference": "ref-val",
        "dataset": "d1",
        "distance": 1.5,
        "method": "exact",
        "classes_a": [0, 1],
        "classes_b": [0, 1],
        "label_distances": [[0.0, 1.0], [1.0, 0.0]],
        "diagnostics": {},
        "config": OTDDConfig().to_dict(),
    }
    entry.update(changes)
    return {k: v for k, v in entry.items() if v is not ...}


VALID_OTDD = {"format": "imagenet-rib-otdd", "schema_version": 1, "entries": [_entry()]}


def report_otdd(d: Path) -> list[str]:
    return ["report", "--store", str(d / "results.sqlite"), "--out", "rep", "--otdd", "otdd.json"]


OTDD_FILE_CASES = [
    Case(
        "report-otdd-not-json",
        r"otdd.json is not an OTDD file of schema version 1: it is not JSON.*written by "
        r"`rib otdd --suite SUITE --model MODEL --json FILE`",
        argv=report_otdd,
        setup=lambda d: otdd_file(d, text="{distance: 1"),
    ),
    Case(
        "report-otdd-legacy-mapping",
        r'no "format": "imagenet-rib-otdd" with "entries".*"schema_version": 1.*rib otdd --suite',
        argv=report_otdd,
        setup=lambda d: otdd_file(d, {"d1": 1.0, "d2": 2.0}),
    ),
    Case(
        "report-otdd-future-schema",
        r"its schema_version is 2.*rib otdd --suite",
        argv=report_otdd,
        setup=lambda d: otdd_file(d, {**VALID_OTDD, "schema_version": 2}),
    ),
    Case(
        "report-otdd-entry-without-distance",
        r"\(entry 0\) is not an OTDD file.*an entry lacks \['distance'\]",
        argv=report_otdd,
        setup=lambda d: otdd_file(d, {**VALID_OTDD, "entries": [_entry(distance=...)]}),
    ),
    Case(
        "report-otdd-nan-distance",
        r"'distance' must be a finite number, got nan",
        argv=report_otdd,
        setup=lambda d: otdd_file(d, {**VALID_OTDD, "entries": [_entry(distance=float("nan"))]}),
    ),
    Case(
        "report-otdd-no-entries",
        r"'entries' must be a non-empty list",
        argv=report_otdd,
        setup=lambda d: otdd_file(d, {**VALID_OTDD, "entries": []}),
    ),
    Case(
        "report-otdd-missing-file",
        r"OTDD file otdd.json does not exist; write it with `rib otdd --suite",
        argv=report_otdd,
    ),
    Case(
        "otdd-suite-without-models",
        r"--suite needs at least one --model \(or use --config for its models\)",
        argv=lambda d: ["otdd", "--suite", "mini-rib"],
    ),
    Case(
        "otdd-suite-and-pair",
        r"--suite/--config compute the whole vector; drop --dataset-a/-b",
        argv=lambda d: ["otdd", "--suite", "mini-rib", "--model", "m", "--dataset-a", "mini-v2"],
    ),
    Case(
        "otdd-vector-without-reference",
        r"suite 'bad-suite' has no pretraining reference; add `reference: <dataset>`",
        run=lambda d: __import__("imagenet_rib.otdd").otdd.otdd_vector(d / "suite.yaml", ["m"]),
        setup=lambda d: suite_yaml(d, "datasets: [mini-v2, mini-a]\n"),
    ),
]

# ----------------------------------------------------------------------------- model heads


def _load(d: Path, **kw):
    from imagenet_rib.models import load_model

    return load_model(str(d / "model"), **kw)


MODEL_CASES = [
    Case(
        "model-id2label-shuffled",
        r"head \(id2label\) disagrees with label space 'mini-digits' on 10 of 10 classes "
        r"\(logit 0 is 'one' but class 0 is 'zero'.*--allow-label-mismatch",
        run=_load,
        error=ConfigError,
        setup=lambda d: bad_model(d, SHUFFLED),
    ),
    Case(
        "model-id2label-generic",
        r"names its classes generically \('LABEL_0', 'LABEL_1', \.\.\.\).*allow_label_mismatch",
        run=_load,
        error=ConfigError,
        setup=lambda d: bad_model(d, {i: f"LABEL_{i}" for i in range(10)}),
    ),
    Case(
        "model-label-space-override-mismatch",
        r"disagrees with label space 'mini-digits'",
        run=lambda d: _load(d, label_space="mini-digits"),
        error=ConfigError,
        setup=lambda d: bad_model(d, SHUFFLED, space=None),
    ),
    Case(
        "cli-evaluate-shuffled-head",
        r"rib evaluate: error: model .* disagrees with label space 'mini-digits'",
        argv=lambda d: ["evaluate", "--suite", str(d / "suite.yaml"), "--model", str(d / "model")],
        setup=lambda d: (
            bad_model(d, SHUFFLED),
            tiny_rows(d / "rows"),
            suite_yaml(
                d,
                "datasets:\n  - {name: ds61, source: ./rows}\n  - {name: ds61b, source: ./rows}\n",
            ),
        ),
    ),
]

# ----------------------------------------------------------------------------- run folders


def finetune_argv(d: Path, out: str, *extra: str) -> list[str]:
    return [
        "finetune", "--model", str(d / "model"), "--method", "ft", "--dataset", "mini-r",
        "--output-dir", str(d / out), "--max-steps", "1", "--batch-size", "4", *extra,
    ]  # fmt: skip


def tiny_train_data(d: Path) -> None:
    """A tiny model under ``d/model`` and mini-r rows under ``d/data`` (IMAGENET_RIB_DATA_DIR)."""
    from support.rib_train_helpers import make_dataset

    bad_model(d, None)
    make_dataset(d / "data" / "mini-r", (0, 1, 2, 3, 4, 7), 8)


def finished_run(d: Path, *, drop: str = "", truncate: str = "") -> Path:
    """A finished run folder ``d/run`` (as `rib run` leaves it) and a store with its records."""
    from support.report_data import make_run_dir

    run = make_run_dir(d / "run")
    made_store(d / "s.sqlite")
    if drop:
        (run / drop).unlink()
    if truncate:
        (run / truncate).write_bytes((run / truncate).read_bytes()[:40])
    return run


def _load_run(d: Path):
    from imagenet_rib.finetune import load_run

    return load_run(d / "run")


DATA_ENV = {"env": lambda d: {"IMAGENET_RIB_DATA_DIR": str(d / "data")}}

RUN_FOLDER_CASES = [
    Case(
        "finetune-output-dir-is-a-file",
        r"output folder \S*notes.txt is a file; give the path of a new or existing run folder",
        argv=lambda d: finetune_argv(d, "notes.txt"),
        setup=lambda d: (bad_model(d, None), write(d / "notes.txt", "mine\n")),
    ),
    Case(
        "finetune-output-dir-inside-a-file",
        r"output folder \S*notes.txt/run would be inside the file \S*notes.txt; give a folder",
        argv=lambda d: finetune_argv(d, "notes.txt/run"),
        setup=lambda d: (bad_model(d, None), write(d / "notes.txt", "mine\n")),
    ),
    Case(
        "finetune-user-folder",
        r"is not empty \(\['checkpoints', 'config.json'\]\) and is not a run folder.*untouched",
        argv=lambda d: finetune_argv(d, "mine"),
        setup=lambda d: (
            bad_model(d, None),
            write(d / "mine" / "config.json", "{}"),
            write(d / "mine" / "checkpoints" / "keep.pt", "precious"),
        ),
    ),
    Case(
        "finetune-read-only-output-folder",
        r"cannot write to \S*ro \(Permission denied\); choose a writable output folder",
        argv=lambda d: finetune_argv(d, "ro/run"),
        setup=lambda d: (tiny_train_data(d), (d / "ro").mkdir(), (d / "ro").chmod(0o555)),
        **DATA_ENV,
        marks=(
            pytest.mark.skipif(
                __import__("os").geteuid() == 0, reason="root writes into read-only folders"
            ),
        ),
    ),
    Case(
        "finetune-truncated-run-config",
        r"rib_config.json is unreadable or not valid JSON.*copy it again .*delete the folder",
        argv=lambda d: finetune_argv(d, "run"),
        setup=lambda d: (bad_model(d, None), write(d / "run" / "rib_config.json", '{"model": {')),
    ),
    Case(
        "finetune-batch-size-zero",
        r"TrainConfig.batch_size=0 is out of range",
        argv=lambda d: finetune_argv(d, "run", "--batch-size", "0"),
    ),
    Case(
        "finetune-batch-not-divisible",
        r"batch_size=6 is not divisible .* multiple of 4",
        argv=lambda d: finetune_argv(
            d, "run", "--batch-size", "6", "--gradient-accumulation-steps", "4"
        ),
        setup=lambda d: bad_model(d, None),
    ),
    Case(
        "finetune-max-train-samples-zero",
        r"max_train_samples=0 is out of range",
        argv=lambda d: finetune_argv(d, "run", "--max-train-samples", "0"),
        setup=lambda d: bad_model(d, None),
    ),
    Case(
        "card-truncated-run-config",
        r"rib_config.json is unreadable or not valid JSON.*copy it again .*re-run the fine-tuning",
        argv=lambda d: ["card", str(d / "run"), "--store", str(d / "s.sqlite")],
        setup=lambda d: finished_run(d, truncate="rib_config.json"),
    ),
    Case(
        "run-folder-without-rib-model-json",
        r"lacks rib_model.json .*copy it again, or re-run `rib finetune`.*--no-resume",
        run=_load_run,
        error=ConfigError,
        setup=lambda d: finished_run(d, drop="rib_model.json"),
    ),
    Case(
        "report-negative-n-boot",
        r"--n-boot -5 is negative; .* or 0 for no bootstrap",
        argv=lambda d: (
            ["report", "--store", str(d / "s.sqlite"), "--out", str(d / "o")] + ["--n-boot", "-5"]
        ),  # fmt: skip
        setup=lambda d: made_store(d / "s.sqlite"),
    ),
    Case(
        "push-without-token",
        r"no Hugging Face token: set HF_TOKEN .* or run `hf auth login`",
        argv=lambda d: (
            ["push", str(d / "run"), "--store", str(d / "s.sqlite")] + ["--repo-id", "me/model"]
        ),  # fmt: skip
        setup=lambda d: finished_run(d),
        env=lambda d: {
            "HF_TOKEN": "",
            "HF_HOME": str(d.parent / f"{d.name}-hf-home"),  # no stored token
            "HF_ENDPOINT": "http://127.0.0.1:9",  # nothing may be reached
        },
    ),
]

#: the catalogue by topic, as README's "What the tool refuses" lists it
SECTIONS: dict[str, list[Case]] = {
    "Benchmark configs": CONFIG_CASES,
    "Suites and datasets": SUITE_CASES,
    "Results stores": STORE_CASES,
    "Caches and verification": CACHE_CASES,
    "Metric inputs": METRIC_CASES,
    "OTDD files": OTDD_FILE_CASES,
    "Model heads": MODEL_CASES,
    "Run folders and commands": RUN_FOLDER_CASES,
}
CASES: list[Case] = [case for cases in SECTIONS.values() for case in cases]


def test_catalogue_is_large_and_unique() -> None:
    names = [c.name for c in CASES]
    assert len(names) == len(set(names)) and len(CASES) >= 60


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name, marks=c.marks) for c in CASES])
def test_bad_input(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("IMAGENET_RIB_DATA_DIR", raising=False)
    if case.setup is not None:
        case.setup(tmp_path)
    for key, value in (case.env(tmp_path) if case.env else {}).items():
        monkeypatch.setenv(key, value)
    capsys.readouterr()
    before = snapshot(tmp_path)
    if case.argv is not None:
        from imagenet_rib.cli import main

        argv = case.argv(tmp_path)
        code = main(argv)
        out, err = capsys.readouterr()
        assert code == case.exit_code, (out, err)
        if code == 2:  # the error line (progress bars may precede it on stderr)
            prefix = f"rib {argv[0]}: error: "
            assert prefix in err and err.rstrip().splitlines()[-1].startswith(prefix), err
            assert re.search(case.match, err[err.index(prefix) :], re.S), err
        else:
            assert re.search(case.match, out + err, re.S), out + err
    else:
        with pytest.raises(case.error) as info:
            case.run(tmp_path)
        assert isinstance(info.value, RIBError), type(info.value)
        assert re.search(case.match, str(info.value), re.S), str(info.value)
    assert snapshot(tmp_path) == before, "files changed, appeared or disappeared"
