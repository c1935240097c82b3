"""The virtual event table: what rows it shows, sorting, error jumps, marks, open."""
from __future__ import annotations

from conftest import shown
from tui.app import DdbTrailApp
from tui.drilldown import DrilldownScreen
from tui.event_table import EventTableView
from tui.status import StatusLine


def _rows(view: EventTableView) -> list[str]:
    return [line for line in shown(view)[1:] if line.strip()]


async def test_rows_in_time_order_with_header_and_only_visible_lines(incident_table):
    app = DdbTrailApp(["test"], table=incident_table)
    async with app.run_test(size=(140, 40)) as pilot:
        view = app.query_one(EventTableView)
        header = shown(view)[0]
        for title in ("time (UTC)", "operation", "principal", "error", "table", "ip"):
            assert title in header
        rows = _rows(view)
        assert rows[0].lstrip().startswith("2026-11-20 09:00:00")
        assert "OrdersService" in rows[0] and "Query" in rows[0] and "10.0.0.5" in rows[0]
        # 57 events, but only a screenful is materialised
        assert len(view.order) == 57 and len(rows) == view.size.height - 1 < 57
        await pilot.press("G")
        assert "DescribeTable" in _rows(view)[-1] and "AccessDenied" in _rows(view)[-1]


async def test_sort_cycles_columns_and_reverses(incident_table):
    app = DdbTrailApp(["test"], table=incident_table)
    async with app.run_test(size=(140, 40)) as pilot:
        view = app.query_one(EventTableView)
        await pilot.press("s")
        assert view.sort_column == "operation"
        ops = list(incident_table.df["operation"].astype(str).to_numpy()[view.order])
        assert ops == sorted(ops)
        assert "DescribeTable" in _rows(view)[0]
        await pilot.press("r")
        assert "Scan" in _rows(view)[0]


async def test_next_and_previous_error(incident_table):
    app = DdbTrailApp(["test"], table=incident_table)
    async with app.run_test(size=(140, 40)) as pilot:
        view = app.query_one(EventTableView)
        await pilot.press("n")
        first_error = view.current_row
        assert incident_table.df["error"].iat[first_error] == "AccessDenied"
        assert view.order[:view.cursor].tolist() == [r for r in view.order[:view.cursor]
                                                     if incident_table.df["error"].iat[r] == ""]
        await pilot.press("n")
        assert view.current_row == first_error + 1
        await pilot.press("N")
        assert view.current_row == first_error
        await pilot.press("right_square_bracket")
        assert view.cursor == 56                     # the last event is the last denial
        await pilot.press("home", "left_square_bracket")
        assert view.current_row == first_error


async def test_click_moves_the_cursor(incident_table):
    app = DdbTrailApp(["test"], table=incident_table)
    async with app.run_test(size=(140, 40)) as pilot:
        view = app.query_one(EventTableView)
        border = view.content_region.y - view.region.y
        await pilot.click(EventTableView, offset=(5, border + view.HEADER + 3))
        assert view.cursor == 3


async def test_cursor_moves_by_line_and_page(incident_table):
    app = DdbTrailApp(["test"], table=incident_table)
    async with app.run_test(size=(140, 30)) as pilot:
        view = app.query_one(EventTableView)
        await pilot.press("down", "down")
        assert view.cursor == 2
        await pilot.press("pagedown")
        assert view.cursor == 2 + view.size.height - 2
        await pilot.press("end")
        assert view.cursor == 56 and "DescribeTable" in _rows(view)[-1]
        await pilot.press("home")
        assert view.cursor == 0 and view.scroll_offset.y == 0


async def test_marks_and_marked_only(incident_table):
    app = DdbTrailApp(["test"], table=incident_table)
    async with app.run_test(size=(140, 40)) as pilot:
        view = app.query_one(EventTableView)
        await pilot.press("m", "down", "m")
        assert app.marks == {0, 2}
        assert _rows(view)[0].startswith("* ") and _rows(view)[1].startswith("  ")
        await pilot.press("M")
        assert list(app.order) == [0, 2]
        assert str(app.query_one(StatusLine).render()).startswith("2 of 57 events")
        await pilot.press("M")
        assert len(app.order) == 57


async def test_enter_opens_drilldown_for_the_row_under_the_cursor(incident_table):
    app = DdbTrailApp(["test"], table=incident_table)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("G", "enter")
        await pilot.pause()
        assert isinstance(app.screen, DrilldownScreen)
        assert app.screen.row == 56


async def test_at_80x24_the_table_column_stays(incident_table):
    """Which table was touched is the question: at 80 columns the table column outranks
    the error column (error rows are coloured anyway)."""
    app = DdbTrailApp(["test"], table=incident_table)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        view = app.query_one(EventTableView)
        header = shown(view)[0]
        assert "principal" in header and "table" in header and "error" not in header
        assert any("Orders" in row for row in _rows(view))
