"""Plugins from outside the package, tested out of tree.

The worked example of docs/extending.md (a method, a dataset family with its suite, a model)
is written from the page's own code blocks into a temporary folder, installed there with
``pip install --target`` (entry points, no change to the environment), and run through
``rib methods``, ``rib datasets build``, ``rib finetune`` and ``rib run``; the same modules,
not installed, through ``IMAGENET_RIB_PLUGINS`` and ``rib --plugin`` (into submitit jobs);
and broken plugins fail with errors that name them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml

from support.rib_tiny import make_model

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "extending.md"
FILE_BLOCK = re.compile(r"<!-- file: (\S+) -->\n```[a-z]*\n(.*?)\n```\n", re.S)
MODULES = (
    "rib_example_plugin.bitfit",
    "rib_example_plugin.lab_digits",
    "rib_example_plugin.lab_models",
)
DOMAINS = ("lab-scans", "lab-photos", "lab-val")
TINY_TRAIN = {
    "max_steps": 3,
    "batch_size": 8,
    "lr": 0.05,
    "warmup_steps": 0,
    "scheduler": "constant",
    "save_steps": 0,
    "logging_steps": 1,
}


def doc_files() -> dict[str, str]:
    """``{relative path: content}`` of every ``<!-- file: ... -->`` block of the page."""
    return {name: body + "\n" for name, body in FILE_BLOCK.findall(DOC.read_text())}


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def _images(root: Path) -> None:
    """10 classes x 4 PNGs per domain in ``<wnid>/`` folders: the class is a bar's height."""
    from PIL import Image

    from imagenet_rib.data.labels import MINI_DIGITS

    rng = np.random.default_rng(0)
    for k, domain in enumerate(DOMAINS):
        for c, wnid in enumerate(MINI_DIGITS.wnids):
            folder = root / domain / wnid
            folder.mkdir(parents=True)
            for i in range(4):
                img = rng.integers(0, 60, (32, 32, 3)).astype(np.uint8)
                img[3 * c : 3 * c + 3, 4:28] = 230 - 40 * k
                Image.fromarray(img).save(folder / f"{i}.png")


def rib(
    ex: SimpleNamespace, *args: str, installed: bool = True, plugins: str | None = None
) -> subprocess.CompletedProcess:
    """``python -m imagenet_rib ARGS`` with the plugin installed (entry points) or merely
    on PYTHONPATH (then only `plugins` / --plugin name it)."""
    env = {k: v for k, v in os.environ.items() if k != "IMAGENET_RIB_PLUGINS"}
    path = ex.site if installed else ex.plain
    env.update(
        PYTHONPATH=os.pathsep.join([str(path), str(REPO / "src")]),
        LAB_MODELS=str(ex.root / "models"),
        IMAGENET_RIB_DATA_DIR=str(ex.data),
        OMP_NUM_THREADS="1",
    )
    if plugins is not None:
        env["IMAGENET_RIB_PLUGINS"] = plugins
    return subprocess.run(
        [sys.executable, "-m", "imagenet_rib", *args],
        cwd=ex.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc.stdout


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> SimpleNamespace:
    root = tmp_path_factory.mktemp("plugin")
    files = doc_files()
    package = {k: v for k, v in files.items() if k.startswith("rib_example_plugin/")}
    ex = SimpleNamespace(
        root=root,
        site=root / "site",
        plain=_write(root / "plain", package),  # the modules alone: no dist-info
        data=root / "data",
        config=yaml.safe_load(files["lab-benchmark.yaml"]),
    )
    _write(root / "pkg", files)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
            str(ex.site),
            str(root / "pkg"),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    make_model(root / "models" / "digits-vit")
    _images(root / "downloads")
    builds = [
        ["datasets", "build", d, "--src", f"downloads/{d}", "--out", f"data/{d}", "--no-progress"]
        for d in DOMAINS
    ]
    script = (
        f"import sys; from imagenet_rib.cli import main; sys.exit(max(main(a) for a in {builds!r}))"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ex.site), str(REPO / "src")]),
    }
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=root, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return ex


def _bitfit_changes(run_dir: Path, root: Path) -> set[str]:
    """Names of the parameters a finished run changed w.r.t. the pretrained checkpoint."""
    import torch

    from imagenet_rib.finetune import load_run
    from imagenet_rib.models.hf import load_hf_model

    before = load_hf_model(str(root / "models" / "digits-vit")).model.state_dict()
    after = load_run(run_dir).model.state_dict()
    assert set(after) == set(before)
    return {n for n, t in before.items() if not torch.equal(t, after[n])}


def _assert_bitfit(changed: set[str]) -> None:
    # only biases and the head may move; the head and some backbone biases do
    assert changed and all(n.endswith(".bias") or n.startswith("classifier.") for n in changed)
    assert "classifier.weight" in changed
    assert any(n.endswith(".bias") and not n.startswith("classifier.") for n in changed)


