"""The drill-down: summary, verbatim record, source, related calls; values become filters,
copies go through OSC 52, hostile strings stay inert text."""
from __future__ import annotations

import io
import json

import numpy as np
from rich.console import Console
from textual.widgets import OptionList, Static

from ddbtrail import views
from loaders import LoadOptions, load
from tests.ui.conftest import ROLE, incident_rows, make_table
from tui.app import DdbTrailApp
from tui.drilldown import VALUE_CHARS, DrilldownScreen, record_text
from tui.messages import OpenEvent

HOSTILE_UA = "[bold red]evil[/] \x1b]52;c;ZXZpbA==\x07 \u202egnp.exe " + "A" * 10_000


def session_rows() -> list[dict]:
    """The incident plus a session whose calls share an access key and one request id."""
    rows = incident_rows()
    for i in range(4):
        rows.append({"time": f"2026-11-21T03:0{i}:00Z", "operation": "Scan" if i else "GetItem",
                     "principal": ROLE + "Intruder", "session": "botocore-session-1",
                     "access_key": "ASIAEXAMPLEKEY", "tables": ("PatientRecords",),
                     "ip": "198.51.100.23", "request_id": "REQ-1" if i < 2 else f"REQ-{i}",
                     "user_agent": HOSTILE_UA, "event_id": f"intruder-{i}"})
    return rows


def open_row(table, operation: str, principal_suffix: str) -> int:
    df = table.df
    hits = np.flatnonzero((df["operation"] == operation).to_numpy()
                          & df["principal"].astype(str).str.endswith(principal_suffix).to_numpy())
    return int(hits[0])


async def open_drilldown(pilot, row: int) -> DrilldownScreen:
    pilot.app.post_message(OpenEvent(row))
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, DrilldownScreen)
    return screen


def plain(renderable) -> str:
    """What a renderable shows, as text, on a line wide enough not to wrap."""
    console = Console(width=400, color_system=None, file=io.StringIO())
    with console.capture() as captured:
        console.print(renderable)
    return "\n".join(line.rstrip() for line in captured.get().splitlines())


def listed(screen: DrilldownScreen, selector: str) -> list[str]:
    options = screen.query_one(selector, OptionList)
    return [plain(options.get_option_at_index(i).prompt) for i in range(options.option_count)]


async def highlight(screen: DrilldownScreen, selector: str, text: str) -> None:
    options = screen.query_one(selector, OptionList)
    options.focus()
    options.highlighted = next(i for i, line in enumerate(listed(screen, selector)) if text in line)


async def test_shows_summary_verbatim_record_and_source():
    table = make_table(session_rows())
    row = open_row(table, "Scan", "Intruder")
    app = DdbTrailApp([], table=table)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_drilldown(pilot, row)
        values = listed(screen, "#values")
        for label, value in (("principal", ROLE + "Intruder"), ("operation", "Scan"),
                             ("table", "PatientRecords"), ("ip", "198.51.100.23"),
                             ("access key", "ASIAEXAMPLEKEY")):
            assert any(line.startswith(label) and value in line for line in values), (label, values)
        assert screen.query_one("#json", Static).content.code == record_text(table.raw([row])[0])
        source = str(screen.query_one("#source", Static).render())
        assert "test.jsonl" in source and f"#{int(table.df['position'].iat[row])}" in source


async def test_enter_on_a_value_filters_by_it_and_returns_to_the_results():
    table = make_table(session_rows())
    app = DdbTrailApp([], table=table)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_drilldown(pilot, open_row(table, "Scan", "Intruder"))
        await highlight(screen, "#values", "198.51.100.23")
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, DrilldownScreen)
        assert "ip:198.51.100.23" in app.query_text
        assert int(app.mask.sum()) == int((table.df["ip"] == "198.51.100.23").sum()) == 4


