"""From a checkpoint to its RIB numbers, as a user runs it (the `rib` CLI from another working
directory, offline): run folders are standard Hugging Face checkpoints (`pipeline()` predicts
what `rib evaluate` measures), `rib evaluate --store` records a fine-tuned checkpoint with its
origin so that `rib report` scores it, and `imagenet_rib.benchmark()` gives the same numbers.

The pretrained model is the shipped ``mini-vit-clean`` (0.15 M parameters); the datasets are
the tiny generated ones of `rib_train_helpers` under the registered Mini-RIB names.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from imagenet_rib.cli import main
from imagenet_rib.errors import RIBError
from support.rib_train_helpers import make_data_root

SUITE_YAML = """\
name: tiny-rib
label_space: mini-digits
reference: mini-val
datasets: [mini-sketch, mini-r]
"""
TRAIN = ["--max-steps", "6", "--batch-size", "8", "--lr", "0.01", "--warmup-steps", "0"]
TRAIN += ["--save-steps", "0", "--logging-steps", "1"]
EVAL = ["--num-workers", "0"]
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """data/, suite.yaml and a finished `rib finetune` run folder (ft on mini-sketch)."""
    root = tmp_path_factory.mktemp("journey")
    make_data_root(root / "data")
    (root / "suite.yaml").write_text(SUITE_YAML)
    saved = {k: os.environ.get(k) for k in ("IMAGENET_RIB_DATA_DIR",)}
    os.environ["IMAGENET_RIB_DATA_DIR"] = str(root / "data")
    cwd = os.getcwd()
    (root / "elsewhere").mkdir()
    os.chdir(root / "elsewhere")
    try:
        args = ["finetune", "--model", "mini-vit-clean", "--method", "ft"]
        args += ["--dataset", "mini-sketch", "--output-dir", str(root / "run-ft"), *TRAIN]
        assert main(args) == 0
        yield root
    finally:
        os.chdir(cwd)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _test_images(name: str):
    from imagenet_rib.data.splits import SplitConfig
    from imagenet_rib.suites import load_suite

    part = load_suite("mini-rib").part(name, "test", SplitConfig())
    return part, [part.dataset[i]["image"] for i in range(len(part.dataset))]


def _our_probabilities(folder, images):
    import torch

    from imagenet_rib.models import load_model, logits_of

    lm = load_model(str(folder))
    with torch.no_grad():
        x = torch.stack([lm.transform(im) for im in images])
        return torch.softmax(logits_of(lm.model.eval(), x), -1).numpy()


def _pipeline_probabilities(model_id, images, num_classes=10):
    from transformers import pipeline

    from imagenet_rib.models.checkpoint import class_names

    names = class_names("mini-digits")
    pipe = pipeline("image-classification", model=model_id)
    out = pipe(images, top_k=num_classes)
    probs = np.zeros((len(images), num_classes))
    for k, row in enumerate(out):
        for entry in row:
            probs[k, names.index(entry["label"])] = entry["score"]
    return probs


@pytest.mark.parametrize(
    "kw",
    [
        dict(resize=32, crop=32, resize_mode="exact", interpolation="bilinear"),
        dict(resize=256, crop=224, resize_mode="shortest_edge", interpolation="bicubic"),
        dict(resize=40, crop=32, resize_mode="exact", interpolation="nearest"),
        dict(resize=36, crop=36, resize_mode="shortest_edge", interpolation="lanczos"),
    ],
)
def test_the_written_processor_reproduces_the_transform(kw):
    from transformers import AutoImageProcessor

    from imagenet_rib.models.checkpoint import processor_for
    from imagenet_rib.transforms import ImageTransform, from_hf_processor

    t = ImageTransform(mean=(0.1, 0.2, 0.3), std=(0.4, 0.5, 0.6), **kw)
    processor = processor_for(t)
    assert from_hf_processor(processor) == t
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "preprocessor_config.json").write_text(processor.to_json_string())
        assert from_hf_processor(AutoImageProcessor.from_pretrained(d)) == t


def test_class_names_keep_a_head_that_names_its_space_and_replace_generic_ones():
    from imagenet_rib.data.labels import MINI_DIGITS
    from imagenet_rib.models.checkpoint import class_names

    assert class_names("mini-digits", list(MINI_DIGITS.wnids)) == list(MINI_DIGITS.wnids)
    generic = [f"LABEL_{i}" for i in range(10)]
    assert class_names("mini-digits", generic) == [w for w in MINI_DIGITS.wnids]
    names = class_names("imagenet-1k")
    assert len(set(names)) == 1000 and names[0] == "tench"
    assert "crane (n02012849)" in names and "crane (n03126707)" in names  # two cranes


@pytest.mark.slow  # end to end: fine-tunes (module fixture) and evaluates
def test_a_run_folder_is_a_pipeline_checkpoint(world):
    run = world / "run-ft"
    config = json.loads((run / "config.json").read_text())
    from imagenet_rib.data.labels import MINI_DIGITS

    assert config["id2label"] == {str(i): w for i, w in enumerate(MINI_DIGITS.wnids)}
    assert config["label2id"] == {w: i for i, w in enumerate(MINI_DIGITS.wnids)}
    assert config["rib_label_space"] == "mini-digits"
    assert (run / "preprocessor_config.json").is_file()
    part, images = _test_images("mini-sketch")
    ours = _our_probabilities(run, images)
    theirs = _pipeline_probabilities(str(run), images)
    np.testing.assert_allclose(theirs, ours, atol=1e-5)
    # the same top-1 as `rib evaluate` on these images
    out = world / "eval.json"
    argv = ["evaluate", "--model", str(run), "--suite", str(world / "suite.yaml")]
    assert main([*argv, "--datasets", "mini-sketch", "--json", str(out), *EVAL]) == 0
    (evals,) = json.loads(out.read_text()).values()
    correct = np.array(evals["mini-sketch"]["correct"], dtype=bool)
    assert np.array_equal(correct, theirs.argmax(1) == part.targets)
    assert len(set(theirs.argmax(1))) > 1  # a head that tells the images apart


def _store_and_report(world, store, *models, extra=()):
    suite = str(world / "suite.yaml")
    argv = ["evaluate", "--model", *models, "--suite", suite, "--store", str(store), *EVAL]
    assert main([*argv, *extra]) == 0
    out = store.parent / (store.stem + "-report")
    assert main(["report", "--store", str(store), "--suite", suite, "--out", str(out)]) == 0
    return json.loads((out / "scores.json").read_text())["scores"]


@pytest.mark.slow  # end to end: fine-tunes (module fixture) and evaluates
def test_evaluate_stores_a_run_folder_report_scores_it_and_benchmark_agrees(world, capsys):
    from imagenet_rib import benchmark
    from imagenet_rib.results import ResultStore

    run, store = world / "run-ft", world / "j1.sqlite"
    scores = _store_and_report(world, store, str(run))
    printed = capsys.readouterr().out
    assert "ft on mini-sketch, from mini-vit-clean" in printed
    assert "[its baseline, added for --store]" in printed  # mini-vit-clean evaluated too
    assert "Robustness improvement RI_i per fine-tuning set" in printed
    recs = ResultStore(store).records()
    ft = [r for r in recs if r.method == "ft"]
    base = [r for r in recs if r.method == "pretrained"]
    assert {r.finetune_dataset for r in ft} == {"mini-sketch"} and len(ft) == len(base) == 3
    assert {(r.model, r.model_revision) for r in ft} == {(r.model, r.model_revision) for r in base}
    assert json.loads((run / "rib_run.json").read_text())["run_id"] == ft[0].run_id
    (result,) = scores["results"]
    ri = result["scores"]["ri"]["mini-sketch"]
    assert f"{ri:+.1f}" in printed and result["method"] == "ft"

    table = benchmark(
        "mini-vit-clean",
        {"mini-sketch": str(run)},
        suite=str(world / "suite.yaml"),
        num_workers=0,
    )
    (r,) = table.results
    assert r.scores.ri["mini-sketch"] == ri and r.scores.mri == result["scores"]["mri"]
    iv = r.interval("ri", "mini-sketch", kind="images")
    stored = result["intervals_images"]["ri"]["mini-sketch"]
    assert [iv.low, iv.high] == [stored["low"], stored["high"]]
    assert r.to_dict()["mri_ci_images"] == result["mri_ci_images"]


@pytest.mark.slow  # end to end: fine-tunes (module fixture) and evaluates
def test_a_foreign_checkpoint_is_recorded_by_the_origin_flags(world, tmp_path, capsys):
    from imagenet_rib.results import ResultStore

    plain = tmp_path / "exported"  # the run's weights without the run files
    plain.mkdir()
    for f in ("config.json", "model.safetensors", "preprocessor_config.json"):
        shutil.copy(world / "run-ft" / f, plain / f)
    store = tmp_path / "foreign.sqlite"
    suite = str(world / "suite.yaml")
    argv = ["evaluate", "--model", str(plain), "--suite", suite, "--store", str(store)]
    assert main([*argv, "--method", "ft", *EVAL]) == 2  # an incomplete origin is refused
    assert not store.exists() or not ResultStore(store).records()
    flags = ["--method", "ft-exported", "--finetune-set", "mini-sketch"]
    flags += ["--base-model", "mini-vit-clean"]
    scores = _store_and_report(world, store, str(plain), "mini-vit-clean", extra=flags)
    (result,) = scores["results"]
    assert result["method"] == "ft-exported"
    run_scores = _store_and_report(world, tmp_path / "run.sqlite", str(world / "run-ft"))
    assert result["scores"]["ri"] == run_scores["results"][0]["scores"]["ri"]
    labels = {r.method for r in ResultStore(store).records()}
    assert labels == {"ft-exported", "pretrained"}
    # again without the base model: its baseline (and revision) come from the store
    capsys.readouterr()
    argv = ["evaluate", "--model", str(plain), "--suite", suite, "--store", str(store)]
    assert main([*argv, *flags, *EVAL]) == 0
    assert "added for --store" not in capsys.readouterr().out
    revisions = {r.method: r.model_revision for r in ResultStore(store).records()}
    assert revisions["ft-exported"] == revisions["pretrained"] != ""


@pytest.mark.slow  # end to end: fine-tunes (module fixture) and evaluates
def test_a_local_timm_folder_takes_its_transform_from_pretrained_cfg(world, tmp_path):
    import timm
    from timm.models._hub import save_for_hf

    from imagenet_rib.data.labels import MINI_DIGITS
    from imagenet_rib.models import load_model
    from imagenet_rib.transforms import ImageTransform

    net = timm.create_model(
        "vit_tiny_patch16_224",
        pretrained=False,
        num_classes=10,
        img_size=32,
        patch_size=8,
        embed_dim=32,
        depth=2,
        num_heads=2,
    )
    folder = tmp_path / "timm-folder"
    labels = {"label_names": list(MINI_DIGITS.wnids)}
    save_for_hf(net, str(folder), model_config=labels, safe_serialization=True)
    lm = load_model(str(folder), default_label_space="mini-digits")
    crop_pct = net.pretrained_cfg["crop_pct"]
    assert lm.transform == ImageTransform(
        resize=int(np.floor(32 / crop_pct)),
        crop=32,
        mean=tuple(net.pretrained_cfg["mean"]),
        std=tuple(net.pretrained_cfg["std"]),
        interpolation=net.pretrained_cfg["interpolation"],
    )
    assert lm.label_space == "mini-digits"
    # saved again by transformers (model_type timm_wrapper): still timm's own preprocessing
    resaved = tmp_path / "resaved"
    lm.model.save_pretrained(resaved)
    assert load_model(str(resaved), default_label_space="mini-digits").transform == lm.transform
    argv = ["evaluate", "--model", str(folder), "--suite", str(world / "suite.yaml")]
    assert main([*argv, "--datasets", "mini-sketch", *EVAL]) == 0


@pytest.mark.slow  # end to end: fine-tunes (module fixture) and evaluates
def test_loading_says_what_is_really_missing(world, tmp_path, capsys):
    from imagenet_rib.models import load_model

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(RIBError, match="has no config.json") as err:
        load_model(str(empty))
    assert "offline" not in str(err.value)
    half = tmp_path / "half"
    shutil.copytree(world / "run-ft", half)
    (half / "train_summary.json").unlink()
    with pytest.raises(RIBError, match="holds no finished run"):
        load_model(str(half))
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(world / "run-ft" / "config.json", bare)
    with pytest.raises(RIBError, match="has no weights"):
        load_model(str(bare))
    shutil.copy(world / "run-ft" / "model.safetensors", bare)
    with pytest.raises(RIBError, match="has no preprocessor_config.json"):
        load_model(str(bare))
    with pytest.raises(RIBError, match="you are offline .*`hf download some-org/no-such-model`"):
        load_model("some-org/no-such-model")


@pytest.mark.slow
def test_a_visual_prompt_run_is_refused_by_pipeline_not_misread(world, tmp_path):
    from transformers import pipeline

    from imagenet_rib.finetune import finetune
    from imagenet_rib.models.checkpoint import standard_problem

    run = finetune(
        "mini-vit-clean",
        "visual-prompt",
        "mini-sketch",
        train={"max_steps": 2, "batch_size": 8, "save_steps": 0, "warmup_steps": 0},
        output_dir=tmp_path / "vp",
    ).run_dir
    assert "wrapped by method 'visual-prompt'" in standard_problem(run)
    assert not (run / "preprocessor_config.json").exists()
    # transformers' own refusal (an OSError), not some unrelated failure on the way
    with pytest.raises(OSError, match=r"Can't load image processor .*preprocessor_config\.json"):
        pipeline("image-classification", model=str(run))


@pytest.mark.slow
def test_the_console_of_evaluate_and_report_is_clean(world, tmp_path):
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "IMAGENET_RIB_DATA_DIR": str(world / "data"),
    }
    suite = str(world / "suite.yaml")
    store = tmp_path / "console.sqlite"
    cmds = [
        ["evaluate", "--model", str(world / "run-ft"), "--suite", suite, "--store", str(store)],
        ["report", "--store", str(store), "--suite", suite, "--out", str(tmp_path / "rep")],
    ]
    for cmd in cmds:
        proc = subprocess.run(
            [sys.executable, "-m", "imagenet_rib", *cmd, *(EVAL if cmd[0] == "evaluate" else [])],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert_clean_console(proc.stdout + proc.stderr)


def assert_clean_console(text: str) -> None:
    """No nested progress bars, Trainer dicts, library warnings or INFO logged as WARNING."""
    for bad in ("\x1b[A", "it/s]", "FutureWarning", "UserWarning", "WARNING", "{'loss'"):
        assert bad not in text, f"{bad!r} in the console output:\n{text[-3000:]}"


@pytest.mark.slow
@pytest.mark.hub
def test_a_pushed_run_is_a_pipeline_checkpoint_with_a_true_card(world, tmp_path, fake_hub):
    from huggingface_hub import ModelCard

    from imagenet_rib import PROJECT_URL

    run = tmp_path / "run-ft"
    shutil.copytree(world / "run-ft", run)
    (run / "rib_run.json").unlink(missing_ok=True)
    (run / "preprocessor_config.json").unlink()  # a folder written before run folders had it
    store = tmp_path / "push.sqlite"
    suite = str(world / "suite.yaml")
    argv = ["evaluate", "--model", str(run), "--suite", suite, "--store", str(store), *EVAL]
    assert main(argv) == 0
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    for cmd in (
        ["card", str(run), "--store", str(store), "--suite", suite],
        ["push", str(run), "--store", str(store), "--suite", suite, "--repo-id", "user/mini-ft"],
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "imagenet_rib", *cmd],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert_clean_console(proc.stdout + proc.stderr)
    files = fake_hub.files("model", "user/mini-ft")
    assert {"config.json", "preprocessor_config.json", "model.safetensors"} <= set(files)
    _, images = _test_images("mini-sketch")
    np.testing.assert_allclose(
        _pipeline_probabilities("user/mini-ft", images), _our_probabilities(run, images), atol=1e-5
    )
    card = ModelCard.load("user/mini-ft")
    data = card.data.to_dict()
    assert data["license"] == "apache-2.0" and data["pipeline_tag"] == "image-classification"
    assert "base_model" not in data  # mini-vit-clean is not on the Hub: the card says so
    assert "`mini-vit-clean` (not on the Hub)" in card.text and PROJECT_URL in card.text
    assert "95% paired percentile bootstrap over the test images" in card.text
    assert "not a standard transformers checkpoint" not in card.text
    # the pushed repo evaluates as the run it holds: its origin comes with it
    from imagenet_rib.models import load_model
    from imagenet_rib.results import ResultStore

    assert load_model("user/mini-ft").info["method"] == "ft"
    again = tmp_path / "from-hub.sqlite"
    argv = ["evaluate", "--model", "user/mini-ft", "--suite", suite, "--store", str(again)]
    assert main([*argv, *EVAL]) == 0
    key = lambda r: (r.run_id, r.method, r.finetune_dataset, r.eval_dataset, r.accuracy)  # noqa: E731
    assert sorted(map(key, ResultStore(again).records())) == sorted(
        map(key, ResultStore(store).records())
    )


@pytest.mark.slow
def test_two_process_evaluate_store_records_what_one_process_does(world, tmp_path):
    """Under torchrun every rank decides the same baseline and only rank 0 writes."""
    from imagenet_rib.results import ResultStore

    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "IMAGENET_RIB_DATA_DIR": str(world / "data"),
        "OMP_NUM_THREADS": "1",
    }
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node"]
    stores = {}
    for prefix, name in (([sys.executable], "one"), ([*launch, "2"], "two")):
        stores[name] = tmp_path / f"{name}.sqlite"
        cmd = [*prefix, "-m", "imagenet_rib", "evaluate", "--model", str(world / "run-ft")]
        cmd += ["--suite", str(world / "suite.yaml"), "--store", str(stores[name]), *EVAL]
        proc = subprocess.run(
            cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
    one, two = (ResultStore(stores[k]) for k in ("one", "two"))
    key = lambda r: (r.run_id, r.model_revision, r.method, r.eval_dataset, r.accuracy)  # noqa: E731
    assert sorted(map(key, one.records())) == sorted(map(key, two.records()))
    assert len(two.records()) == 6  # the run and its baseline, written once
    for r in one.records():
        assert np.array_equal(one.correct(r.key), two.correct(r.key))


@pytest.mark.slow  # end to end: fine-tunes (module fixture) and evaluates
def test_a_missing_baseline_that_cannot_be_evaluated_is_named(world, tmp_path, capsys):
    moved = tmp_path / "run"
    shutil.copytree(world / "run-ft", moved)
    (moved / "rib_run.json").unlink(missing_ok=True)
    cfg = json.loads((moved / "rib_config.json").read_text())
    cfg["model"]["name"] = str(tmp_path / "deleted-model")  # fine-tuned from a folder now gone
    (moved / "rib_config.json").write_text(json.dumps(cfg))
    store = tmp_path / "s.sqlite"
    argv = ["evaluate", "--model", str(moved), "--suite", str(world / "suite.yaml")]
    assert main([*argv, "--store", str(store), *EVAL]) == 2
    err = capsys.readouterr().err
    assert "the store holds no baseline of it and it does not load" in err
    assert "there is no such folder" in err and not store.exists()


@pytest.mark.slow
def test_a_lora_run_is_a_merged_pipeline_checkpoint(world, tmp_path):
    from imagenet_rib.finetune import finetune

    run = finetune(
        "mini-vit-clean",
        "lora",
        "mini-sketch",
        train={"max_steps": 3, "batch_size": 8, "lr": 0.05, "save_steps": 0, "warmup_steps": 0},
        output_dir=tmp_path / "lora",
    ).run_dir
    weights = json.loads((run / "rib_model.json").read_text())
    assert weights["wrapper"] is None and not list(run.glob("adapter_*"))  # merged, plain
    _, images = _test_images("mini-sketch")
    np.testing.assert_allclose(
        _pipeline_probabilities(str(run), images), _our_probabilities(run, images), atol=1e-5
    )
