"""Model cards and Hub publishing of fine-tuned runs (`rib card`, `rib push`).

- `build_model_card(records, run_dir, ...) -> RunCard`: the card of the run the folder holds
  (``model-index`` metadata, results with intervals, protocol, limitations, citation) and,
  against a benchmark repo, its ``.eval_results/*.yaml`` files;
- `push_run(run_dir, repo_id, records, leaderboard_repo=...)`: the folder's published files +
  card + eval results in one commit, then the rows appended to a leaderboard dataset
  (`append_leaderboard`);
- `publish_benchmark_eval_yaml(repo_id, suite)`: the benchmark dataset's ``eval.yaml``.
"""

from .card_facts import (
    BaseModel,
    RunRecords,
    base_model_info,
    benchmark_eval_yaml,
    dataset_hub_ids,
    eval_result_entries,
    eval_results_files,
    read_run_config,
    read_run_id,
    redact,
    select_run,
)
from .model_card import RunCard, build_model_card
from .push import (
    LeaderboardResult,
    PushResult,
    append_leaderboard,
    merge_rows,
    publish_benchmark_eval_yaml,
    push_run,
    run_files,
)

__all__ = [
    "BaseModel",
    "LeaderboardResult",
    "PushResult",
    "RunCard",
    "RunRecords",
    "append_leaderboard",
    "base_model_info",
    "benchmark_eval_yaml",
    "build_model_card",
    "dataset_hub_ids",
    "eval_result_entries",
    "eval_results_files",
    "merge_rows",
    "publish_benchmark_eval_yaml",
    "push_run",
    "read_run_config",
    "read_run_id",
    "redact",
    "run_files",
    "select_run",
]
