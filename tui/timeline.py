"""The timeline pane: when did things happen, and who was active when.

Bars stack read / write / error calls per bucket (errors at the bottom so a single
AccessDenied stays visible); `l` switches to one lane per top principal.  The brush (keys
or mouse drag) never filters by itself: it posts `TimeRangePicked`, the app turns that
into after:/before: terms, and the query line stays the whole truth of what is shown.
Buckets, counts and lanes come from `ddbtrail.views`; this module only draws them.
"""
from __future__ import annotations

import re
from itertools import groupby

import numpy as np
import pandas as pd
from rich.cells import cell_len
from rich.segment import Segment
from rich.text import Text
from textual import events
from textual.strip import Strip
from textual.widget import Widget

from ddbtrail import views
from ddbtrail.events import EventTable
from ddbtrail.text import printable
from tui.actions import bindings
from tui.event_table import fit
from tui.messages import TimeRangePicked

_PARTIAL = " ▁▂▃▄▅▆▇█"
_SHADES = " ░▒▓█"
_READ, _WRITE, _ERROR = "dodger_blue2", "dark_orange", "red1"


def _short_count(n: int) -> str:
    """4-character axis label for a bar height."""
    if n >= 1_000_000:
        return f"{n / 1e6:.1f}M"
    if n >= 10_000:
        return f"{n // 1000}k"
    if n >= 1000:
        return f"{n / 1000:.1f}k"
    return str(n)


