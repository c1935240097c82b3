"""The export dialog: the events on screen, written as evidence.

The dialog only chooses format and path and shows progress; `ddbtrail.export.export`
does the writing (temp file + rename, manifest with SHA-256), in a thread worker so a
million-row export never freezes the console and can be cancelled.  It refuses to
overwrite an existing file: evidence is never silently replaced.
"""
from __future__ import annotations

import threading
from datetime import datetime, timezone
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, ProgressBar, RadioButton, RadioSet, Static

from ddbtrail.events import EventTable
from ddbtrail.export import EXTENSIONS, FORMATS, ExportCancelled, export, manifest_path
from ddbtrail.text import printable
from tui.actions import bindings



def default_path(fmt: str, now: datetime | None = None) -> str:
    """A name that sorts by time and never collides with an earlier export."""
    now = now or datetime.now(timezone.utc)
    return f"ddbtrail-export-{now:%Y%m%dT%H%M%SZ}{EXTENSIONS[fmt]}"


class ExportDialog(ModalScreen[dict | None]):
    """Export `rows` of `table` (the current filtered set); dismisses with the manifest."""

    BINDINGS = bindings("export")
    DEFAULT_CSS = """
    ExportDialog { align: center middle; }
    ExportDialog #dialog { width: 76; max-width: 100%; height: auto; max-height: 100%;
                           border: thick $accent; padding: 0 1; background: $surface; }
    ExportDialog RadioSet { layout: horizontal; width: 100%; }
    ExportDialog #target, ExportDialog #result { height: auto; }
    ExportDialog ProgressBar { margin: 1 0 0 0; }
    ExportDialog .heading { text-style: bold; color: $accent; }
    ExportDialog #buttons { height: auto; align-horizontal: right; }
    """

    def __init__(self, table: EventTable, rows, query_text: str, marks: set[int]) -> None:
        super().__init__()
        self.table = table
        self.rows = rows
        self.query_text = query_text
        self.marks = marks
        self.manifest: dict | None = None
        self.written_to: Path | None = None
        self.cancel = threading.Event()
        self.exporting = False

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(f"Export {len(self.rows):,} events", classes="heading")
            yield Static(Text.assemble(("query ", "bold"), printable(self.query_text, 300) or "(everything)"),
                         id="query", markup=False)
            with RadioSet(id="format"):
                for fmt in FORMATS:
                    yield RadioButton(fmt, value=fmt == "jsonl", id=f"format-{fmt}")
            yield Input(default_path("jsonl"), id="path", placeholder="output file")
            yield Static(id="target", markup=False)
            yield ProgressBar(total=max(1, len(self.rows)), show_eta=True, id="progress")
            yield Static(id="result", markup=False)
            with Horizontal(id="buttons"):
                yield Button("Export", variant="primary", id="start")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self._show_target()
        self.query_one("#path", Input).focus()

    @property
    def fmt(self) -> str:
        pressed = self.query_one("#format", RadioSet).pressed_button
        return pressed.id.removeprefix("format-") if pressed else "jsonl"

    @property
    def path(self) -> Path:
        return Path(self.query_one("#path", Input).value.strip()).expanduser().absolute()

    def _show_target(self) -> None:
        self.query_one("#target", Static).update(
            Text(f"{len(self.rows):,} events as {self.fmt} → {printable(str(self.path))}"))

    def on_radio_set_changed(self, event: RadioSet.Changed) -> None:
        """Keep the extension in step with the format unless the responder typed their own."""
        field = self.query_one("#path", Input)
        fmt = event.pressed.id.removeprefix("format-")
        for ext in EXTENSIONS.values():
            if field.value.endswith(ext):
                field.value = field.value[: -len(ext)] + EXTENSIONS[fmt]
                break
        self._show_target()

    def on_input_changed(self, event: Input.Changed) -> None:
        self._show_target()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_start()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "start":
            self.action_start()
        else:
            self.action_cancel()

    def action_start(self) -> None:
        if self.exporting or self.manifest is not None:
            return
        path = self.path
        problem = ("already exists: choose another name" if path.exists()
                   else "folder does not exist" if not path.parent.is_dir() else "")
        if problem:
            self._say(f"{printable(str(path))}: {problem}", "red")
            return
        self.exporting, self.written_to = True, path
        self.query_one("#start", Button).disabled = True
        self._say("exporting…  (Esc cancels)", "")
        self.run_export(path, self.fmt)

    def action_cancel(self) -> None:
        """Esc: stop a running export (nothing is left on disk), else close."""
        if self.exporting:
            self.cancel.set()
        else:
            self.dismiss(self.manifest)

    @work(thread=True, exclusive=True)
    def run_export(self, path: Path, fmt: str) -> None:
        def progress(done: int, total: int) -> None:
            self.app.call_from_thread(self._progress, done)
        try:
            manifest = export(self.table, self.rows, fmt, path, query=self.query_text,
                              marks=sorted(self.marks), progress=progress, cancel=self.cancel)
        except ExportCancelled:
            self.app.call_from_thread(self._finished, None, "cancelled: nothing was written")
        except (OSError, ValueError) as error:
            self.app.call_from_thread(self._finished, None, f"export failed: {printable(str(error))}")
        else:
            self.app.call_from_thread(self._finished, manifest, "")

    def _progress(self, done: int) -> None:
        self.query_one("#progress", ProgressBar).update(progress=done)

    def _finished(self, manifest: dict | None, problem: str) -> None:
        self.exporting = False
        self.query_one("#cancel", Button).label = "Close"
        if manifest is None:
            self.cancel.clear()
            self.query_one("#start", Button).disabled = False
            self._say(problem, "red")
            return
        self.manifest = manifest
        self.query_one("#progress", ProgressBar).update(progress=max(1, len(self.rows)))
        self._say(f"wrote {manifest['records']:,} records to {printable(str(self.written_to))}\n"
                  f"sha256   {manifest['sha256']}\n"
                  f"manifest {printable(str(manifest_path(self.written_to)))}", "green")
        self.query_one("#cancel", Button).focus()

    def _say(self, message: str, style: str) -> None:
        self.query_one("#result", Static).update(Text(message, style=style))
