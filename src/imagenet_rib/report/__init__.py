"""Reports: RIB score tables (Markdown, static HTML) and the paper's figures.

``build_report(df, out_dir, correct=None, otdd=None) -> ReportResult`` is the entry point
(`rib report`); `tables` computes the scores per (pretraining source, method) through
`scores.compute_rib`, `figures` draws the dA heatmap, the accuracy radar, the average-OOD bar
chart and the OTDD scatter, `html` renders the standalone page.
"""

from .build import ReportResult, build_report, load_results
from .figures import plot_delta_heatmap, plot_ood_bars, plot_otdd_scatter, plot_radar
from .tables import ScoreEntry, SuiteInfo, compute_scores, resolve_suite

__all__ = [
    "ReportResult",
    "ScoreEntry",
    "SuiteInfo",
    "build_report",
    "load_results",
    "compute_scores",
    "plot_delta_heatmap",
    "plot_ood_bars",
    "plot_otdd_scatter",
    "plot_radar",
    "resolve_suite",
]
