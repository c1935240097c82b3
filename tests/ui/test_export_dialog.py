"""The export dialog: count and path shown, the core's export run in a worker, the manifest
and its hash reported, cancel leaving nothing behind, evidence never overwritten."""
from __future__ import annotations

import hashlib
import json

import numpy as np
from textual.app import App
from textual.widgets import Input, Static

from tests.ui.conftest import make_table
from tui.app import DdbTrailApp
from tui.export_dialog import ExportDialog


class Host(App):
    """Opens the dialog the way the console does and keeps what it dismissed with."""

    def __init__(self, table, rows, query: str, marks: set[int]) -> None:
        super().__init__()
        self.args = (table, rows, query, marks)
        self.result = "not dismissed"

    def on_mount(self) -> None:
        self.push_screen(ExportDialog(*self.args), self.dismissed)

    def dismissed(self, manifest) -> None:
        self.result = manifest


def shown(app: App, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def set_path(pilot, path) -> None:
    field = pilot.app.screen.query_one("#path", Input)
    field.value = str(path)
    await pilot.pause()


async def test_exports_the_rows_it_shows_and_reports_manifest_and_hash(incident_table, tmp_path):
    rows = np.flatnonzero(incident_table.df["operation"].to_numpy() == "Scan")
    app = Host(incident_table, rows, "op:Scan", {int(rows[0])})
    async with app.run_test(size=(100, 30)) as pilot:
        assert "Export 12 events" in str(app.screen.query_one(".heading").render())
        assert app.screen.query_one("#path", Input).value.endswith(".jsonl")
        await set_path(pilot, tmp_path / "scan.jsonl")
        assert f"12 events as jsonl → {tmp_path / 'scan.jsonl'}" in shown(app, "#target")
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        out = tmp_path / "scan.jsonl"
        digest = hashlib.sha256(out.read_bytes()).hexdigest()
        result = shown(app, "#result")
        assert digest in result and f"{out}.manifest.json" in result
        assert out.read_bytes().splitlines() == incident_table.raw(rows)
        manifest = json.loads((tmp_path / "scan.jsonl.manifest.json").read_text())
        assert manifest["query"] == "op:Scan" and manifest["records"] == 12
        assert len(manifest["marks"]) == 1
        await pilot.press("escape")
        assert app.result["sha256"] == digest


async def test_format_choice_sets_extension_and_format(incident_table, tmp_path):
    rows = np.arange(len(incident_table))
    app = Host(incident_table, rows, "", set())
    async with app.run_test(size=(100, 30)) as pilot:
        await set_path(pilot, tmp_path / "all.jsonl")
        app.screen.query_one("#format-csv").value = True
        await pilot.pause()
        assert app.screen.query_one("#path", Input).value == str(tmp_path / "all.csv")
        assert "as csv" in shown(app, "#target")
        await pilot.click("#start")
        await app.workers.wait_for_complete()
        await pilot.pause()
        lines = (tmp_path / "all.csv").read_text().splitlines()
        assert len(lines) == len(incident_table) + 1 and lines[0].startswith("time,operation")


async def test_refuses_to_overwrite_existing_evidence(incident_table, tmp_path):
    existing = tmp_path / "case.jsonl"
    existing.write_text("earlier export\n")
    app = Host(incident_table, np.arange(3), "", set())
    async with app.run_test(size=(100, 30)) as pilot:
        await set_path(pilot, existing)
        await pilot.press("enter")
        await pilot.pause()
        assert "already exists" in shown(app, "#result")
        assert existing.read_text() == "earlier export\n"
        assert not (tmp_path / "case.jsonl.manifest.json").exists()


async def test_cancelled_export_leaves_nothing_and_can_be_retried(incident_table, tmp_path):
    app = Host(incident_table, np.arange(len(incident_table)), "", set())
    async with app.run_test(size=(100, 30)) as pilot:
        await set_path(pilot, tmp_path / "x.parquet")
        app.screen.cancel.set()          # as Esc does while the worker runs
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "cancelled" in shown(app, "#result")
        assert list(tmp_path.iterdir()) == []
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert (tmp_path / "x.parquet").exists() and (tmp_path / "x.parquet.manifest.json").exists()


async def test_hostile_query_text_is_shown_literally(incident_table, tmp_path):
    query = 'ua:"[bold red]x\x1b]52;c;aGk=\x07"'
    app = Host(incident_table, np.arange(2), query, set())
    async with app.run_test(size=(100, 30)) as pilot:
        text = shown(app, "#query")
        assert "[bold red]x␛]52;c;aGk=␇" in text and "\x1b" not in text
        await pilot.press("escape")
        assert app.result is None


async def test_e_in_the_console_exports_exactly_the_filtered_events(incident_table, tmp_path):
    app = DdbTrailApp([], table=incident_table)
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.apply_query("error:*")
        await pilot.press("e")
        dialog = app.screen
        assert isinstance(dialog, ExportDialog)
        assert "Export 5 events" in str(dialog.query_one(".heading").render())
        await set_path(pilot, tmp_path / "denied.jsonl")
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        failed = np.flatnonzero(app.mask)
        assert (tmp_path / "denied.jsonl").read_bytes().splitlines() == incident_table.raw(failed)
        assert json.loads((tmp_path / "denied.jsonl.manifest.json").read_text())["query"] == "error:*"
