"""The virtual event table: renders only the rows on screen, so a million rows cost nothing.

It is a Line-API `ScrollView`: `render_line(y)` materialises one visible row from per-column
code arrays cached once per table.  Record strings pass through `ddbtrail.text.printable`
once per distinct value (categories), never per row, and are emitted as literal Segments.
"""
from __future__ import annotations

import numpy as np
from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from textual import events
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ddbtrail import views
from ddbtrail.events import EventTable
from ddbtrail.text import printable
from tui.actions import bindings
from tui.messages import OpenEvent, ToggleMark

#: (column, header, minimum width, flexible); columns drop from the end when space runs
#: out.  Who / what / which table come first (the question every investigation asks);
#: error rows are coloured, so the error column can go before the table does.
COLUMNS = [
    ("time", "time (UTC)", 19, False),
    ("operation", "operation", 14, False),
    ("principal", "principal", 10, True),
    ("tables", "table", 14, False),
    ("error", "error", 12, False),
    ("ip", "ip", 15, False),
]
SORT_COLUMNS = [c[0] for c in COLUMNS]
#: Below this width times drop the year ("11-20 09:00:00") to leave room for the table column.
SHORT_TIME_BELOW = 100


class _Column:
    """Codes and printable labels of one categorical column (built once per table)."""

    def __init__(self, series):
        self.codes = series.cat.codes.to_numpy()
        self.labels = [printable(str(v)) for v in series.cat.categories]

    def label(self, row: int) -> str:
        code = self.codes[row]
        return self.labels[code] if code >= 0 else ""


