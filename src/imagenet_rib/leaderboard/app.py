"""The leaderboard as a Gradio app: a filterable, sortable table and a detail view per row.

`LeaderboardApp` holds the rows and answers every UI event with plain Python values (tested
without a browser); `build_app` wires it into ``gradio.Blocks``; `serve` runs it locally and
`space_demo` is what the Hub Space's ``app.py`` calls. Gradio is imported only here, inside
functions, so the rest of the library works without it. Nothing here reaches the internet:
analytics are off, no share link is made, and the default theme's fonts are served locally.
"""

# No `from __future__ import annotations` here: gradio finds the event-data parameters of the
# handlers (gr.SelectData, gr.Request) by evaluating their annotations.
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import ConfigError, RIBError
from . import display
from .display import SORT_KEYS, filter_rows, sort_rows
from .table import LeaderboardRow, build_leaderboard

TITLE = "ImageNet-RIB leaderboard"
INSTALL_HINT = "pip install 'imagenet-rib[leaderboard]'"


def import_gradio() -> Any:
    """The gradio module, or an error saying how to install it."""
    try:
        import gradio as gr
    except ModuleNotFoundError as err:
        if err.name != "gradio":
            raise
        raise RIBError(
            f"the leaderboard app needs gradio, which is not installed: {INSTALL_HINT}"
        ) from None
    return gr


#: Re-reads a results source: (rows, description of the source).
Loader = Callable[[], tuple[list[LeaderboardRow], str]]


class LeaderboardApp:
    """The leaderboard's state and its answers to the UI events (no gradio needed).

    `loader`, when given, re-reads the source for `reload` (results added since the start).
    """

    def __init__(
        self,
        rows: Sequence[LeaderboardRow],
        *,
        origin: str,
        figures_dir: str | Path | None = None,
        title: str = TITLE,
        loader: Loader | None = None,
    ) -> None:
        self.title = title
        self.loader = loader
        self.generation = 0
        self.figures_root = Path(figures_dir or tempfile.mkdtemp(prefix="rib-leaderboard-"))
        self._set(rows, origin)

    def _set(self, rows: Sequence[LeaderboardRow], origin: str) -> None:
        if not rows:
            raise ConfigError("the leaderboard has no rows; push or run some results first")
        self.rows = list(rows)
        self.by_id = {r.id: r for r in self.rows}
        self.origin = origin
        self.confidence = self.rows[0].confidence

    @property
    def figures_dir(self) -> Path:
        # row ids are renumbered by a reload: each generation draws its figures afresh
        return self.figures_root / str(self.generation)

    def reload(self) -> bool:
        """Re-read the source and rebuild the rows; False (nothing done) without a loader."""
        if self.loader is None:
            return False
        rows, origin = self.loader()
        self._set(rows, origin)
        self.generation += 1
        return True

    def pick_choices(self) -> list[tuple[str, int]]:
        return [(r.label, r.id) for r in self.rows]

    def choices(self, attr: str) -> list[str]:
        return sorted({getattr(r, attr) for r in self.rows})

    def table(
        self,
        suites: Sequence[str] | None = (),
        models: Sequence[str] | None = (),
        methods: Sequence[str] | None = (),
        sort_by: str = "mRI",
        descending: bool = True,
    ):
        """The displayed table (a DataFrame of text cells) for the current filters."""
        rows = filter_rows(
            self.rows, suites=suites or (), models=models or (), methods=methods or ()
        )
        return display.display_frame(
            sort_rows(rows, sort_by, descending=descending), self.confidence
        )

    def row_id(self, value: Any) -> int | None:
        """The row id of a selected table row's "#" cell, a query parameter or a dropdown value."""
        try:
            rid = int(value)
        except (TypeError, ValueError):
            return None
        return rid if rid in self.by_id else None

    def detail(self, row_id: Any) -> tuple[str, str | None, str | None]:
        """(Markdown, dA heatmap path, before/after plot path) of a row."""
        rid = self.row_id(row_id)
        if rid is None:
            return f"No leaderboard row {row_id!r}; pick one from the list.", None, None
        row = self.by_id[rid]
        figures = display.detail_figures(row, self.figures_dir)
        heat, bars = (None, None) if figures is None else (str(figures[0]), str(figures[1]))
        return display.detail_markdown(row), heat, bars

    def start_row(self, query: Mapping[str, str]) -> int:
        """The row the page opens on: ``?row=<#>`` when valid, else the best-ranked row."""
        return self.row_id(query.get("row")) or sort_rows(self.rows)[0].id

    def header(self) -> str:
        suites = ", ".join(self.choices("suite"))
        return (
            f"# {self.title}\n\n"
            f"{len(self.rows)} rows from {self.origin} (suites: {suites}); scores computed by "
            f"imagenet-rib {__version__}. One row per (pretraining source, method, variant, "
            "suite); accuracies are top-1 percent, scores are accuracy points.\n\n"
            "**mRI** = mean over fine-tuning sets i of RI_i = mean over j != i of "
            "A(i -> j) - A_pre(j); **avg OOD after** = avg OOD before + mRI; "
            "**pretraining-set degradation** = A(i -> reference) - A_pre(reference) and "
            "**in-task gain** = A(i -> i) - A_pre(i), both averaged over fine-tuning sets. "
            "A score with a missing cell reads *incomplete (k of n sets)*, never a partial mean. "
            f"Intervals ({self.confidence:.0%}): Student t over seeds where a row has several "
            "seeds, else a paired bootstrap over test images (a results store only)."
        )


