"""Facet panes: frequency lists of one column for the current query.

Counts come from `ddbtrail.views.facet_counts`; a pick becomes an `AddTerm` so the query
line stays the whole truth of what is shown.  Panes are Line-API lists (like the event
table) because they are recounted and repainted on every query change.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rich.segment import Segment
from textual.containers import Vertical
from textual.strip import Strip

from ddbtrail import views
from ddbtrail.events import EventTable
from ddbtrail.text import printable
from tui.actions import bindings
from tui.event_table import LineList, fit
from tui.messages import AddTerm

#: How many values a pane lists; the rest are one query away.
TOP_VALUES = 200


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
NONE_LABEL = "(none)"


class FacetPane(LineList):
    """One facet: "count value" lines, highest count first."""

    BINDINGS = bindings("facets")
    COMPONENT_CLASSES = {"facet--count", "facet--none", "facet--cursor"}
    DEFAULT_CSS = """
    FacetPane > .facet--count { text-style: bold; }
    FacetPane > .facet--none { text-style: italic; color: $text-muted; }
    FacetPane > .facet--cursor { background: $accent 30%; }
    FacetPane:focus > .facet--cursor { background: $accent; color: $text; }
    """

    def __init__(self, facet: Facet, **kwargs):
        super().__init__(**kwargs)
        self.facet = facet
        self.counts: list[tuple[str, int]] = []
        self.labels: list[str] = []
        self.border_title = facet.title

    @property
    def values(self) -> list[str]:
        return [value for value, _ in self.counts]

    def show(self, table: EventTable, mask: np.ndarray) -> None:
        """Recount for this query, keeping the cursor on its value where it still appears."""
        keep = self.highlighted_value
        self.counts = views.facet_counts(table, mask, self.facet.column, limit=TOP_VALUES)
        self.labels = [printable(value) for value, _ in self.counts]
        self.border_title = self.facet.title
        count = len(self.counts)
        self.border_subtitle = (f"{count} value{'' if count == 1 else 's'}" if count < TOP_VALUES
                                else f"top {TOP_VALUES}")
        values = self.values
        self.lines_changed(values.index(keep) if keep in values else 0)

    def line_count(self) -> int:
        return len(self.counts)

    @property
    def highlighted_value(self) -> str | None:
        return self.counts[self.cursor][0] if 0 <= self.cursor < len(self.counts) else None

    def _pick(self, negate: bool) -> None:
        value = self.highlighted_value
        if value is not None:
            self.post_message(AddTerm(self.facet.field, value, negate))

    def action_include(self) -> None:
        self._pick(False)

    def action_exclude(self) -> None:
        self._pick(True)

    def render_line(self, y: int) -> Strip:
        """The count, then the value made printable; ARNs are cut at the front, others at the end."""
        width = self.scrollable_content_region.width
        position = self.line_at(y)
        base = self._styles["base"]
        if position >= len(self.counts):
            return Strip.blank(width, base)
        if position == self.cursor:
            base += self._styles["facet--cursor"]
        count_width = len(f"{self.counts[0][1]:,}")
        value, count = self.counts[position]
        room = max(1, width - count_width - 2)
        label = fit(self.labels[position], room, keep_end=self.facet.keep_end) if value else fit(NONE_LABEL, room)
        return Strip([Segment(f" {count:>{count_width},} ", base + self._styles["facet--count"]),
                      Segment(label, base + self._styles["facet--none"] if not value else base)],
                     width).crop_extend(0, width, base)


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
        if self._last is not None:
            lower.show(*self._last)
