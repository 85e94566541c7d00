"""The leaderboard: RIB scores per (pretraining source, method, variant, suite), browsable.

- `sources`: read a results store (read-only), its export, or the Hub leaderboard dataset;
- `table`: the leaderboard rows (`build_leaderboard`; scores from `scoring.score_records`);
- `display`: the table's cells, filtering and sorting, a row's detail text and figures;
- `app`: the Gradio app (`rib leaderboard serve`), imported only when used;
- `space`: the Hub Space's files and `push_space` (`rib leaderboard push`).

Gradio is an optional dependency: ``pip install 'imagenet-rib[leaderboard]'``.
"""

from .display import filter_rows, sort_rows
from .sources import Results, load_results
from .table import LeaderboardRow, build_leaderboard

__all__ = [
    "LeaderboardRow",
    "Results",
    "build_leaderboard",
    "filter_rows",
    "load_results",
    "sort_rows",
]
