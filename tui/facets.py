"""Facet panes: frequency lists of one column for the current query.

Counts come from `ddbtrail.views.facet_counts`; a pick becomes an `AddTerm` so the query
line stays the whole truth of what is shown.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rich.cells import cell_len
from rich.text import Text
from textual.containers import Vertical
from textual.widgets import OptionList

from ddbtrail import views
from ddbtrail.events import EventTable
from ddbtrail.text import printable
from tui.event_table import fit
from tui.actions import bindings
from tui.messages import AddTerm

#: How many values a pane lists; the rest are one query away.
TOP_VALUES = 50


@dataclass(frozen=True)
class Facet:
    title: str
    column: str   # event-table column
    field: str    # query-language field
    keep_end: bool = False   # ARNs: the role or user name at the end is what identifies them


FACETS = [
    Facet("principal", "principal", "principal", keep_end=True),
    Facet("table", "tables", "table"),
    Facet("operation", "operation", "op"),
]
#: The fourth pane cycles through these with one key.
LOWER_FACETS = [
    Facet("error", "error", "error"),
    Facet("ip", "ip", "ip"),
    Facet("user agent", "user_agent", "ua"),
    Facet("region", "region", "region"),
]


class FacetPane(OptionList):
    """One facet: "count value" lines, highest count first."""

    BINDINGS = bindings("facets")

    def __init__(self, facet: Facet, **kwargs):
        super().__init__(markup=False, **kwargs)
        self.facet = facet
        self.values: list[str] = []
        self.counts: list[tuple[str, int]] = []
        self.border_title = facet.title

    def show(self, table: EventTable, mask: np.ndarray) -> None:
        """Recount for this query, keeping the highlighted value where it still appears."""
        keep = self.highlighted_value
        self.counts = views.facet_counts(table, mask, self.facet.column, limit=TOP_VALUES)
        self.values = [value for value, _ in self.counts]
        self.border_title = self.facet.title
        self.border_subtitle = (f"{len(self.counts)} values" if len(self.counts) < TOP_VALUES
                                else f"top {TOP_VALUES}")
        self._paint(self.values.index(keep) if keep in self.values else 0)

    def _paint(self, highlighted: int | None) -> None:
        width = len(f"{self.counts[0][1]:,}") if self.counts else 1
        room = self.scrollable_content_region.width - width - 1
        self.set_options([_line(value, n, width, room if self.facet.keep_end else 0)
                          for value, n in self.counts])
        if self.values:
            self.highlighted = highlighted

    def on_resize(self) -> None:
        self._paint(self.highlighted)

    @property
    def highlighted_value(self) -> str | None:
        h = self.highlighted
        return self.values[h] if h is not None and h < len(self.values) else None

    def _pick(self, negate: bool) -> None:
        value = self.highlighted_value
        if value is not None:
            self.post_message(AddTerm(self.facet.field, value, negate))

    def action_include(self) -> None:
        self._pick(False)

    def action_exclude(self) -> None:
        self._pick(True)


def _line(value: str, count: int, width: int, tail_room: int) -> Text:
    """A facet line as literal text: the count, then the value made printable (cut to its
    last `tail_room` cells when that is set; otherwise the pane's ellipsis cuts the end)."""
    text = printable(value)
    if 0 < tail_room < cell_len(text):
        text = fit(text, tail_room, keep_end=True)
    label = Text(text) if value else Text("(none)", style="dim italic")
    return Text.assemble((f"{count:>{width},} ", "bold"), label, no_wrap=True, overflow="ellipsis")


class FacetColumn(Vertical):
    """The left column: principal, table, operation and one cycling lower facet."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.lower_index = 0
        self._last: tuple[EventTable, np.ndarray] | None = None

    def compose(self):
        for facet in FACETS:
            yield FacetPane(facet, id=f"facet-{facet.column}")
        yield FacetPane(LOWER_FACETS[0], id="facet-lower")

    @property
    def panes(self) -> list[FacetPane]:
        return list(self.query(FacetPane))

    def show(self, table: EventTable, mask: np.ndarray) -> None:
        self._last = (table, mask)
        for pane in self.panes:
            pane.show(table, mask)

    def cycle(self) -> None:
        """Switch the lower pane to the next of error, ip, user agent, region."""
        self.lower_index = (self.lower_index + 1) % len(LOWER_FACETS)
        lower = self.query_one("#facet-lower", FacetPane)
        lower.facet = LOWER_FACETS[self.lower_index]
        lower.border_title = lower.facet.title
        if self._last is not None:
            lower.show(*self._last)
