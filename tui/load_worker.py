"""Loading in a thread so the console paints at once and panes fill as data arrives.

Each chunk is folded into a `TableBuilder` once, as it arrives; a table is built from it
each time the event count doubles: a responder sees early data quickly, and the builds
cost O(n log n) in total rather than O(n²).
"""
from __future__ import annotations

import threading
import time
from multiprocessing import resource_tracker
from typing import Callable

from ddbtrail.events import EventTable, TableBuilder
from loaders import LoadOptions, LoadReport, iter_chunks
from tui.messages import LoadFinished, LoadProgress

#: Events before the first partial table is shown.
FIRST_REBUILD = 5_000
#: Seconds between progress updates: one per file would queue up ahead of the responder's keys.
PROGRESS_EVERY = 0.2


def start_process_helpers() -> None:
    """Start multiprocessing's resource tracker while stderr is still the terminal.

    Textual replaces sys.stderr with an object whose fileno() is -1; a decode pool started
    later from the worker would then fail with "bad value(s) in fds_to_keep".  Call this
    before the app runs.
    """
    resource_tracker.ensure_running()


def load_chunks(specs: list[str], opts: LoadOptions, cancel: threading.Event,
                post: Callable[[object], object],
                publish: Callable[[EventTable], object]) -> EventTable:
    """Read every source, `publish` growing tables, `post` LoadProgress/LoadFinished."""
    report = LoadReport()
    builder = TableBuilder()
    events = 0
    next_rebuild = FIRST_REBUILD
    last_progress = 0.0

    def progress(info: dict) -> None:
        nonlocal last_progress
        if time.monotonic() - last_progress >= PROGRESS_EVERY:
            last_progress = time.monotonic()
            post(LoadProgress(info))

    table: EventTable | None = None
    try:
        for chunk in iter_chunks(specs, opts, progress=progress, cancel=cancel, report=report):
            builder.add(chunk)
            events += len(chunk)
            if events >= next_rebuild:
                table = builder.build(keep=True)
                publish(table)
                next_rebuild = 2 * events
    except Exception as error:  # a broken source must not take down the console
        report.errors.append(f"{type(error).__name__}: {error}")
    report.cancelled = report.cancelled or cancel.is_set()
    if table is None or events > next_rebuild // 2:   # chunks arrived since the last rebuild
        table = builder.build(keep=False)
        publish(table)
    report.events, report.duplicates = len(table), table.duplicates
    post(LoadFinished(report))
    return table
