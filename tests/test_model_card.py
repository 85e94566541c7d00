"""`rib card`: a card states only the exact run's numbers (its id from the run folder, no
fallback), with intervals, the pretrained model's Hub id and licence, this project's link and
only Hub dataset ids that exist; model-index, .eval_results and the benchmark eval.yaml."""

from __future__ import annotations

import json
import math

import pytest
import yaml

from imagenet_rib import PROJECT_URL
from imagenet_rib.errors import ConfigError
from imagenet_rib.hub import (
    base_model_info,
    benchmark_eval_yaml,
    build_model_card,
    read_run_config,
    select_run,
)
from imagenet_rib.records import RUN_ID_FILE
from imagenet_rib.scoring import as_records
from support.report_data import (
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
    run_id_of,
    synthetic_results,
    toy_suite,
    write_suite_yaml,
)


@pytest.fixture(scope="module")
def results():
    return synthetic_results()


@pytest.fixture()
def run_dir(tmp_path):
    return make_run_dir(tmp_path / "run", weights=False)


def _card(results, run_dir, **kw):
    df, correct = results
    kw.setdefault("suite", toy_suite())
    return build_model_card(df, run_dir, correct=correct, n_boot=200, **kw)


def _metrics(card):
    from huggingface_hub import ModelCard
    from huggingface_hub.repocard_data import model_index_to_eval_results

    reparsed = ModelCard(str(card))  # what a reader of the README gets back
    assert reparsed.data.to_dict()["model-index"] == card.data.to_dict()["model-index"]
    _, results = model_index_to_eval_results(reparsed.data.to_dict()["model-index"])
    return {(r.dataset_type, r.dataset_config, r.metric_type): r for r in results}


def test_model_index_holds_accuracies_and_rib_scores(results, run_dir):
    rc = _card(results, run_dir, repo_id="user/src-a-ft-d1")
    metrics = _metrics(rc.card)
    for j in (*SUITE, REFERENCE):
        r = metrics[(j, None, "accuracy")]  # named by registry name: no Hub source
        expected = PRE[j] + (
            GAIN["ft"] if j == "d1" else DEG["ft"] if j == REFERENCE else BASE["ft"] * W[j]
        )
        assert r.metric_value == pytest.approx(expected)
        assert r.task_type == "image-classification" and r.dataset_split == "test"
    ri = metrics[("toy-suite", "d1", "robustness_improvement")]
    assert ri.metric_value == pytest.approx(expected_ri("src-a", "ft", "d1"))
    assert metrics[("toy-suite", "d1", "pretraining_degradation")].metric_value == DEG["ft"]
    assert metrics[("toy-suite", "d1", "in_task_gain")].metric_value == GAIN["ft"]
    assert rc.card.data.model_name == "src-a-ft-d1"
    assert rc.card.data.datasets is None  # no dataset came from the Hub
    assert rc.eval_results == {} and rc.benchmark is None  # no benchmark repo named


def test_the_card_uses_only_the_exact_run(results, tmp_path):
    df, _ = results
    recs = as_records(df)
    folder = make_run_dir(tmp_path / "a", weights=False)
    rows = select_run(recs, folder)
    assert rows.run_id == run_id_of("src-a", "ft", "d1") and {r.run_id for r in rows.run} == {
        rows.run_id
    }
    # a folder without its recorded id: refused, never matched by (model, method, dataset, seed)
    bare = make_run_dir(tmp_path / "b", run_id=None, weights=False)
    with pytest.raises(ConfigError, match="records no run id"):
        select_run(recs, bare)
    assert select_run(recs, bare, run_id=rows.run_id).run_id == rows.run_id  # explicit is fine
    with pytest.raises(ConfigError, match="no records of run 'feedbeef'"):
        select_run(recs, bare, run_id="feedbeef")
    with pytest.raises(ConfigError, match="differs from the run id"):
        select_run(recs, folder, run_id=run_id_of("src-a", "lwf", "d1"))
    # an explicit id of another run (here: lwf's numbers for this ft folder) is refused
    with pytest.raises(ConfigError, match=r"method 'lwf' \(folder: 'ft'\)"):
        select_run(recs, bare, run_id=run_id_of("src-a", "lwf", "d1"))
    # a diverged copy in another store cannot lend its numbers: the id must be in the store
    other_store = [r for r in recs if r.run_id != rows.run_id]
    with pytest.raises(ConfigError, match="no records of run"):
        select_run(other_store, folder)
    seed1 = make_run_dir(tmp_path / "c", run_config("src-b", "lwf", seed=1), weights=False)
    assert {r.seed for r in select_run(recs, seed1).run} == {1}
    wise = make_run_dir(tmp_path / "d", weights=False, run_id=run_id_of("src-a", "wise-ft", "d1"))
    with pytest.raises(ConfigError, match="does not match the run folder"):
        select_run(recs, wise)  # a derived run's numbers are not this folder's weights
    with pytest.raises(ConfigError, match="not a finished run folder"):
        read_run_config(tmp_path)
    (folder / RUN_ID_FILE).write_text("{oops")
    with pytest.raises(ConfigError, match="--run-id"):
        select_run(recs, folder)


