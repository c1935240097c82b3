"""The console shell: owns the app state and routes messages between panes.

State is one table, one query text and the mask it selects; every pane is a function of
(table, mask) and is re-shown whenever either changes.  Panes never talk to each other.
"""
from __future__ import annotations

import gc
import threading
from pathlib import Path

import numpy as np
from textual.app import App
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer

from ddbtrail import views
from ddbtrail.events import EventTable
from ddbtrail.query import QueryError, add_term, parse
from ddbtrail.text import printable
from loaders import LoadOptions, LoadReport
from tui.actions import ActionCommands, bindings
from tui.banner import LookupBanner, wants_banner
from tui.coverage_screen import CoverageScreen
from tui.drilldown import DrilldownScreen
from tui.event_table import EventTableView
from tui.export_dialog import ExportDialog
from tui.facets import FacetColumn
from tui.help import HelpScreen
from tui.load_worker import load_chunks, start_process_helpers
from tui.messages import (AddTerm, LoadFinished, LoadProgress, OpenEvent, QuerySubmitted,
                          TimeRangePicked, ToggleMark)
from tui.query_line import QueryLine
from tui.status import StatusLine
from tui.timeline import TimelinePane


class KeyFooter(Footer):
    """Textual's Footer, rebuilt only while its screen is on top: the stock one rebuilds its
    keys on every screen push as well, ~15 ms of styling for keys hidden under the drill-down."""

    def bindings_changed(self, screen) -> None:
        if screen is self.app.screen:
            super().bindings_changed(screen)


