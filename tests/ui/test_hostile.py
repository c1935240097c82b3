"""Attacker-chosen strings show literally in every pane A owns and never reach the terminal."""
from __future__ import annotations

import pytest

from conftest import make_table, shown
from ddbtrail.text import printable
from tui.app import DdbTrailApp
from tui.event_table import EventTableView
from tui.facets import FacetPane
from tui.query_line import QueryInput
from tui.status import StatusLine

MARKUP = "[bold red]pwned[/] [link=https://evil.example]click[/link] [/]"
OSC52 = "\x1b]52;c;ZXZpbA==\x07copy"
TITLE = "\x1b]0;owned title\x07\x1b[2J\x1b[31mred"
CONTROLS = "nul\x00bs\x08cr\rtab\t\x9bend"
LONG = "A" * 10_000
BIDI = "user\u202eexe.live\u200b\u2066x"
HOSTILE = [MARKUP, OSC52, TITLE, CONTROLS, LONG, BIDI]


@pytest.fixture
def hostile_table():
    rows = []
    for i, bad in enumerate(HOSTILE):
        rows.append({"time": f"2026-11-21T02:0{i}:00Z", "operation": bad, "principal": bad,
                     "tables": (bad,), "ip": bad, "user_agent": bad, "region": bad,
                     "error": bad, "error_message": bad, "event_id": f"h{i}"})
    return make_table(rows)


def _assert_safe(text: str) -> None:
    assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text
    assert "\u202e" not in text and "\u200b" not in text


def _facet_text(pane: FacetPane) -> str:
    return "\n".join(shown(pane))


async def test_every_pane_shows_hostile_strings_literally(hostile_table):
    app = DdbTrailApp(["evil[bold]\x1b]0;t\x07.json"], table=hostile_table)
    async with app.run_test(size=(200, 50)) as pilot:
        view = app.query_one(EventTableView)
        table_text = "\n".join(shown(view))
        _assert_safe(table_text)
        assert "[bold red]pwned[/]" in table_text          # markup shown, not applied
        assert printable(TITLE)[:12] in table_text
        assert "<U+202E>" in table_text                    # bidi override made visible

        for pane in app.query(FacetPane):
            text = _facet_text(pane)
            _assert_safe(text)
            # markup shown, not applied: the ARN pane keeps the tail, the others the head
            assert ("click[/link] [/]" if pane.facet.keep_end else "[bold red]pwned[/]") in text
            assert printable(OSC52) in text and printable(CONTROLS) in text
        for _ in range(3):                                  # ip, user agent, region too
            await pilot.press("f")
            assert "[bold red]pwned[/]" in _facet_text(app.query_one("#facet-lower", FacetPane))

        status = str(app.query_one(StatusLine).render())
        _assert_safe(status)
        assert "evil[bold]" in status

        # walking every row (10 kB cells included) and sorting by every column never crashes
        for _ in range(6):
            await pilot.press("s")
            await pilot.press("end", "home")
            _assert_safe("\n".join(shown(view)))


async def test_picking_a_hostile_value_filters_to_exactly_that_row(hostile_table):
    app = DdbTrailApp(["test"], table=hostile_table)
    async with app.run_test(size=(200, 50)) as pilot:
        pane = app.query_one("#facet-principal", FacetPane)
        pane.focus()
        assert len(pane.values) == len(HOSTILE)
        for index, value in enumerate(pane.values):
            pane.cursor = index
            await pilot.press("enter")
            await pilot.pause()
            assert int(app.mask.sum()) == 1
            assert hostile_table.df["principal"].iat[int(app.order[0])] == value
            _assert_safe(app.query_one(QueryInput).render_line(0).text)
            app.apply_query("")