def build_app(board: LeaderboardApp) -> Any:
    """The ``gradio.Blocks`` of a `LeaderboardApp`."""
    gr = import_gradio()
    first = sort_rows(board.rows)[0].id
    text, heat, bars = board.detail(first)
    with gr.Blocks(title=board.title, analytics_enabled=False) as demo:
        header = gr.Markdown(board.header(), elem_id="rib-header")
        with gr.Row():
            suites = gr.Dropdown(board.choices("suite"), value=[], multiselect=True, label="suite")
            models = gr.Dropdown(board.choices("model"), value=[], multiselect=True, label="model")
            methods = gr.Dropdown(
                board.choices("method"), value=[], multiselect=True, label="method"
            )
            sort_by = gr.Dropdown(list(SORT_KEYS), value="mRI", label="sort by")
            descending = gr.Checkbox(value=True, label="descending")
            reload = gr.Button(
                "Reload results", elem_id="rib-reload", visible=board.loader is not None
            )
        table = gr.Dataframe(
            board.table(),
            datatype=display.DATATYPES,
            column_widths=display.WIDTHS,
            interactive=False,
            wrap=True,
            show_search="search",
            max_height=900,
            label="leaderboard (select a row for its details)",
            elem_id="rib-leaderboard",
        )
        gr.Markdown("## Details")
        pick = gr.Dropdown(board.pick_choices(), value=first, label="row", elem_id="rib-pick")
        with gr.Row():
            # the figures carry their own titles; a component label would hide their left part
            heat_img = gr.Image(
                heat, type="filepath", show_label=False, interactive=False, elem_id="rib-heatmap"
            )
            bars_img = gr.Image(
                bars, type="filepath", show_label=False, interactive=False, elem_id="rib-bars"
            )
        detail = gr.Markdown(text, elem_id="rib-detail")

        filters = [suites, models, methods, sort_by, descending]
        for widget in filters:
            widget.change(board.table, filters, table)

        # Each event writes the whole detail view itself: no event chains on `pick.change`.
        shown = [pick, detail, heat_img, bars_img]

        def on_select(evt: gr.SelectData) -> tuple[Any, ...]:
            rid = board.row_id((evt.row_value or [None])[0])
            return (rid, *board.detail(rid)) if rid is not None else tuple(gr.skip() for _ in shown)

        def on_load(request: gr.Request) -> tuple[Any, ...]:
            rid = board.start_row(dict(request.query_params))
            return (rid, *board.detail(rid))

        def on_reload(*values: Any) -> tuple[Any, ...]:
            board.reload()
            lists = [gr.update(choices=board.choices(a)) for a in ("suite", "model", "method")]
            picks = gr.update(choices=board.pick_choices())
            return (board.header(), board.table(*values), *lists, picks)

        reload.click(on_reload, filters, [header, table, suites, models, methods, pick])
        table.select(on_select, None, shown)
        pick.input(board.detail, pick, shown[1:])
        demo.load(on_load, None, shown)
    return demo


def make_app(
    store: str | Path | None = None,
    *,
    parquet: str | Path | None = None,
    dataset: str | None = None,
    revision: str | None = None,
    suites: Sequence[Any] = (),
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> LeaderboardApp:
    """Load one results source (see `sources.load_results`) and build its leaderboard
    (`suites`: suites of one's own, see `table.build_leaderboard`); the app's "Reload
    results" button reads the source again."""
    from .sources import load_results

    def loader() -> tuple[list[LeaderboardRow], str]:
        results = load_results(store, parquet=parquet, dataset=dataset, revision=revision)
        rows = build_leaderboard(
            results.frame,
            results.correct,
            suites=suites,
            n_boot=n_boot,
            confidence=confidence,
            seed=seed,
        )
        return rows, results.origin

    rows, origin = loader()
    return LeaderboardApp(rows, origin=origin, loader=loader)


def serve(board: LeaderboardApp, *, host: str = "127.0.0.1", port: int = 7860) -> None:
    """Run the app until interrupted (no share link; blocks the caller)."""
    demo = build_app(board)
    demo.launch(server_name=host, server_port=port, share=False, ssr_mode=False, quiet=True)


def space_demo(folder: str | Path) -> Any:
    """The Blocks a Hub Space serves (its ``app.py`` calls this with its own folder)."""
    from .space import space_dataset

    dataset, revision = space_dataset(folder)
    return build_app(make_app(dataset=dataset, revision=revision))
