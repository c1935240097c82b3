"""Every custom message of the console, in one module.

Panes never reach into each other: they post these and the app routes them.  The query
line stays the whole truth of what is shown, so facet picks, timeline brushes and
drill-down values all become `AddTerm`, which the app turns into new query text.
"""
from __future__ import annotations

from textual.message import Message


class AddTerm(Message):
    """Add `field:value` (or `-field:value`) to the query line."""

    def __init__(self, field: str, value: str, negate: bool = False) -> None:
        super().__init__()
        self.field = field
        self.value = value
        self.negate = negate


class QuerySubmitted(Message):
    """The query line holds new text that parsed; the app recomputes every view."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class OpenEvent(Message):
    """Open the drill-down for one row of the event table."""

    def __init__(self, row: int) -> None:
        super().__init__()
        self.row = row


class ToggleMark(Message):
    """Mark or unmark a row (marks travel into the export manifest)."""

    def __init__(self, row: int) -> None:
        super().__init__()
        self.row = row


class TimeRangePicked(Message):
    """A timeline brush picked [start, end): becomes after:/before: terms."""

    def __init__(self, start, end) -> None:
        super().__init__()
        self.start = start
        self.end = end


class LoadProgress(Message):
    """Progress of the loading worker: files, bytes, events, ETA."""

    def __init__(self, info: dict) -> None:
        super().__init__()
        self.info = info


class LoadFinished(Message):
    """Loading ended (complete, cancelled or failed); carries the load report."""

    def __init__(self, report) -> None:
        super().__init__()
        self.report = report