class DdbTrailApp(App):
    """`DdbTrailApp(sources, opts)` loads `sources` in a worker; pass `table=` to skip loading."""

    CSS_PATH = "app.tcss"
    TITLE = "ddbtrail"
    BINDINGS = bindings("app")
    COMMANDS = App.COMMANDS | {ActionCommands}
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]

    def __init__(self, sources: list[str], opts: LoadOptions | None = None, *,
                 table: EventTable | None = None):
        super().__init__()
        self.animation_level = "none"
        self.sources = sources
        self.opts = opts or LoadOptions()
        self.table = table if table is not None else EventTable.empty()
        self.query_text = ""
        self._query = parse("")
        self.mask = np.ones(len(self.table), dtype=bool)
        self.marks: set[int] = set()
        self.marked_only = False
        self.cancel = threading.Event()
        self.report: LoadReport | None = None
        self.loading = table is None and bool(sources)
        if self.loading:
            start_process_helpers()

    def compose(self):
        yield StatusLine(self.sources, id="status")
        yield QueryLine(id="query")
        with Horizontal(id="main"):
            yield FacetColumn(id="facets")
            with Vertical(id="centre"):
                if wants_banner(self.sources):
                    yield LookupBanner()
                yield TimelinePane(id="timeline")
                yield EventTableView(self.marks, id="events")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.refresh_views()
        self.query_one(EventTableView).focus()
        if self.loading:
            self.run_worker(self._load, thread=True, exclusive=True, name="load")
        else:
            _freeze_heap()

    def on_unmount(self) -> None:
        gc.unfreeze()       # this app and its table may now be garbage like anything else

    # -- state --------------------------------------------------------------------
    @property
    def order(self) -> np.ndarray:
        """Row indexes shown in the event table, in display order."""
        return self.query_one(EventTableView).order

    def panes(self):
        return [self.query_one(StatusLine), self.query_one(FacetColumn),
                self.query_one(TimelinePane), self.query_one(EventTableView)]

    def refresh_views(self) -> None:
        """Recompute the mask for the current table and query and re-show every pane."""
        mask = self._query.mask(self.table)
        if self.marked_only:
            mask &= views.rows_mask(self.table, self.marks)
        self.mask = mask
        for pane in self.panes():
            pane.show(self.table, mask)

    def apply_query(self, text: str) -> bool:
        """Make `text` the query if it parses; the query line shows why when it does not."""
        try:
            query = parse(text)
        except QueryError:
            return False
        self.query_text, self._query = text, query
        self.refresh_views()
        return True

    def set_table(self, table: EventTable) -> None:
        """A new (growing) table from the loader: marks are row numbers of the old one."""
        self.marks.clear()
        self.table = table
        self.refresh_views()

    def _load(self) -> None:
        load_chunks(self.sources, self.opts, self.cancel, self.post_message,
                    lambda table: self.call_from_thread(self.set_table, table))

    # -- messages -----------------------------------------------------------------
    def on_add_term(self, message: AddTerm) -> None:
        self._set_query(add_term(self.query_text, message.field, message.value, message.negate))

    def on_time_range_picked(self, message: TimeRangePicked) -> None:
        text = add_term(self.query_text, "after", _iso(message.start))
        self._set_query(add_term(text, "before", _iso(message.end)))

    def _set_query(self, text: str) -> None:
        if self.apply_query(text):
            self.query_one(QueryLine).set_text(text)

    def on_query_submitted(self, message: QuerySubmitted) -> None:
        if self.apply_query(message.text):
            self.action_focus_table()

    def on_toggle_mark(self, message: ToggleMark) -> None:
        self.marks.symmetric_difference_update({message.row})
        if self.marked_only:
            self.refresh_views()
        else:
            self.query_one(EventTableView).refresh()

    def on_open_event(self, message: OpenEvent) -> None:
        """One drill-down screen, built once and re-used: opening an event stays fast."""
        if self.is_screen_installed("drilldown"):
            self.get_screen("drilldown").show_event(self.table, message.row)
        else:
            self.install_screen(DrilldownScreen(self.table, message.row, self.marks), "drilldown")
        self.push_screen("drilldown")

    def on_load_progress(self, message: LoadProgress) -> None:
        self.query_one(StatusLine).loading(message.info)

    def on_load_finished(self, message: LoadFinished) -> None:
        self.loading = False
        self.report = message.report
        _freeze_heap()
        self.query_one(StatusLine).finished(message.report)
        if wants_banner(self.sources, message.report.notes) and not self.query(LookupBanner):
            self.query_one("#centre").mount(LookupBanner(), before=0)
        for error in message.report.errors[:5]:
            self.notify(printable(error), severity="error", markup=False)
        if message.report.skipped:   # digest files are routinely skipped: one toast, not one each
            path, reason = message.report.skipped[0]
            self.notify(printable(f"{len(message.report.skipped)} files skipped, e.g. "
                                  f"{Path(path).name}: {reason}"), severity="warning", markup=False)

    # -- actions ------------------------------------------------------------------
    def action_focus_query(self) -> None:
        self.query_one(QueryLine).input.focus()

    def action_focus_table(self) -> None:
        self.query_one(EventTableView).focus()

    def action_focus_timeline(self) -> None:
        self.query_one(TimelinePane).focus()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_cycle_facet(self) -> None:
        self.query_one(FacetColumn).cycle()

    def action_toggle_marked_only(self) -> None:
        self.marked_only = not self.marked_only
        self.refresh_views()

    def action_export(self) -> None:
        self.push_screen(ExportDialog(self.table, self.order, self.query_text, self.marks))

    def action_coverage(self) -> None:
        """Is data-event logging on for the loaded tables? (AWS read-only calls, in a worker.)"""
        self.push_screen(CoverageScreen(self.opts, list(self.table.table_names)))

    def action_cancel_load(self) -> None:
        if self.loading:
            self.cancel.set()
            self.notify("cancelling load: keeping what was read", timeout=3)


def _freeze_heap() -> None:
    """Hide the loaded table from the cyclic GC.  Its string columns hold millions of
    references that every full collection walked: 40-90 ms pauses landing on random
    keystrokes.  Reference counting still frees it; collecting first means no cyclic
    garbage (earlier partial tables) is frozen with it."""
    gc.collect()
    gc.freeze()


def _iso(moment) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def run_console(specs: list[str], opts: LoadOptions, demo: bool = False) -> None:
    """Entry point of `ddbtrail demo` and `ddbtrail open`."""
    if demo:
        from loaders.demo import demo_dir
        specs = [str(demo_dir())]
    DdbTrailApp(specs, opts).run()