def test_intervals_base_model_licence_and_project_link(results, run_dir):
    rc = _card(results, run_dir)
    text = str(rc.card)
    iv = rc.scores.interval("ri", "d1", kind="images")
    assert iv.low < rc.scores.scores.ri["d1"] < iv.high
    ri = rc.scores.scores.ri["d1"]
    assert _row(text, "RI (points)", 3) == [
        "RI (points)",
        f"{ri:+.2f}",
        f"[{iv.low:+.2f}, {iv.high:+.2f}]",
    ]
    assert "95% paired percentile bootstrap over the test images (B = 200)" in text
    assert PROJECT_URL in text and "FieteLab" not in text.split("## Citation")[0]
    assert rc.card.data.license == "other" and "--license" in text  # src-a: a local checkpoint
    assert rc.card.data.base_model is None
    given = _card(results, run_dir, base_model="org/base-vit", license="mit")
    assert given.card.data.base_model == "org/base-vit" and given.card.data.license == "mit"


@pytest.mark.parametrize(
    ("name", "hub_id", "licence"),
    [
        ("vit-b16-augreg-in21k", "timm/vit_base_patch16_224.augreg_in21k_ft_in1k", "apache-2.0"),
        ("vit-b16-clip-laion2b", "timm/vit_base_patch16_clip_224.laion2b_ft_in1k", "apache-2.0"),
        ("mini-vit-rich", None, "apache-2.0"),
        ("resnet50", None, "other"),
        ("someone/their-vit", "someone/their-vit", "other"),
        ("/home/me/checkpoints/vit", None, "other"),
    ],
)
def test_base_model_info(name, hub_id, licence):
    info = base_model_info(name)
    assert (info.hub_id, info.license) == (hub_id, licence) and info.note
    assert "/home/me" not in info.name


def test_dataset_ids_only_where_the_results_came_from_the_hub(results, tmp_path):
    folder = make_run_dir(tmp_path / "run", run_config(source="/data/local/d1"), weights=False)
    rc = _card(results, folder, suite=toy_suite(d2="org/d2-rib", d3="/data/d3"))
    metrics = _metrics(rc.card)
    assert ("org/d2-rib", None, "accuracy") in metrics and ("d3", None, "accuracy") in metrics
    assert rc.card.data.datasets == ["org/d2-rib"]
    text = str(rc.card)
    assert "https://huggingface.co/datasets/org/d2-rib" in text
    assert "imagenet-rib/d1" not in text and "/data/local" not in text
    hub_run = make_run_dir(tmp_path / "hub", run_config(source="org/d1-rib"), weights=False)
    assert _card(results, hub_run, suite=toy_suite()).card.data.datasets == ["org/d1-rib"]


