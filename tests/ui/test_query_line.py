"""The query line: applies on Enter, points at errors while typing, keeps history."""
from __future__ import annotations

from textual.widgets import Static

from tui.app import DdbTrailApp
from tui.event_table import EventTableView
from tui.query_line import QueryInput, QueryLine


async def _type(pilot, text: str) -> None:
    for ch in text:
        await pilot.press(ch if ch.isalnum() else {":": "colon", "*": "asterisk", " ": "space",
                                                   "-": "minus", ",": "comma"}[ch])


async def test_slash_focuses_and_enter_applies(incident_table):
    app = DdbTrailApp(["test"], table=incident_table)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("slash")
        assert isinstance(app.focused, QueryInput)
        await _type(pilot, "op:Scan")
        assert int(app.mask.sum()) == 57          # nothing applied while typing
        await pilot.press("enter")
        assert app.query_text == "op:Scan" and int(app.mask.sum()) == 12
        assert isinstance(app.focused, EventTableView)
        assert set(incident_table.df["operation"].astype(str).to_numpy()[app.order]) == {"Scan"}


async def test_error_shown_at_its_position_and_last_valid_query_stays(incident_table):
    app = DdbTrailApp(["test"], table=incident_table)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("slash")
        await _type(pilot, "error:*")
        await pilot.press("enter", "slash", "end")
        await _type(pilot, " op:")
        line = app.query_one(QueryLine)
        assert line.has_class("-invalid")
        message = str(app.query_one("#query-error", Static).render())
        error = line.error_for("error:* op:")
        assert message.startswith(" " * error.position + "^ ")
        await pilot.press("enter")                # refused: the last valid query stays
        assert app.query_text == "error:*" and int(app.mask.sum()) == 5
        await pilot.press("backspace", "backspace", "backspace", "backspace")
        assert not line.has_class("-invalid")


async def test_history_up_and_down_and_escape_returns_to_table(incident_table):
    app = DdbTrailApp(["test"], table=incident_table)
    async with app.run_test(size=(140, 40)) as pilot:
        for query in ("op:Scan", "error:*"):
            await pilot.press("slash", "ctrl+u")
            await _type(pilot, query)
            await pilot.press("enter")
        await pilot.press("slash")
        field = app.query_one(QueryInput)
        await pilot.press("ctrl+u", "up")
        assert field.value == "error:*"
        await pilot.press("up")
        assert field.value == "op:Scan"
        await pilot.press("down")
        assert field.value == "error:*"
        await pilot.press("escape")
        assert isinstance(app.focused, EventTableView)
