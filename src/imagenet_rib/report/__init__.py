"""Reports: RIB score tables (Markdown, static HTML), the paper's figures and a provenance
section, from a `scoring.ScoreTable` or the records to score.

``build_report(results, out_dir, ...) -> ReportResult`` is the entry point (`rib report`,
`rib demo`); `report_figures` draws the figures without writing them; `tables` formats the
Markdown, `figures` draws, `provenance` describes what produced and rendered the numbers,
`html` renders the standalone page.
"""

from .build import (
    ReportFigure,
    ReportResult,
    build_report,
    drawn_series,
    load_results,
    report_figures,
)

__all__ = [
    "ReportFigure",
    "ReportResult",
    "build_report",
    "drawn_series",
    "load_results",
    "report_figures",
]