def test_the_page_holds_the_whole_package():
    assert set(doc_files()) == {
        "pyproject.toml",
        "rib_example_plugin/__init__.py",
        "rib_example_plugin/bitfit.py",
        "rib_example_plugin/lab_digits.py",
        "rib_example_plugin/lab_models.py",
        "lab-benchmark.yaml",
    }


@pytest.mark.slow
def test_entry_points_reach_the_listings(example):
    (info,) = json.loads(_ok(rib(example, "methods", "bitfit", "--json")))
    assert info["kind"] == "train" and info["module"] == "rib_example_plugin.bitfit"
    assert info["options"] == [
        {
            "name": "train_head",
            "type": "bool",
            "default": True,
            "required": False,
            "help": "also train the classification head's weight",
        }
    ]
    help_text = _ok(rib(example, "finetune", "--help"))
    assert re.search(r"^  bitfit +only the bias terms", help_text, re.M)
    listed = {line.split()[0] for line in _ok(rib(example, "datasets", "list")).splitlines()}
    assert set(DOMAINS) <= listed


@pytest.mark.slow
def test_rib_finetune_with_the_installed_plugin(example):
    out = example.root / "runs" / "bitfit"
    args = ["finetune", "--model", "lab-digits-vit", "--method", "bitfit", "--dataset"]
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in TINY_TRAIN.items()]
    _ok(rib(example, *args, "lab-scans", "--output-dir", str(out), *flags))
    config = json.loads((out / "rib_config.json").read_text())
    assert config["method"] == "bitfit" and config["method_config"] == {"train_head": True}
    assert config["model"]["name"] == "lab-digits-vit"
    assert config["protocol"]["num_targets"] == 10
    _assert_bitfit(_bitfit_changes(out, example.root))


@pytest.mark.slow
def test_rib_run_with_the_installed_plugin(example):
    from imagenet_rib.results import ResultStore

    config = {
        **example.config,
        "train": TINY_TRAIN,
        "eval_batch_size": 64,
        "output_dir": "lab-runs",
    }
    (example.root / "lab.yaml").write_text(yaml.safe_dump(config))
    out = _ok(rib(example, "run", "lab.yaml", "--no-progress"))
    # 1 baseline + bitfit on 2 domains + wise-ft of each
    assert "5 run(s) executed, 0 already done" in out
    store = ResultStore(example.root / "lab-runs" / "results.sqlite")
    recs = store.records()
    assert len(recs) == (1 + 2 + 2 * 3) * 3 and {r.suite for r in recs} == {"lab-digits"}
    assert {r.model for r in recs} == {"lab-digits-vit"}
    assert {r.eval_dataset for r in recs} == set(DOMAINS)
    wise = [r for r in recs if r.method == "wise-ft"]
    assert {json.loads(r.method_config)["sources"][0] for r in wise} == {"bitfit"}
    key = {(r.method, r.variant, r.finetune_dataset, r.eval_dataset): r.key for r in recs}
    for d in ("lab-scans", "lab-photos"):
        for e in DOMAINS:  # WiSE-FT's end points are the pretrained model and the BitFit run
            a0 = store.correct(key[("wise-ft", "alpha=0.0", d, e)])
            a1 = store.correct(key[("wise-ft", "alpha=1.0", d, e)])
            assert np.array_equal(a0, store.correct(key[("pretrained", "", "", e)]))
            assert np.array_equal(a1, store.correct(key[("bitfit", "", d, e)]))
    (trained,) = {
        r.run_id for r in recs if r.method == "bitfit" and r.finetune_dataset == "lab-scans"
    }
    _assert_bitfit(_bitfit_changes(_run_folder(example.root / "lab-runs", trained), example.root))


@pytest.mark.slow
def test_environment_variable_loads_modules_without_entry_points(example):
    missing = rib(example, "methods", "bitfit", installed=False)
    assert missing.returncode == 2 and "unknown method 'bitfit'" in missing.stderr
    (example.root / "plan.yaml").write_text(yaml.safe_dump(example.config))
    proc = rib(example, "run", "plan.yaml", "--dry-run", installed=False, plugins=",".join(MODULES))
    lines = _ok(proc).splitlines()
    # the suite, the model and both methods resolve: WiSE-FT's base_method names the plugin
    assert lines[-1].startswith("5 runs;")
    kinds = [line.split()[1:4] for line in lines[:-1]]
    assert kinds == [
        ["baseline", "lab-digits-vit", "pretrained"],
        ["train", "lab-digits-vit", "bitfit"],
        ["train", "lab-digits-vit", "bitfit"],
        ["derived", "lab-digits-vit", "wise-ft"],
        ["derived", "lab-digits-vit", "wise-ft"],
    ]