def test_eval_results_against_a_benchmark_match_eval_yaml(results, run_dir):
    from huggingface_hub import parse_eval_result_entries

    rc = _card(results, run_dir, benchmark="rib-ns/toy-bench")
    assert set(rc.eval_results) == {
        ".eval_results/ri-d1.yaml",
        ".eval_results/degradation-d1.yaml",
        ".eval_results/in-task-gain-d1.yaml",
    }
    entries = {}
    for text in rc.eval_results.values():
        (entry,) = parse_eval_result_entries(yaml.safe_load(text))
        entries[entry.task_id] = entry
        assert entry.dataset_id == "rib-ns/toy-bench" and "method=ft" in entry.notes
        assert "95% CI (bootstrap over images) [" in entry.notes
    assert entries["ri-d1"].value == pytest.approx(expected_ri("src-a", "ft", "d1"))
    assert _metrics(rc.card)[("rib-ns/toy-bench", "d1", "in_task_gain")].metric_value == GAIN["ft"]
    doc = yaml.safe_load(benchmark_eval_yaml(rc.suite, name="ImageNet-RIB (toy)"))
    assert doc["evaluation_framework"] == "imagenet-rib" and PROJECT_URL in doc["description"]
    task_ids = {t["id"] for t in doc["tasks"]}
    assert set(entries) <= task_ids and len(task_ids) == 3 * len(SUITE)


def test_card_text_documents_the_run(results, tmp_path):
    cfg = run_config(hub_token="hf_never_in_a_card")
    folder = make_run_dir(tmp_path / "run", cfg, weights=False)
    rc = _card(results, folder, dataset_revisions={"d1": "abc123"}, limitations=["Synthetic."])
    text = str(rc.card)
    assert "hf_never_in_a_card" not in text
    for needle in (
        "`ft`",
        "`d1`",
        "lr_scale",
        "learning_rate",
        "## Label protocol",
        "`holdout` (seed 0, test fraction 0.2)",
        "## Limitations",
        "Synthetic.",
        "@article{hwang2024imagenetrib",
        f"`{rc.rows.run_id}`",
    ):
        assert needle in text, needle
    assert _row(text, "d2")[:4] == ["d2", "50.0", "46.0", "-4.0"] and _row(text, "d2")[4][0] == "["


def _row(text: str, first: str, cells: int = 5) -> list[str]:
    """The row of a results table (after ``## Results``) whose first cell is `first`."""
    text = text.split("## Results")[1]
    rows = [[c.strip() for c in x.split("|")[1:-1]] for x in text.splitlines() if x.startswith("|")]
    (row,) = [r for r in rows if r[0] == first and len(r) == cells]
    return row


def test_missing_cell_shows_in_the_results_table(results, tmp_path):
    folder = make_run_dir(tmp_path / "run", run_config(dataset="d2"), weights=False)
    rc = _card(results, folder)
    assert _row(str(rc.card), "d3") == ["d3", "40.0", "n/a", "n/a", "n/a"]
    assert math.isnan(rc.scores.scores.ri["d2"])  # d2 -> d3 is missing: no RI, no partial mean


def test_cli_card(results, tmp_path, capsys):
    from imagenet_rib.cli import main
    from imagenet_rib.results import ResultStore
    from support.report_data import synthetic_records

    recs = synthetic_records()
    _, correct = results
    store = ResultStore(tmp_path / "results.sqlite")
    store.add(recs, {r.key: correct(r.key) for r in recs})
    run_dir = make_run_dir(tmp_path / "run", weights=False)
    suite = str(write_suite_yaml(tmp_path / "toy.yaml"))
    args = ["card", str(run_dir), "--store", str(store.path), "--suite", suite]
    assert main([*args, "--benchmark", "rib-ns/toy"]) == 0
    readme = (run_dir / "README.md").read_text()
    assert "model-index" in readme and "95% CI" in readme
    assert (run_dir / ".eval_results" / "ri-d1.yaml").is_file()
    out = tmp_path / "elsewhere" / "card.md"
    assert main([*args, "--out", str(out)]) == 0
    assert out.read_text().startswith("---\n") and not (out.parent / ".eval_results").exists()
    assert main(["card", str(tmp_path), "--store", str(store.path)]) == 2  # not a run folder
    assert "rib_config.json" in capsys.readouterr().err
    bare = make_run_dir(tmp_path / "bare", run_id=None, weights=False)
    assert main(["card", str(bare), "--store", str(store.path), "--suite", suite]) == 2
    assert "--run-id" in capsys.readouterr().err
    rid = run_id_of("src-a", "ft", "d1")
    assert (
        main(["card", str(bare), "--store", str(store.path), "--suite", suite, "--run-id", rid])
        == 0
    )
    assert json.loads((run_dir / RUN_ID_FILE).read_text())["run_id"] == rid
