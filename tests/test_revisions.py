"""Runs are identified by the pretrained weights' revision and the data version, and scores
never mix revisions."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from imagenet_rib.plan import BenchmarkConfig, plan
from imagenet_rib.runs import model_revision
from imagenet_rib.scores import ScoreInputError
from support.rib_tiny import SUITE_YAML, make_model


def _config(root: Path, **over) -> BenchmarkConfig:
    (root / "suite.yaml").write_text(SUITE_YAML.format())
    fields = dict(
        models=(str(root / "model"),),
        methods=("ft", {"name": "wise-ft", "config": {"alphas": [0.5]}}),
        suite=str(root / "suite.yaml"),
        finetune_datasets=("tiny-a",),
        output_dir=str(root / "out"),
    )
    return BenchmarkConfig(**{**fields, **over})


def test_changed_weights_give_new_run_ids_for_every_run_and_its_baseline(tmp_path):
    make_model(tmp_path / "model", seed=0)
    config = _config(tmp_path)
    first = [s.run_id for s in plan(config)]
    rev0 = model_revision(str(tmp_path / "model"))
    assert rev0.startswith("sha256:") and len(first) == 3
    make_model(tmp_path / "model", seed=1)  # the same folder, re-pretrained
    second = [s.run_id for s in plan(config)]
    assert model_revision(str(tmp_path / "model")) != rev0
    assert not set(first) & set(second)  # baseline, ft and wise-ft: none is reused
    make_model(tmp_path / "model", seed=0)  # the original weights again: the original runs
    assert [s.run_id for s in plan(config)] == first
    # an explicit revision (what `sweep.run` passes from the loaded model) is the same id
    assert [s.run_id for s in plan(config, revisions={config.models[0]: rev0})] == first


def test_data_version_is_part_of_the_run_id(tmp_path, monkeypatch):
    from imagenet_rib.data.mini import build

    make_model(tmp_path / "model")
    config = _config(tmp_path, suite="mini-rib", finetune_datasets=("mini-r",))
    rev = {config.models[0]: "sha256:fixed"}
    before = [s.run_id for s in plan(config, revisions=rev)]
    monkeypatch.setattr(build, "MINI_VERSION", "999")
    import imagenet_rib.data.mini as mini

    monkeypatch.setattr(mini, "MINI_VERSION", "999")
    after = [s.run_id for s in plan(config, revisions=rev)]
    assert not set(before) & set(after)


def test_scores_refuse_fine_tuned_records_of_another_revision_than_the_baseline():
    from imagenet_rib.scoring import score_records
    from support.report_data import synthetic_records, toy_suite

    recs = synthetic_records()
    assert score_records(recs, toy_suite(), n_boot=0).results  # one revision: scored
    mixed = [
        replace(r, model_revision="sha256:new")
        if r.model == "src-a" and r.method != "pretrained"
        else r
        for r in recs
    ]
    assert {r.model_revision for r in mixed if r.model == "src-a"} == {"rev0", "sha256:new"}
    with pytest.raises(ScoreInputError, match=r"src-a ft was fine-tuned from revision "
                       r"'sha256:new', but the records hold its pretrained baseline only for "
                       r"revisions \['rev0'\]"):  # fmt: skip
        score_records(mixed, toy_suite(), n_boot=0)


HUB_SCRIPT = """
import sys
from imagenet_rib.models import load_model
print(load_model("org/tiny", label_space="mini-digits").revision)
"""


@pytest.mark.slow
def test_a_hub_model_is_recorded_by_the_commit_it_was_loaded_from(tmp_path):
    """A Hub id's revision is its snapshot's commit, not a branch name: when ``main``
    moves to a new commit, the runs of the new weights get new ids."""
    import os
    import subprocess
    import sys

    from support.rib_train_helpers import make_model_dir

    repo = tmp_path / "cache" / "models--org--tiny"
    commits = ["a" * 40, "b" * 40]
    for seed, commit in enumerate(commits):
        make_model_dir(repo / "snapshots" / commit, seed=seed)
    (repo / "refs").mkdir()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "cache")}
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    seen = []
    for commit in commits:
        (repo / "refs" / "main").write_text(commit)
        proc = subprocess.run(
            [sys.executable, "-c", HUB_SCRIPT], env=env, capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        seen.append(proc.stdout.split()[-1])
    assert seen == commits