class LineList(ScrollView, can_focus=True):
    """A cursor over `line_count()` lines below `HEADER` fixed lines, rendered on demand.

    Shared by the event table and the facet panes: only visible lines are ever built, so
    a million rows or ten thousand facet values cost the same to show.
    """

    HEADER = 0

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.cursor = 0
        self._styles: dict = {}    # resolved once per paint

    def line_count(self) -> int:
        raise NotImplementedError

    def lines_changed(self, cursor: int = 0) -> None:
        """The lines were replaced: resize the scroll area and put the cursor at `cursor`."""
        self.virtual_size = Size(0, self.line_count() + self.HEADER)
        self.cursor = -1
        self._move_to(cursor)

    def _move_to(self, position: int) -> None:
        position = max(0, min(position, self.line_count() - 1))
        self.cursor = position
        page = max(1, self.scrollable_content_region.height - self.HEADER)
        top = int(self.scroll_offset.y)
        if not self.scrollable_content_region.height:
            pass    # not laid out yet (a query applied at startup): on_resize scrolls to it
        elif position < top:
            self.scroll_to(y=position, animate=False, immediate=True)
        elif position >= top + page:
            self.scroll_to(y=position - page + 1, animate=False, immediate=True)
        self.refresh()

    def line_at(self, y: int) -> int:
        """Index of the line drawn at screen line `y` (below the header)."""
        return int(self.scroll_offset.y) + y - self.HEADER

    def action_move(self, delta: int) -> None:
        self._move_to(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        self._move_to(self.cursor + direction * max(1, self.scrollable_content_region.height - self.HEADER - 1))

    def action_first(self) -> None:
        self._move_to(0)

    def action_last(self) -> None:
        self._move_to(self.line_count() - 1)

    def on_click(self, event: events.Click) -> None:
        """Mouse is optional: a click puts the cursor on the clicked line."""
        offset = event.get_content_offset(self)
        if offset is not None and offset.y >= self.HEADER:
            self._move_to(self.line_at(offset.y))

    def render_lines(self, crop):
        """Resolve the component styles once per paint, not once per line (~0.7 ms each)."""
        self._styles = {name: self.get_component_rich_style(name) for name in self.COMPONENT_CLASSES}
        self._styles["base"] = self.rich_style
        return super().render_lines(crop)

    def on_resize(self) -> None:
        self.virtual_size = Size(0, self.line_count() + self.HEADER)
        self._move_to(self.cursor)


class EventTableView(LineList):
    """Rows of `order` (indexes into the table), one line each, below a fixed header line."""

    HEADER = 1
    BINDINGS = bindings("table")
    COMPONENT_CLASSES = {"event-table--header", "event-table--cursor", "event-table--error",
                         "event-table--marked"}
    DEFAULT_CSS = """
    EventTableView { height: 1fr; }
    EventTableView > .event-table--header { text-style: bold; background: $panel; }
    EventTableView > .event-table--cursor { background: $accent 40%; }
    EventTableView:focus > .event-table--cursor { background: $accent; color: $text; }
    EventTableView > .event-table--error { color: $error; }
    EventTableView > .event-table--marked { color: $warning; text-style: bold; }
    """

    def __init__(self, marks: set[int], **kwargs):
        super().__init__(**kwargs)
        self.marks = marks
        self.table: EventTable | None = None
        self.mask: np.ndarray | None = None
        self.order = np.empty(0, dtype=np.int64)
        self.sort_column = "time"
        self.descending = False
        self._columns: dict[str, _Column] = {}
        self._times = np.empty(0, dtype="datetime64[s]")
        self._layout: list[tuple[str, str, int]] = []

    # -- data ---------------------------------------------------------------------
    def show(self, table: EventTable, mask: np.ndarray) -> None:
        """Display the rows of `table` selected by `mask`, in the current sort order."""
        if table is not self.table:
            self.table = table
            self._columns = {c: _Column(table.df[c]) for c, *_ in COLUMNS if c != "time"}
            self._times = table.df["time"].dt.tz_convert(None).to_numpy().astype("datetime64[s]")
        self.mask = mask
        self._resort(keep_row=self.current_row)

    def _resort(self, keep_row: int | None) -> None:
        self.order = np.asarray(views.sorted_rows(self.table, self.mask, self.sort_column,
                                                  self.descending))
        where = np.flatnonzero(self.order == keep_row) if keep_row is not None else []
        self.lines_changed(int(where[0]) if len(where) else 0)

    @property
    def current_row(self) -> int | None:
        """Table row under the cursor, or None when nothing is shown."""
        return int(self.order[self.cursor]) if 0 <= self.cursor < len(self.order) else None

    # -- cursor -------------------------------------------------------------------
    def line_count(self) -> int:
        return len(self.order)

    def _jump_error(self, start: int, direction: int) -> None:
        position = views.next_error_row(self.table, self.order, start, direction)
        if position is None:
            self.notify("No more errors in this direction", timeout=2)
        else:
            self._move_to(position)

    def action_next_error(self) -> None:
        self._jump_error(self.cursor, 1)

    def action_previous_error(self) -> None:
        self._jump_error(self.cursor, -1)

    def action_first_error(self) -> None:
        self._jump_error(-1, 1)

    def action_last_error(self) -> None:
        self._jump_error(len(self.order), -1)

    def action_cycle_sort(self) -> None:
        self.sort_column = SORT_COLUMNS[(SORT_COLUMNS.index(self.sort_column) + 1) % len(SORT_COLUMNS)]
        self._resort(keep_row=self.current_row)

    def action_reverse_sort(self) -> None:
        self.descending = not self.descending
        self._resort(keep_row=self.current_row)

    def action_open(self) -> None:
        if self.current_row is not None:
            self.post_message(OpenEvent(self.current_row))

    def action_mark(self) -> None:
        if self.current_row is not None:
            self.post_message(ToggleMark(self.current_row))
            self._move_to(self.cursor + 1)

    # -- rendering ------------------------------------------------------------------
    def layout(self, width: int) -> list[tuple[str, str, int]]:
        """(column, header, width) that fit in `width`; the principal column takes the slack."""
        fitted = list(COLUMNS)
        if width < SHORT_TIME_BELOW:
            fitted[0] = ("time", "time (UTC)", 14, False)
        while len(fitted) > 1 and 2 + sum(c[2] + 1 for c in fitted) > width:
            fitted.pop()
        slack = max(0, width - 2 - sum(c[2] + 1 for c in fitted))
        return [(c, h, w + (slack if flex else 0)) for c, h, w, flex in fitted]

    def cells(self, row: int) -> list[str]:
        """The visible texts of one row, fitted to the columns of the current paint."""
        out = []
        for column, _, w in self._layout:
            if column == "time":
                text = str(self._times[row]).replace("T", " ")[-w:]
            else:
                text = self._columns[column].label(row)
            out.append(fit(text, w, keep_end=column == "principal"))
        return out

    def render_lines(self, crop):
        self._layout = self.layout(self.scrollable_content_region.width)
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if y == 0:
            style = self._styles["event-table--header"]
            text = "  " + " ".join(fit(h, w) for _, h, w in self._layout)
            return Strip([Segment(fit(text, width), style)], width)
        position = self.line_at(y)
        if position >= len(self.order):
            return Strip.blank(width, self._styles["base"])
        row = int(self.order[position])
        marked = row in self.marks
        style = self._styles["base"]
        if self._columns["error"].label(row):
            style += self._styles["event-table--error"]
        if marked:
            style += self._styles["event-table--marked"]
        if position == self.cursor:
            style += self._styles["event-table--cursor"]
        text = ("* " if marked else "  ") + " ".join(self.cells(row))
        return Strip([Segment(fit(text, width), style)], width)



def fit(text: str, width: int, keep_end: bool = False) -> str:
    """Pad or cut `text` to exactly `width` cells; long ARNs keep their informative tail."""
    if cell_len(text) <= width:
        return set_cell_size(text, width)
    if keep_end and width > 1:
        tail = text[-(width - 1):]
        while cell_len(tail) > width - 1:
            tail = tail[1:]
        return set_cell_size("…" + tail, width)
    return set_cell_size(text, width - 1) + "…"
