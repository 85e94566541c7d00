"""Model cards and Hub publishing of fine-tuned runs (`rib card`, `rib push`).

- `build_model_card(records, run_config, ...) -> RunCard`: card (``model-index`` metadata,
  results table, protocol, limitations, citation) + ``.eval_results/*.yaml`` files;
- `push_run(run_dir, repo_id, records, leaderboard_repo=...)`: weights + card + eval results in
  one commit, then the rows appended to a leaderboard dataset (`append_leaderboard`);
- `publish_benchmark_eval_yaml(repo_id, suite)`: the benchmark dataset's ``eval.yaml``.
"""

from .cards import (
    benchmark_eval_yaml,
    benchmark_repo_id,
    eval_result_entries,
    eval_results_files,
    hub_namespace,
    read_run_config,
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
)

__all__ = [
    "LeaderboardResult",
    "PushResult",
    "RunCard",
    "append_leaderboard",
    "benchmark_eval_yaml",
    "benchmark_repo_id",
    "build_model_card",
    "eval_result_entries",
    "eval_results_files",
    "hub_namespace",
    "merge_rows",
    "publish_benchmark_eval_yaml",
    "push_run",
    "read_run_config",
    "select_run",
]
