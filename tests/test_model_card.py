"""`rib card`: model card metadata (model-index), .eval_results files and the benchmark eval.yaml."""

from __future__ import annotations

import math
import os
import sys

import pytest
import yaml

sys.path.insert(0, os.path.dirname(__file__))

from imagenet_rib.errors import ConfigError  # noqa: E402
from imagenet_rib.hub import (  # noqa: E402
    benchmark_eval_yaml,
    build_model_card,
    read_run_config,
    select_run,
)
from report_data import (  # noqa: E402
    BASE,
    DEG,
    GAIN,
    PRE,
    REFERENCE,
    SUITE,
    W,
    expected_ri,
    make_run_dir,
    run_config,
    synthetic_results,
)


@pytest.fixture(scope="module")
def df():
    return synthetic_results()[0]


def _metrics(card):
    from huggingface_hub import ModelCard
    from huggingface_hub.repocard_data import model_index_to_eval_results

    reparsed = ModelCard(str(card))  # what a reader of the README gets back
    assert reparsed.data.to_dict()["model-index"] == card.data.to_dict()["model-index"]
    _, results = model_index_to_eval_results(reparsed.data.to_dict()["model-index"])
    return {(r.dataset_type, r.dataset_config, r.metric_type): r for r in results}


def test_model_index_holds_accuracies_and_rib_scores(df):
    rc = build_model_card(df, run_config(), repo_id="user/src-a-ft-d1", namespace="rib-ns")
    metrics = _metrics(rc.card)
    for j in (*SUITE, REFERENCE):
        r = metrics[(f"rib-ns/{j}", None, "accuracy")]
        expected = PRE[j] + (
            GAIN["ft"] if j == "d1" else DEG["ft"] if j == REFERENCE else BASE["ft"] * W[j]
        )
        assert r.metric_value == pytest.approx(expected)
        assert r.task_type == "image-classification" and r.dataset_split == "test"
    bench = "rib-ns/toy-suite"
    assert rc.benchmark == bench
    assert metrics[(bench, "d1", "robustness_improvement")].metric_value == pytest.approx(
        expected_ri("src-a", "ft", "d1")
    )
    assert metrics[(bench, "d1", "pretraining_degradation")].metric_value == pytest.approx(
        DEG["ft"]
    )
    assert metrics[(bench, "d1", "in_task_gain")].metric_value == pytest.approx(GAIN["ft"])
    assert rc.card.data.model_name == "src-a-ft-d1"
    assert "rib-ns/d2" in rc.card.data.datasets


def test_eval_results_files_follow_the_hub_format_and_match_eval_yaml(df):
    from huggingface_hub import parse_eval_result_entries

    rc = build_model_card(df, run_config(), namespace="rib-ns")
    assert set(rc.eval_results) == {
        ".eval_results/ri-d1.yaml",
        ".eval_results/degradation-d1.yaml",
        ".eval_results/in-task-gain-d1.yaml",
    }
    entries = {}
    for text in rc.eval_results.values():
        (entry,) = parse_eval_result_entries(yaml.safe_load(text))
        entries[entry.task_id] = entry
        assert entry.dataset_id == "rib-ns/toy-suite"
        assert "method=ft" in entry.notes
    assert entries["ri-d1"].value == pytest.approx(expected_ri("src-a", "ft", "d1"))
    assert entries["in-task-gain-d1"].value == pytest.approx(GAIN["ft"])
    doc = yaml.safe_load(benchmark_eval_yaml(rc.suite, name="ImageNet-RIB (toy)"))
    assert doc["evaluation_framework"] == "imagenet-rib"
    task_ids = {t["id"] for t in doc["tasks"]}
    assert set(entries) <= task_ids  # every result cites a task the benchmark declares
    assert len(task_ids) == 3 * len(SUITE)
    assert {t["config"] for t in doc["tasks"]} == set(SUITE)


def test_card_text_documents_the_run(df):
    cfg = run_config()
    cfg["hub_token"] = "hf_never_in_a_card"
    rc = build_model_card(
        df,
        cfg,
        dataset_revisions={"d1": "abc123"},
        base_model="org/base-vit",
        limitations=["Synthetic numbers."],
    )
    text = str(rc.card)
    assert "hf_never_in_a_card" not in text
    assert rc.card.data.base_model == "org/base-vit"
    for needle in (
        "`ft`",
        "`d1`",
        "`abc123`",
        "lr_scale",
        "learning_rate",
        "## Label protocol",
        "`holdout` (seed 0, test fraction 0.2)",
        "| d2 | 50.0 | 46.0 | -4.0 |",
        "## Limitations",
        "Synthetic numbers.",
        "@article{hwang2024imagenetrib",
    ):
        assert needle in text, needle


def test_missing_cell_shows_in_the_results_table(df):
    rc = build_model_card(df, run_config(dataset="d2"))
    (row,) = [line for line in str(rc.card).splitlines() if line.startswith("| d3 | 40")]
    assert row == "| d3 | 40.0 | n/a | n/a |"
    assert math.isnan(rc.scores.ri["d2"])  # d2 -> d3 is missing: no RI, never a partial mean


def test_run_selection(df, tmp_path):
    wise = select_run(df, run_config(method="wise-ft"))
    assert wise.variant == "alpha=0.5"  # the only variant is picked
    with pytest.raises(ConfigError, match="no variant"):
        select_run(df, run_config(method="wise-ft"), variant="alpha=0.9")
    with pytest.raises(ConfigError, match="no records of run"):
        select_run(df, run_id="feedbeef")
    with pytest.raises(ConfigError, match="no records of model"):
        select_run(df, run_config(dataset="d9"))
    with pytest.raises(ConfigError, match="pretrained baseline"):
        select_run(df[df["method"] != "pretrained"], run_config())
    seeds = select_run(df, run_config(model="src-b", method="lwf", seed=1))
    assert set(seeds.run["seed"]) == {1}
    # `rib run` names run folders by run id: the folder alone selects the run
    rid = seeds.run_id
    assert select_run(df, {}, run_dir=tmp_path / rid).run_id == rid
    with pytest.raises(ConfigError, match="not a finished run folder"):
        read_run_config(tmp_path)


def test_cli_card_writes_readme_and_eval_results(df, tmp_path, capsys):
    from imagenet_rib.cli import main
    from imagenet_rib.results import ResultStore
    from report_data import synthetic_records

    store = ResultStore(tmp_path / "results.sqlite")
    store.add(synthetic_records())
    run_dir = make_run_dir(tmp_path / "run")
    assert main(["card", str(run_dir), "--store", str(store.path), "--namespace", "rib-ns"]) == 0
    readme = (run_dir / "README.md").read_text()
    assert "model-index" in readme and "rib-ns/d1" in readme
    assert (run_dir / ".eval_results" / "ri-d1.yaml").is_file()
    out = tmp_path / "elsewhere" / "card.md"
    assert main(["card", str(run_dir), "--store", str(store.path), "--out", str(out)]) == 0
    assert out.read_text().startswith("---\n")
    assert (out.parent / ".eval_results" / "degradation-d1.yaml").is_file()
    assert main(["card", str(tmp_path), "--store", str(store.path)]) == 2  # not a run folder
    assert "rib_config.json" in capsys.readouterr().err