@pytest.mark.slow
def test_plugin_option_before_and_after_the_command_reaches_submitit_jobs(example):
    pytest.importorskip("submitit")
    from imagenet_rib.results import ResultStore

    config = {
        **example.config,
        "methods": ["bitfit+l2sp"],  # a plugin method combines with a built-in one
        "finetune_datasets": ["lab-scans"],
        "train": TINY_TRAIN,
        "output_dir": "local-runs",
    }
    (example.root / "local.yaml").write_text(yaml.safe_dump(config))
    first, *rest = (arg for m in MODULES for arg in ("--plugin", m))
    proc = rib(
        example,
        first,
        rest[0],
        "run",
        "local.yaml",
        *rest[1:],
        "--executor",
        "local",
        "--no-progress",
        installed=False,
    )
    assert "2 job(s) run" in _ok(proc)  # each job a fresh process, loading the plugins itself
    store = ResultStore(example.root / "local-runs" / "results.sqlite")
    recs = store.records()
    assert {r.method for r in recs} == {"pretrained", "bitfit+l2sp"} and len(recs) == 2 * 3
    (run_id,) = {r.run_id for r in recs if r.method == "bitfit+l2sp"}
    _assert_bitfit(_bitfit_changes(_run_folder(example.root / "local-runs", run_id), example.root))


def _run_folder(output_dir: Path, run_id: str) -> Path:
    """The run folder of `run_id` (``runs/<model>-<label>-<dataset>-s<seed>-<id[:8]>``)."""
    (folder,) = (output_dir / "runs").glob(f"*-{run_id[:8]}")
    return folder


# ------------------------------------------------------------------------- broken plugins


BROKEN = {
    "raises_at_import.py": "raise RuntimeError('no GPU driver found')\n",
    "steals_ft.py": (
        "from imagenet_rib.methods import Method, register_method\n\n\n"
        "@register_method\nclass Mine(Method):\n"
        "    name = 'ft'\n    description = 'my own ft'\n"
    ),
}
#: an installed distribution whose entry point names a module that does not exist
GHOST = {
    "ghost-0.1.dist-info/METADATA": "Metadata-Version: 2.1\nName: ghost\nVersion: 0.1\n",
    "ghost-0.1.dist-info/entry_points.txt": "[imagenet_rib.methods]\nghost = ghost_plugin_module\n",
}


def _folder(root: Path, files: dict[str, str]) -> SimpleNamespace:
    _write(root, files)
    return SimpleNamespace(site=root, plain=root, root=root, data=root)


@pytest.mark.parametrize(
    ("args", "plugins", "expected"),
    [
        (
            ["--plugin", "raises_at_import", "datasets", "list"],
            None,
            "plugin 'raises_at_import' (given by --plugin) failed to load: "
            "RuntimeError: no GPU driver found; fix the plugin",
        ),
        (
            ["methods"],
            "steals_ft",
            "plugin 'steals_ft' (named in $IMAGENET_RIB_PLUGINS) failed to load: "
            "DuplicateNameError: method 'ft' is already registered",
        ),
        (
            ["methods", "--plugin", "not_installed"],
            None,
            "plugin 'not_installed' (given by --plugin) failed to load: no module named "
            "'not_installed'; install it or add its folder to PYTHONPATH",
        ),
        (
            ["--plugin", "my/plugin.py", "methods"],
            None,
            "plugin 'my/plugin.py' (given by --plugin) is not a module name",
        ),
    ],
)
def test_broken_plugins_fail_with_an_error_naming_them(tmp_path, args, plugins, expected):
    proc = rib(_folder(tmp_path, BROKEN), *args, plugins=plugins)
    assert proc.returncode == 2 and proc.stdout == ""
    assert f"rib: error: {expected}" in proc.stderr, proc.stderr


def test_a_broken_entry_point_names_its_distribution(tmp_path):
    proc = rib(_folder(tmp_path, GHOST), "methods")
    assert proc.returncode == 2 and proc.stdout == ""
    assert (
        "rib: error: plugin 'ghost_plugin_module' (entry point 'ghost' in group "
        "imagenet_rib.methods of distribution ghost 0.1) failed to load: no module named "
        "'ghost_plugin_module'; reinstall or uninstall ghost"
    ) in proc.stderr, proc.stderr


# ------------------------------------------------------------------------------ in process


def test_env_modules_and_use_plugins(monkeypatch, tmp_path):
    from imagenet_rib import plugins

    monkeypatch.setenv("IMAGENET_RIB_PLUGINS", " a.b , ,c ")
    assert plugins.env_modules() == ["a.b", "c"]
    (tmp_path / "rib_noop_plugin.py").write_text("LOADED = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins.use_plugins(["rib_noop_plugin", "rib_noop_plugin"])
    assert os.environ["IMAGENET_RIB_PLUGINS"] == "a.b,c,rib_noop_plugin"
    assert sys.modules["rib_noop_plugin"].LOADED
    assert plugins.Plugin("rib_noop_plugin", "given to use_plugins()") in plugins.loaded_plugins()
    with pytest.raises(plugins.PluginError, match="not a module name"):
        plugins.use_plugins(["rib noop"])
    assert os.environ["IMAGENET_RIB_PLUGINS"] == "a.b,c,rib_noop_plugin"  # unchanged
    with pytest.raises(plugins.PluginError, match="unknown plugin group"):
        plugins.load_plugins("imagenet_rib.metrics")
