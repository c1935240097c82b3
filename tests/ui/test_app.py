"""The shell: help and palette from the registry, brushes become terms, loading fills panes."""
from __future__ import annotations

import json
import threading

import pandas as pd
from rich.console import Console
from textual.widgets import Static

from conftest import make_table
from tui.actions import ACTIONS, help_rows
from tui.app import DdbTrailApp
from tui.banner import LookupBanner
from tui.help import HelpScreen
from tui.load_worker import load_chunks
from tui.messages import LoadFinished, TimeRangePicked
from tui.status import StatusLine
from loaders import LoadOptions


def _help_text(screen: HelpScreen) -> str:
    console = Console(width=120, record=True)
    console.print(screen.query_one(Static).content)
    return console.export_text()


async def test_help_lists_every_binding_of_the_registry(incident_table):
    app = DdbTrailApp(["test"], table=incident_table)
    async with app.run_test(size=(140, 60)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = _help_text(app.screen)
        for _, keys, description in help_rows():
            assert any(keys in line and description in line for line in text.splitlines()), description
        await pilot.press("escape", "f1")
        assert isinstance(app.screen, HelpScreen)


async def test_palette_runs_app_actions_from_the_registry(incident_table):
    app = DdbTrailApp(["test"], table=incident_table)
    async with app.run_test(size=(140, 40)) as pilot:
        app.marks.add(3)
        await pilot.press("ctrl+p")
        for ch in "Marked only":
            await pilot.press("space" if ch == " " else ch)
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert app.marked_only and list(app.order) == [3]


async def test_timeline_brush_becomes_after_and_before_terms(incident_table):
    app = DdbTrailApp(["test"], table=incident_table)
    async with app.run_test(size=(140, 40)) as pilot:
        app.post_message(TimeRangePicked(pd.Timestamp("2026-11-21T02:00:00Z"),
                                         pd.Timestamp("2026-11-21T02:30:00Z")))
        await pilot.pause()
        assert "after:2026-11-21T02:00:00" in app.query_text
        assert "before:2026-11-21T02:30:00" in app.query_text
        assert int(app.mask.sum()) == 12           # the scan, not the later denials


def _write_records(path, count: int, first_id: int = 0) -> None:
    with open(path, "w") as out:
        for i in range(first_id, first_id + count):
            out.write(json.dumps({
                "eventVersion": "1.09", "eventTime": f"2026-11-20T10:{i // 60 % 60:02d}:{i % 60:02d}Z",
                "eventSource": "dynamodb.amazonaws.com", "eventName": "GetItem",
                "awsRegion": "us-gov-west-1", "sourceIPAddress": "10.0.0.1",
                "userIdentity": {"type": "IAMUser", "arn": "arn:aws-us-gov:iam::111122223333:user/alice",
                                 "accountId": "111122223333"},
                "requestParameters": {"tableName": "Orders"}, "eventID": f"id-{i}",
                "eventCategory": "Data", "readOnly": True}) + "\n")


async def test_loading_worker_fills_panes_and_reports(tmp_path):
    _write_records(tmp_path / "events.jsonl", 300)
    (tmp_path / "bad\x1b]0;x\x07.json").write_text("{not json")
    app = DdbTrailApp([str(tmp_path)], LoadOptions())
    async with app.run_test(size=(140, 40)) as pilot:
        for _ in range(100):
            if app.report is not None:
                break
            await pilot.pause(0.05)
        assert app.report.events == 300 and not app.report.cancelled
        assert len(app.table) == 300 and len(app.order) == 300
        status = str(app.query_one(StatusLine).render())
        assert status.startswith("300 of 300 events") and "1 files skipped" in status
        toasts = [n.message for n in app._notifications]
        assert any("1 files skipped, e.g. bad␛]0;x␇.json" in t for t in toasts), toasts


def test_growing_tables_are_published_as_the_count_doubles(tmp_path):
    for i in range(8):
        _write_records(tmp_path / f"events-{i}.jsonl", 2_000, first_id=i * 2_000)
    posted, published = [], []
    load_chunks([str(tmp_path)], LoadOptions(workers=1), threading.Event(), posted.append,
                published.append)
    sizes = [len(t) for t in published]
    assert sizes[-1] == 16_000 and sizes[0] >= 5_000
    assert all(later >= 2 * earlier for earlier, later in zip(sizes[:-2], sizes[1:-1]))
    assert len(sizes) <= 4                       # not one rebuild per file


def test_cancelled_load_keeps_what_was_read_and_says_so(tmp_path):
    _write_records(tmp_path / "events.jsonl", 10)
    cancel = threading.Event()
    cancel.set()
    posted, published = [], []
    table = load_chunks([str(tmp_path)], LoadOptions(), cancel, posted.append, published.append)
    finished = [m for m in posted if isinstance(m, LoadFinished)]
    assert finished and finished[0].report.cancelled
    assert published[-1] is table


async def test_lookup_source_shows_the_management_only_banner(incident_table):
    app = DdbTrailApp(["lookup"], table=incident_table)
    async with app.run_test(size=(140, 40)):
        banner = app.query_one(LookupBanner)
        assert "Item-level activity is missing" in str(banner.render())
    app = DdbTrailApp(["test"], table=incident_table)
    async with app.run_test(size=(140, 40)):
        assert not app.query(LookupBanner)


def test_every_app_action_is_reachable_from_the_palette():
    app_actions = [a for a in ACTIONS if a.scope == "app"]
    assert {a.action for a in app_actions} >= {"focus_query", "help", "export", "toggle_marked_only"}
    assert all(hasattr(DdbTrailApp, f"action_{a.action.split('(')[0]}") for a in app_actions)


async def test_escape_cancels_a_running_load(tmp_path):
    for i in range(200):                              # ~2 s of loading on this machine
        _write_records(tmp_path / f"events-{i:03d}.jsonl", 5)
    app = DdbTrailApp([str(tmp_path)], LoadOptions())
    async with app.run_test(size=(140, 40)) as pilot:
        assert app.loading
        await pilot.press("escape")
        assert app.cancel.is_set()
        for _ in range(200):
            if app.report is not None:
                break
            await pilot.pause(0.05)
        assert app.report.cancelled and app.report.files_read < 200
        assert app.report.errors == []               # the decode pool started inside the console
        assert "loading cancelled" in str(app.query_one(StatusLine).render())


async def test_events_without_a_time_do_not_break_the_header():
    table = make_table([{"time": "2026-11-20T10:00:00Z", "operation": "GetItem", "event_id": "a"},
                        {"time": None, "operation": "Scan", "event_id": "b"}])
    app = DdbTrailApp(["test"], table=table)
    async with app.run_test(size=(140, 40)):
        status = str(app.query_one(StatusLine).render())
        assert status.startswith("2 of 2 events")
        assert "2026-11-20 10:00 → 2026-11-20 10:00 UTC" in status
