"""``--config FILE.yaml``: every command takes its options from a YAML file of its flags."""

from __future__ import annotations

import json

import pytest

from imagenet_rib.cli import build_parser, main
from imagenet_rib.cli._options_file import apply_options_file, leaf_parsers
from imagenet_rib.errors import ConfigError


def _parse(argv: list[str]) -> dict:
    parser = build_parser()
    apply_options_file(parser, argv)
    out = vars(parser.parse_args(argv))
    out.pop("config", None)
    return out


def _write(tmp_path, text: str):
    path = tmp_path / "options.yaml"
    path.write_text(text)
    return str(path)


FINETUNE_FLAGS = [
    "finetune",
    "--model", "mini-vit-clean",
    "--method", "lora",
    "--dataset", "mini-sketch",
    "--output-dir", "runs/lora",
    "--method-config", '{"rank": 4}',
    "--lr", "0.0005",
    "--epochs", "2",
    "--split-seed", "1",
    "--no-progress",
    "--data", "imagenet-val=val-folder",
]  # fmt: skip


def test_finetune_from_a_file_equals_the_same_flags(tmp_path):
    path = _write(
        tmp_path,
        "model: mini-vit-clean\nmethod: lora\ndataset: mini-sketch\noutput-dir: runs/lora\n"
        "method-config: {rank: 4}\nlr: 5e-4\nepochs: 2\nsplit_seed: 1\nno-progress: true\n"
        "data: {imagenet-val: val-folder}\n",
    )  # `5e-4` is a YAML string, `split_seed` the dest spelling: both accepted
    from_file = _parse(["finetune", "--config", path])
    assert from_file == _parse(FINETUNE_FLAGS)
    assert from_file["lr"] == 0.0005 and from_file["split_seed"] == 1
    assert from_file["no_progress"] is True and from_file["method_config"] == ['{"rank": 4}']


def test_flags_on_the_command_line_win_over_the_file(tmp_path):
    path = _write(
        tmp_path,
        "model: mini-vit-clean\nmethod: ft\ndataset: mini-sketch\noutput-dir: o\nsplit-seed: 1\n",
    )
    args = _parse(["finetune", "--split-seed", "2", "--config", path, "--method", "lora"])
    assert (args["split_seed"], args["method"], args["model"]) == (2, "lora", "mini-vit-clean")


def test_a_sub_command_positional_from_the_file(tmp_path):
    path = _write(tmp_path, "name: imagenet-sketch\nsplit-rule: none\nrepo-id: me/sketch\n")
    args = _parse(["datasets", "card", "--config", path])
    assert (args["name"], args["split_rule"], args["repo_id"]) == (
        "imagenet-sketch",
        "none",
        "me/sketch",
    )
    assert _parse(["datasets", "card", "imagenet-r", "--config", path])["name"] == "imagenet-r"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("learning-rate: 0.1\n", "has no option 'learning-rate'; its options are .*lr"),
        ("epochs: many\n", "'epochs' takes a number, not 'many'"),
        ("max-steps: 1.5\n", "'max-steps' takes a whole number, not 1.5"),
        ("max-steps: true\n", "'max-steps' takes a value, not True"),
        ("no-progress: 3\n", "'no-progress' is a switch: give true or false"),
        ("model: [a, b]\n", "'model' takes one value, not the list"),
        ("- model\n", "holds a list, not a mapping"),
        ("model: [unclosed\n", "cannot be parsed"),
    ],
)
def test_a_bad_options_file_is_refused_with_the_fix(tmp_path, capsys, text, message):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError, match=message):
        apply_options_file(build_parser(), ["finetune", "--config", path])
    assert main(["finetune", "--config", path]) == 2
    assert "rib: error: options file" in capsys.readouterr().err


def test_choices_are_checked_for_file_values(tmp_path):
    path = _write(tmp_path, "model: [mini-vit-clean]\npart: val\n")
    with pytest.raises(ConfigError, match="'part' is 'val'; choose one of test, train"):
        apply_options_file(build_parser(), ["evaluate", "--config", path])


def test_a_required_option_missing_from_file_and_flags_is_still_required(tmp_path, capsys):
    path = _write(tmp_path, "model: mini-vit-clean\nmethod: ft\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["finetune", "--config", path])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "required: --dataset, --output-dir" in err


def test_every_command_takes_an_options_file_except_benchmark_config_commands():
    parser = build_parser()
    without = []
    for leaf in leaf_parsers(parser):
        config = [a for a in leaf._actions if "--config" in a.option_strings]
        if not config or config[0].metavar != "FILE.yaml":
            without.append(leaf.prog)
    # rib run CONFIG and the --config of demo, otdd and report read a benchmark config
    assert sorted(without) == ["rib demo", "rib otdd", "rib report", "rib run"]
    assert len(leaf_parsers(parser)) > 15


def test_rib_methods_runs_from_an_options_file(tmp_path, capsys):
    path = _write(tmp_path, "names: [lora, ewc]\njson: true\n")
    assert main(["methods", "--config", path]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [m["name"] for m in shown] == ["lora", "ewc"]
