"""Help screen generated from the actions registry, so it lists exactly the keys that work."""
from __future__ import annotations

from rich.table import Table
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.actions import bindings, help_rows

SCOPE_TITLES = {"app": "Anywhere", "facets": "Facet panes", "table": "Event table",
                "query": "Query line", "help": "Help screen", "timeline": "Timeline", "drilldown": "Drill-down",
                "export": "Export dialog", "coverage": "Coverage"}


def help_table() -> Table:
    table = Table(box=None, show_header=False, padding=(0, 2))
    table.add_column("keys", style="bold", no_wrap=True)
    table.add_column("what")
    scope = None
    for row_scope, keys, description in help_rows():
        if row_scope != scope:
            scope = row_scope
            table.add_row("", "")
            table.add_row(SCOPE_TITLES.get(scope, scope), "", style="underline")
        table.add_row(keys, description)
    return table


class HelpScreen(ModalScreen):
    BINDINGS = bindings("help")
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 64; max-width: 100%; height: 90%; border: round $accent;
                                  background: $surface; padding: 0 1; }
    """

    def compose(self):
        with VerticalScroll() as scroll:
            scroll.border_title = "Keys (Esc closes)"
            yield Static(help_table())