def _duration(seconds: float) -> str:
    """A bucket size as people say it: 30s, 5m, 2h, 1d."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def _time_label(t: pd.Timestamp, bucket_s: float, with_date: bool) -> str:
    if bucket_s >= 86400:
        return t.strftime("%m-%d")
    fmt = "%H:%M:%S" if bucket_s < 60 else "%H:%M"
    return t.strftime(("%m-%d " if with_date else "") + fmt)


class _Plot:
    """What the pane draws for one data, size and zoom (see `TimelinePane.plot`)."""

    def __init__(self, key, bars: views.Timeline, lanes: views.Lanes | None, starts: np.ndarray):
        self.key, self.bars, self.lanes, self.starts = key, bars, lanes, starts
        self.rows: list[Text] = []
        self.axis = Text()


class TimelinePane(Widget, can_focus=True):
    """Stacked bars (or principal lanes) of the events the current query shows."""

    BINDINGS = bindings("timeline")
    DEFAULT_CSS = """
    TimelinePane { height: 10; min-height: 5; }
    TimelinePane:focus { background: $boost; }
    """

    def __init__(self, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.table: EventTable = EventTable.empty()
        self.mask = np.zeros(0, dtype=bool)
        self.window: tuple[pd.Timestamp, pd.Timestamp] | None = None   # None: fit the data
        self.extent: tuple[pd.Timestamp, pd.Timestamp] | None = None   # the data's range
        self.cursor = 0
        self.brush_start: int | None = None
        self.lanes = False
        self._dragging = False
        self._plot: _Plot | None = None   # bars, lanes and drawn rows for one size and zoom
        self._strips: tuple[tuple, list[Strip]] | None = None   # (state drawn, lines)

    # -- what the app calls ------------------------------------------------------
    def show(self, table: EventTable, mask: np.ndarray) -> None:
        """Draw the events of `mask`; a new query resets zoom and selection."""
        self.table, self.mask = table, mask
        self.window, self.brush_start, self._plot = None, None, None
        self.cursor = 0
        self.refresh()

    # -- data --------------------------------------------------------------------
    @property
    def plot_width(self) -> int:
        return max(1, self.size.width - self.label_width)

    @property
    def label_width(self) -> int:
        """Columns left of the plot: a count scale, or principal names in lane mode."""
        return min(24, max(10, self.size.width // 5)) if self.lanes else 6

    def plot(self) -> _Plot:
        """Buckets, lanes and the drawn plot rows and axis, computed once per data, size and
        zoom: moving the cursor or brush then only redraws the brush and status lines."""
        key = (self.size, self.window, self.lanes)
        if self._plot is None or self._plot.key != key:
            start, end = self.window if self.window else (None, None)
            bars = views.timeline(self.table, self.mask, start=start, end=end,
                                  target_buckets=self.plot_width)
            lanes = (views.principal_lanes(self.table, self.mask, top=max(1, self.size.height - 3),
                                           start=start, end=end, target_buckets=self.plot_width)
                     if self.lanes else None)
            count = len(bars.counts)
            starts = np.arange(count + 1) * max(self.plot_width, count) // max(count, 1)
            self._plot = _Plot(key, bars, lanes, starts)
            if self.window is None and count:
                self.extent = (bars.edges[0], bars.edges[-1])
            self.cursor = min(self.cursor, max(0, count - 1))
            if count:
                rows = max(1, self.size.height - 3)
                self._plot.rows = self._lane_lines(rows) if self.lanes else self._bar_lines(bars, rows)
                self._plot.axis = self._fit(self._axis(bars))
        return self._plot

    def bars(self) -> views.Timeline:
        """The `views.timeline` of the visible window, cached per size and zoom."""
        return self.plot().bars

    def principal_lanes(self) -> views.Lanes:
        return self.plot().lanes

    def selection(self) -> tuple[int, int]:
        """Bucket indexes [first, last] of the brush (just the cursor bucket before one starts)."""
        start = self.cursor if self.brush_start is None else self.brush_start
        return min(start, self.cursor), max(start, self.cursor)

    def selected_range(self) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        bars = self.bars()
        if not len(bars.counts):
            return None
        first, last = self.selection()
        return bars.edges[first], bars.edges[last + 1]

    # -- actions -----------------------------------------------------------------
    def action_move_cursor(self, step: int) -> None:
        self.cursor = int(np.clip(self.cursor + step, 0, max(0, len(self.bars().counts) - 1)))
        self.refresh()

    def action_anchor(self) -> None:
        self.brush_start = self.cursor if self.brush_start is None else None
        self.refresh()

    def action_clear_selection(self) -> None:
        self.brush_start = None
        self.refresh()

    def action_pick(self) -> None:
        picked = self.selected_range()
        if picked is not None:
            self.brush_start = None
            self.post_message(TimeRangePicked(*picked))

    def action_zoom_in(self) -> None:
        """Halve the visible range around the cursor bucket."""
        self._zoom(2)

    def action_zoom_out(self) -> None:
        """Double the visible range; back to fitting the data once it covers it all."""
        if self.window is not None:
            self._zoom(0.5)

    def _zoom(self, factor: float) -> None:
        """Zoom around the cursor bucket, keeping the window inside the data's extent."""
        bars = self.bars()
        if not len(bars.counts):
            return
        keep = bars.edges[self.cursor] + bars.bucket / 2
        lo, hi = views.zoom((bars.edges[0], bars.edges[-1]), factor, keep)
        first, last = self.extent
        if hi - lo >= last - first:
            self.window = None
        else:
            shift = max(first - lo, pd.Timedelta(0)) - max(hi - last, pd.Timedelta(0))
            self.window = (lo + shift, hi + shift)
        self.brush_start, self._plot = None, None
        bars = self.bars()
        self.cursor = int(np.clip(np.searchsorted(bars.edges, keep, side="right") - 1,
                                  0, max(0, len(bars.counts) - 1)))
        self.refresh()

    def action_toggle_lanes(self) -> None:
        self.lanes = not self.lanes
        self._plot = None
        self.refresh()

    # -- mouse brush -------------------------------------------------------------
    def _bucket_at(self, event: events.MouseEvent) -> int | None:
        offset = event.get_content_offset(self)
        count = len(self.bars().counts)
        if offset is None or not count:
            return None
        column = offset.x - self.label_width
        return int(np.clip(np.searchsorted(self.bucket_starts(), column, side="right") - 1, 0, count - 1))

    def on_mouse_down(self, event: events.MouseDown) -> None:
        bucket = self._bucket_at(event)
        if bucket is not None:
            self.brush_start = self.cursor = bucket
            self._dragging = True
            self.capture_mouse()
            self.refresh()

    def on_mouse_move(self, event: events.MouseMove) -> None:
        if self._dragging:
            bucket = self._bucket_at(event)
            if bucket is not None and bucket != self.cursor:
                self.cursor = bucket
                self.refresh()

    def on_mouse_up(self, event: events.MouseUp) -> None:
        if self._dragging:
            self._dragging = False
            self.release_mouse()
            self.action_pick()

    # -- drawing -----------------------------------------------------------------
    def bucket_starts(self) -> np.ndarray:
        """First plot column of each bucket, plus the end.  Bucket sizes come from a fixed
        ladder, so buckets are spread over the whole width (some one column wider)."""
        return self.plot().starts

    def render(self) -> Text:
        plot = self.plot()
        height = self.size.height
        if not len(plot.bars.counts):
            return Text("no events in this range", style="dim")
        rows, brush = plot.rows, self._brush_line(plot.bars)
        if self.has_focus:      # the cursor bucket shows reversed while the pane has focus
            first, last = plot.starts[self.cursor:self.cursor + 2] + self.label_width
            rows = [row.copy() for row in rows]
            for line in (*rows, brush):
                line.stylize("reverse", int(first), int(last))
        lines = [*rows, brush, plot.axis, self._fit(self._status(plot.bars))]
        return Text("\n").join(lines[-height:] if height else lines)

    def render_line(self, y: int) -> Strip:
        """A line of `render()`, the lines made once per state: Rich turns the bars' hundreds
        of spans into strips ~6x faster than Textual's conversion of a whole Text."""
        base, width = self.rich_style, self.size.width
        state = (self.plot(), self.cursor, self.brush_start, self.has_focus, base)
        if self._strips is None or self._strips[0] != state:
            lines = [Strip(Segment.apply_style(line.render(self.app.console), base))
                     .extend_cell_length(width, base) for line in self.render().split("\n")]
            self._strips = (state, lines)
        lines = self._strips[1]
        return lines[y] if y < len(lines) else Strip.blank(width, base)

    def _fit(self, line: Text) -> Text:
        line.truncate(self.size.width, overflow="ellipsis")
        return line

    def _line(self, label: str, cells, label_style: str = "dim") -> Text:
        """`label`, then each bucket's (char, style) filled to its width; neighbouring equal
        cells become one span, so a mostly empty row costs a few appends, not one per bucket."""
        line = Text(label, style=label_style)
        widths = np.diff(self._plot.starts).tolist()
        for (char, style), run in groupby(zip(cells, widths), key=lambda cell: cell[0]):
            line.append(char * sum(width for _, width in run), style=style)
        return self._fit(line)

    def _bar_lines(self, bars, rows: int) -> list[Text]:
        """Stacked bars at 1/8-cell resolution: a cell where one segment ends and the next
        begins is drawn as a lower block in the lower colour on the upper colour."""
        read, write, error = (np.asarray(a, dtype=np.int64) for a in (bars.read, bars.write, bars.error))
        totals = np.maximum(read + write + error, 1)
        peak = int((read + write + error).max()) or 1
        top = np.ceil((read + write + error) / peak * rows * 8).astype(int)
        # A single failed call still gets one eighth of a cell, so it is never invisible.
        error_top = np.where(error > 0, np.maximum(1, np.round(error / totals * top)), 0)
        write_top = np.maximum(error_top, np.round((error + write) / totals * top))
        tops = np.minimum(np.stack([error_top, write_top, top]), top).astype(int).T.tolist()
        colours = (_ERROR, _WRITE, _READ)
        lines = []
        for row in range(rows - 1, -1, -1):
            label = _short_count(peak) if row == rows - 1 else ("0" if row == 0 else "")
            bottom = row * 8
            cells = []
            for bucket in tops:
                if bucket[2] <= bottom:
                    cells.append((" ", ""))
                    continue
                segment = next(k for k in range(3) if bucket[k] > bottom)
                filled = bucket[segment] - bottom
                above = next((k for k in range(segment + 1, 3) if bucket[k] > bucket[segment]), None)
                if filled >= 8 or above is None:
                    cells.append((_PARTIAL[min(filled, 8)], colours[segment]))
                else:
                    cells.append((_PARTIAL[filled], f"{colours[segment]} on {colours[above]}"))
            lines.append(self._line(label.rjust(self.label_width - 1) + "│", cells))
        return lines

    def _lane_lines(self, rows: int) -> list[Text]:
        lanes = self.principal_lanes()
        lines = []
        for name, counts, errors in zip(lanes.principals[:rows], lanes.counts, lanes.errors):
            peak = int(counts.max()) or 1
            # An ARN's last part names the role or user; the account is in the drill-down.
            label = printable(re.split("[:/]", name)[-1] if name.startswith("arn:") else name)
            label = fit(label, self.label_width - 1, keep_end=True).rstrip()
            label = " " * (self.label_width - 1 - cell_len(label)) + label   # right-aligned by cells
            shades = [_SHADES[int(np.ceil(n / peak * (len(_SHADES) - 1)))] if n else " " for n in counts]
            styles = [_ERROR if failed else _READ for failed in errors]
            lines.append(self._line(label + "│", list(zip(shades, styles))))
        # Keep the time axis at the bottom even with fewer principals than rows.
        return lines + [Text(" " * (self.label_width - 1) + "│", style="dim")] * (rows - len(lines))

    def _brush_line(self, bars) -> Text:
        """▲ under the cursor bucket, ━ under a brushed range."""
        first, last = self.selection()
        brushed = self.brush_start is not None
        marks = ["▲" if i == self.cursor else "━" if brushed and first <= i <= last else " "
                 for i in range(len(bars.counts))]
        return self._line(" " * self.label_width, [(mark, "bold yellow") for mark in marks], label_style="")

    def _axis(self, bars) -> Text:
        """Time labels at bucket edges at least 16 columns apart, the date shown when it changes."""
        bucket_s = bars.bucket.total_seconds()
        starts = self.bucket_starts()
        line = Text(" " * self.label_width, style="dim")
        last_day = None
        for i, x in enumerate(starts[:-1]):
            if x < line.cell_len - self.label_width:
                continue
            t = bars.edges[i]
            label = _time_label(t, bucket_s, with_date=t.date() != last_day)
            last_day = t.date()
            line.append(("┬" + label + "   ")[: int(starts[-1] - x)], style="dim")
        return line

    def _status(self, bars) -> Text:
        first, last = self.selection()
        lo, hi = bars.edges[first], bars.edges[last + 1]
        picked = slice(first, last + 1)
        counts = (int(np.sum(bars.read[picked])), int(np.sum(bars.write[picked])),
                  int(np.sum(bars.error[picked])))
        what = "selection" if self.brush_start is not None else "cursor"
        return Text.assemble(
            ("lanes  " if self.lanes else "", "bold"),
            (f"{_duration(bars.bucket.total_seconds())} buckets ", "bold"),
            (f"{what} {lo:%Y-%m-%d %H:%M:%S}–{hi:%H:%M:%S} ", ""),
            (f"{counts[0]} read ", _READ), (f"{counts[1]} write ", _WRITE),
            (f"{counts[2]} error", _ERROR),
            no_wrap=True, overflow="ellipsis",
        )
