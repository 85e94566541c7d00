"""The leaderboard: RIB scores per (pretraining source, method, variant, suite), browsable.

- `sources`: read a results store (read-only), its export, or the Hub leaderboard dataset;
- `table`: the leaderboard rows (`build_leaderboard`; scores through `table.score_group`);
- `display`: the table's cells, a row's detail text and figures (no gradio);
- `app`: the Gradio app (`rib leaderboard serve`), imported only when used;
- `space`: the Hub Space's files and `push_space` (`rib leaderboard push`).

Gradio is an optional dependency: ``pip install 'imagenet-rib[leaderboard]'``.
"""

from .sources import Results, load_results
from .table import LeaderboardRow, build_leaderboard, filter_rows, score_group, sort_rows

__all__ = [
    "LeaderboardRow",
    "Results",
    "build_leaderboard",
    "filter_rows",
    "load_results",
    "score_group",
    "sort_rows",
]
