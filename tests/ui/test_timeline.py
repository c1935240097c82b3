"""The timeline pane: bars per bucket as the core counts them, the brush (keys and mouse)
turning into after:/before:, zoom, principal lanes, hostile names drawn literally."""
from __future__ import annotations

import numpy as np
import pandas as pd
from rich.text import Text
from textual.app import App

from ddbtrail import views
from tests.ui.conftest import ROLE, incident_rows, make_table
from tui.actions import help_rows
from tui.app import DdbTrailApp
from tui.messages import TimeRangePicked
from tui.query_line import QueryLine
from tui.timeline import TimelinePane


class Host(App):
    """A timeline alone, showing every row of `table`; keeps the ranges it picked."""

    def __init__(self, table) -> None:
        super().__init__()
        self.table = table
        self.picked: list[TimeRangePicked] = []

    def compose(self):
        yield TimelinePane()

    def on_mount(self) -> None:
        pane = self.query_one(TimelinePane)
        pane.show(self.table, np.ones(len(self.table), dtype=bool))
        pane.focus()

    def on_time_range_picked(self, message: TimeRangePicked) -> None:
        self.picked.append(message)


def lines(pane: TimelinePane) -> list[Text]:
    return pane.render().split("\n")


def style_at(line: Text, x: int) -> str:
    return " ".join(str(span.style) for span in line.spans if span.start <= x < span.end)


async def test_bars_show_the_buckets_the_core_counts(incident_table):
    app = Host(incident_table)
    async with app.run_test(size=(100, 12)) as pilot:
        pane = app.query_one(TimelinePane)
        bars = pane.bars()
        assert bars.counts.sum() == len(incident_table)
        bottom, brush = lines(pane)[-4:-2]
        x = lambda bucket: pane.label_width + int(pane.bucket_starts()[bucket])
        for i, n in enumerate(bars.counts):
            cell = bottom.plain[x(i)]
            assert (cell != " ") == (n > 0), f"bucket {i} holds {n} events, drawn {cell!r}"
        errors = np.flatnonzero(bars.error)
        assert len(errors) and all("red" in style_at(bottom, x(i)) for i in errors)
        assert brush.plain.index("▲") == x(pane.cursor)
        assert "read" in lines(pane)[-1].plain and "buckets" in lines(pane)[-1].plain


async def test_key_brush_adds_after_before_that_select_exactly_those_buckets(incident_table):
    app = DdbTrailApp([], table=incident_table)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(TimelinePane)
        pane.focus()
        bars = pane.bars()
        await pilot.press("right_square_bracket", "right_square_bracket", "space",
                          "right_square_bracket", "right_square_bracket", "enter")
        await pilot.pause()
        start, end = bars.edges[2], bars.edges[5]
        text = app.query_text
        assert f"after:{start:%Y-%m-%dT%H:%M:%S}" in text and f"before:{end:%Y-%m-%dT%H:%M:%S}" in text
        assert app.query_one(QueryLine).input.value == text
        assert int(app.mask.sum()) == int(bars.counts[2:5].sum())


async def test_mouse_drag_brushes_a_range(incident_table):
    app = Host(incident_table)
    async with app.run_test(size=(100, 12)) as pilot:
        pane = app.query_one(TimelinePane)
        edges = pane.bars().edges
        x = lambda bucket: pane.label_width + int(pane.bucket_starts()[bucket])
        await pilot.mouse_down(TimelinePane, offset=(x(10), 3))
        await pilot.hover(TimelinePane, offset=(x(4), 3))
        await pilot.mouse_up(TimelinePane, offset=(x(4), 3))
        await pilot.pause()
        assert [(m.start, m.end) for m in app.picked] == [(edges[4], edges[11])]


async def test_zoom_in_shows_finer_buckets_and_zoom_out_returns_to_the_whole_range(incident_table):
    app = Host(incident_table)
    async with app.run_test(size=(100, 12)) as pilot:
        pane = app.query_one(TimelinePane)
        whole = pane.bars()
        await pilot.press("right_square_bracket", "plus")
        once = pane.bars()
        span = lambda bars: bars.edges[-1] - bars.edges[0]
        assert whole.edges[0] <= once.edges[0] and span(once) < span(whole) * 0.6
        assert once.counts.sum() < whole.counts.sum()
        await pilot.press("plus")
        assert pane.bars().bucket < whole.bucket
        await pilot.press("minus", "minus", "minus")
        assert pane.window is None and pane.bars().bucket == whole.bucket


async def test_lanes_show_top_principals_literally(tmp_path):
    hostile = "[bold red]Evil\x1b]0;pwned\x07"
    rows = incident_rows() + [{"time": "2026-11-21T03:00:00Z", "operation": "Scan",
                               "principal": ROLE + hostile, "tables": ("Orders",)}]
    table = make_table(rows)
    app = Host(table)
    async with app.run_test(size=(100, 12)) as pilot:
        pane = app.query_one(TimelinePane)
        await pilot.press("l")
        shown = [line.plain for line in lines(pane)]
        assert pane.principal_lanes().principals[:2] == [ROLE + "OrdersService", ROLE + "ReportingJob"]
        assert shown[0].split("│")[0].strip().endswith("OrdersService")
        assert shown[1].split("│")[0].strip().endswith("ReportingJob")
        assert any("Evil␛]0;pwned␇" in line for line in shown)
        assert not any("\x1b" in line or "\x07" in line for line in shown)
        await pilot.press("l")
        assert "lanes" not in lines(pane)[-1].plain


async def test_fits_a_narrow_pane_and_says_when_nothing_matches(incident_table):
    app = Host(incident_table)
    async with app.run_test(size=(50, 6)) as pilot:
        pane = app.query_one(TimelinePane)
        assert all(line.cell_len <= 50 for line in lines(pane))
        pane.show(incident_table, np.zeros(len(incident_table), dtype=bool))
        assert "no events" in pane.render().plain


async def test_keyboard_reaches_the_timeline_and_help_lists_its_keys(incident_table):
    app = DdbTrailApp([], table=incident_table)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("T")
        assert isinstance(app.focused, TimelinePane)
        await pilot.press("l")
        assert app.focused.lanes
        keys = {(scope, key) for scope, key, _ in help_rows()}
        assert {("timeline", "+, ="), ("timeline", "-"), ("timeline", "[, left"),
                ("timeline", "space, b"), ("timeline", "l"), ("app", "T")} <= keys
