"""Header line: what is loaded, which time range, how many events the query shows, and
loading progress, so a responder always knows whether the picture is complete."""
from __future__ import annotations

import numpy as np
from rich.text import Text
from textual.widget import Widget

from ddbtrail import views
from ddbtrail.events import EventTable
from ddbtrail.text import printable
from loaders import LoadReport


class StatusLine(Widget):
    """One line of fixed height: repainting it never needs a new layout (a Static would)."""

    DEFAULT_CSS = """
    StatusLine { height: 1; background: $panel; padding: 0 1; }
    """

    def __init__(self, sources: list[str], **kwargs):
        super().__init__(**kwargs)
        self.sources = sources
        self.counts = "no events yet"
        self.time_range = ""
        self.progress = ""
        self._table: EventTable | None = None

    def show(self, table: EventTable, mask: np.ndarray) -> None:
        self.counts = f"{int(mask.sum()):,} of {len(table):,} events"
        if table is not self._table:    # the loaded range only changes with the table
            self._table = table
            span = views.time_range(table)
            self.time_range = f"{span[0]:%Y-%m-%d %H:%M} → {span[1]:%Y-%m-%d %H:%M} UTC" if span else ""
        self.refresh()

    def loading(self, info: dict) -> None:
        """Progress dict from the loaders: files, events, ETA."""
        parts = [f"loading {info.get('stage', '')}".rstrip()]
        if info.get("files_total"):
            parts.append(f"{info.get('files_done', 0):,}/{info['files_total']:,} files")
        parts.append(f"{info.get('events', 0):,} events read")
        if info.get("eta_s") is not None:
            parts.append(f"ETA {info['eta_s']:.0f}s")
        parts.append("Esc cancels")
        self.progress = " · ".join(parts)
        self.refresh()

    def finished(self, report: LoadReport) -> None:
        notes = []
        if report.cancelled:
            notes.append("loading cancelled: partial data")
        if report.skipped:
            notes.append(f"{len(report.skipped)} files skipped")
        if report.errors:
            notes.append(f"{len(report.errors)} source errors")
        self.progress = " · ".join(notes)
        self.refresh()

    def render(self) -> Text:
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(self.counts, style="bold")
        for part, style in ((self.time_range, ""), (self.progress, "italic"),
                            (printable(", ".join(self.sources)), "dim")):
            if part:
                line.append("  │  ", style="dim")
                line.append(part, style=style)
        return line