async def test_related_calls_are_the_cores_and_open_on_enter():
    table = make_table(session_rows())
    row = open_row(table, "GetItem", "Intruder")
    related = views.related_rows(table, row)
    app = DdbTrailApp([], table=table)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_drilldown(pilot, row)
        lines = listed(screen, "#related")
        assert f"same access key ({len(related['same_access_key'])})" in lines
        assert f"same request ({len(related['same_request'])})" in lines
        assert len(related["same_request"]) == 1
        await highlight(screen, "#related", "03:01:00")
        await pilot.press("enter")
        await pilot.pause()
        opened = app.screen
        assert isinstance(opened, DrilldownScreen) and opened.row == row + 1
        await pilot.press("escape")
        assert app.screen is screen


async def test_copy_value_and_whole_record_and_mark():
    table = make_table(session_rows())
    row = open_row(table, "Scan", "Intruder")
    app = DdbTrailApp([], table=table)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_drilldown(pilot, row)
        await highlight(screen, "#values", "user agent")
        await pilot.press("c")
        assert app.clipboard == HOSTILE_UA
        await pilot.press("C")
        assert app.clipboard == table.raw([row])[0].decode()
        await pilot.press("m")
        await pilot.pause()
        assert row in app.marks
        assert "marked" in str(screen.query_one("#title").render())


async def test_hostile_strings_stay_literal_and_the_layout_holds():
    table = make_table(session_rows())
    app = DdbTrailApp([], table=table)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_drilldown(pilot, open_row(table, "Scan", "Intruder"))
        ua = next(line for line in listed(screen, "#values") if line.startswith("user agent"))
        assert "[bold red]evil[/] ␛]52;c;ZXZpbA==␇ <U+202E>gnp.exe" in ua
        assert ua.endswith(f"(+{len(HOSTILE_UA) - VALUE_CHARS:,} chars)")
        painted = app.export_screenshot()
        assert "\x1b" not in painted and "\x07" not in painted and "\u202e" not in painted
        assert screen.query_one("#values").region.width <= 80
        assert screen.query_one("#title").region.height == 1


def test_record_text_keeps_json_and_line_breaks_but_shows_control_characters():
    raw = b'{"eventName": "Scan",\n "userAgent": "x\x1b[31mred\x07\xe2\x80\xae"}'
    assert record_text(raw) == '{"eventName": "Scan",\n "userAgent": "x␛[31mred␇<U+202E>"}'


async def test_a_source_gone_since_loading_is_reported_not_a_crash(tmp_path):
    record = {"eventVersion": "1.09", "eventTime": "2026-11-21T03:00:00Z", "eventName": "GetItem",
              "eventSource": "dynamodb.amazonaws.com", "awsRegion": "us-gov-west-1",
              "eventID": "gone-1", "userIdentity": {"type": "IAMUser", "arn": ROLE + "x"}}
    source = tmp_path / "trail\x1b]0;pwned\x07.json"   # the error names the file: hostile too
    source.write_text(json.dumps({"Records": [record]}))
    table, _ = load([str(source)], LoadOptions())
    source.unlink()
    app = DdbTrailApp([], table=table)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_drilldown(pilot, 0)
        assert "record text unavailable" in str(screen.query_one("#json", Static).render())
        assert any(line.startswith("operation") and "GetItem" in line for line in listed(screen, "#values"))
        await pilot.press("C")
        assert app.clipboard == ""
        [toast] = [n for n in app._notifications if "record text unavailable" in str(n.message)]
        assert "pwned" in toast.message and not any(ord(c) < 32 for c in toast.message)


async def test_opening_another_event_shows_that_event():
    table = make_table(session_rows())
    scan, ok = open_row(table, "Scan", "Intruder"), open_row(table, "Query", "OrdersService")
    app = DdbTrailApp([], table=table)
    async with app.run_test(size=(120, 40)) as pilot:
        first = await open_drilldown(pilot, scan)
        await highlight(first, "#values", "ip")
        await pilot.press("escape")
        second = await open_drilldown(pilot, ok)
        values = listed(second, "#values")
        assert any(line.startswith("principal") and line.endswith("OrdersService") for line in values)
        assert not any("Intruder" in line for line in values)
        assert second.query_one("#values", OptionList).highlighted == 0
        assert second.query_one("#json", Static).content.code == record_text(table.raw([ok])[0])
        assert "same access key (0)" in listed(second, "#related")
