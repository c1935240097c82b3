"""The coverage screen: is DynamoDB data-event logging on, and for which tables?

Before trusting "nobody read that table", a responder must know whether reads were logged
at all.  The check (read-only trail and event-selector calls) and its wording live in the
core and loaders; this screen runs it in a worker, since AWS calls can take seconds, and
shows the text the CLI's `ddbtrail coverage` prints.
"""
from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Label, Static

from ddbtrail.coverage import analyse, render_text
from ddbtrail.text import printable
from loaders import LoadOptions
from tui.actions import bindings


class CoverageScreen(Screen):
    """Trail and event-selector coverage for the loaded tables."""

    BINDINGS = bindings("coverage")
    DEFAULT_CSS = """
    CoverageScreen #heading { text-style: bold; color: $accent; padding: 0 1; }
    CoverageScreen #report { padding: 0 1; }
    """

    def __init__(self, opts: LoadOptions, tables: list[str]) -> None:
        super().__init__()
        self.opts = opts
        self.tables = tables

    def compose(self) -> ComposeResult:
        yield Label("Data-event logging coverage", id="heading")
        with VerticalScroll():
            yield Static(Text("asking CloudTrail which trails log DynamoDB data events…",
                              style="italic"), id="report", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.check()

    @work(thread=True, exclusive=True)
    def check(self) -> None:
        from loaders.coverage import fetch_coverage   # boto3: not on the console's start-up path
        try:
            text = render_text(analyse(**fetch_coverage(self.opts, self.tables)))
            style = ""
        except Exception as error:   # any AWS/credential failure is shown, never a crash
            text, style = f"could not check coverage: {printable(str(error))}", "red"
        self.app.call_from_thread(self._show, Text(text, style=style))

    def _show(self, report: Text) -> None:
        self.query_one("#report", Static).update(report)

    def action_close(self) -> None:
        self.dismiss()
