"""Everything that gets CloudTrail records in: local files, S3 trail logs, LookupEvents, demo.

`load()` is the single entry point for the CLI and the console; `iter_chunks()` is the
same pipeline yielding `Chunk`s as they are decoded, so the console can fill panes early.
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd


@dataclass
class LoadOptions:
    start: datetime | None = None      # UTC, inclusive
    end: datetime | None = None        # UTC, inclusive
    regions: list[str] = field(default_factory=list)
    accounts: list[str] = field(default_factory=list)
    profile: str | None = None
    endpoint_url: str | None = None
    fips: bool = False
    all_sources: bool = False          # keep non-DynamoDB events too
    trail: str | None = None
    cache_dir: str | None = None       # default ~/.cache/ddbtrail (XDG_CACHE_HOME honoured)
    workers: int | None = None         # decode processes; default: CPU count


@dataclass
class LoadReport:
    files_read: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)   # (path, reason)
    events: int = 0
    bytes_read: int = 0
    duplicates: int = 0
    objects_fetched: int = 0           # S3 GETs actually made (cache hits excluded)
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    cancelled: bool = False


class NothingLoaded(Exception):
    """No events, and no source could be read at all: the message says why."""

    def __init__(self, message: str, report: LoadReport):
        super().__init__(message)
        self.report = report


#: Per-record problems listed one by one per file; beyond that they are counted.
MAX_REJECTED_LISTED = 10


def load(sources: list[str], opts: LoadOptions | None = None, progress=None,
         cancel: threading.Event | None = None):
    """Load every source into one EventTable; returns (table, report).

    Raises NothingLoaded when no event was loaded and nothing was readable.  Files that
    were read but whose events all fall outside --start/--end are not an error.
    """
    from ddbtrail.events import EventTable

    report = LoadReport()
    table = EventTable.from_chunks(iter_chunks(sources, opts, progress, cancel, report))
    report.events = len(table)
    report.duplicates = table.duplicates
    if not len(table) and not report.files_read and not report.cancelled:
        problems = [f"{path}: {reason}" for path, reason in report.skipped] + report.errors
        raise NothingLoaded("; ".join(problems[:5]) + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else "")
                            if problems else f"no CloudTrail files found in {', '.join(sources)}", report)
    return table, report


def iter_chunks(sources: list[str], opts: LoadOptions | None = None, progress=None,
                cancel: threading.Event | None = None, report: LoadReport | None = None):
    """Yield Chunks from each source spec (local path, s3://..., `lookup`) as they decode.

    Fills `report` as it goes (files read and skipped, bytes, events before
    de-duplication); events outside opts.start/end are dropped; `cancel` stops between
    files and sets report.cancelled.
    """
    opts = opts or LoadOptions()
    cancel = cancel or threading.Event()
    report = report if report is not None else LoadReport()
    window = _window(opts)
    if opts.trail:
        from loaders.trail import resolve_trail
        try:
            sources = [*sources, *resolve_trail(opts.trail, opts)]
        except Exception as exc:  # reported like any unreadable source
            report.errors.append(f"--trail {opts.trail}: {exc}")
    for spec in sources:
        if cancel.is_set():
            break
        try:
            for chunk in _source_chunks(spec, opts, report, progress, cancel):
                if window is not None:
                    times = np.asarray(chunk.columns["time"], dtype=np.int64)
                    chunk = chunk.take(np.flatnonzero((times >= window[0]) & (times <= window[1])))
                report.events += len(chunk)
                yield chunk
        except Exception as exc:  # one failing source must not stop the others
            report.errors.append(f"{spec}: {exc}")
    report.cancelled = report.cancelled or cancel.is_set()


def _window(opts: LoadOptions) -> tuple[int, int] | None:
    """--start/--end as inclusive int64 nanoseconds (NaT times fall outside any window)."""
    if opts.start is None and opts.end is None:
        return None

    def ns(moment, default):
        if moment is None:
            return default
        stamp = pd.Timestamp(moment)
        return (stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp).value

    return ns(opts.start, np.iinfo(np.int64).min + 1), ns(opts.end, np.iinfo(np.int64).max)


def _source_chunks(spec: str, opts: LoadOptions, report: LoadReport, progress, cancel):
    if spec == "lookup":
        from loaders.lookup import lookup_chunks
        yield from lookup_chunks(opts, report, progress, cancel)
        return
    from loaders.local import file_size, local_files, parse_files

    if spec.startswith("s3://"):
        from loaders.s3 import s3_files
        tell = (lambda info: progress({**info, "events": report.events})) if progress else None
        items = ((path, name) for path, name in s3_files(spec, opts, report, tell, cancel))
        for parsed in parse_files(items, opts.all_sources, opts.workers, cancel):
            if _account(parsed, report):
                yield parsed.chunk
        return
    if not os.path.exists(spec):
        report.errors.append(f"{spec}: no such file or folder")
        return
    paths, unreadable = local_files(spec)
    report.skipped.extend(unreadable)
    total = sum(file_size(p) for p in paths)
    started, done, nbytes = time.monotonic(), 0, 0
    for parsed in parse_files(zip(paths, paths), opts.all_sources, opts.workers, cancel):
        done += parsed.files
        loaded = _account(parsed, report)
        nbytes += sum(size for _, size in parsed.read) + sum(file_size(name) for name, _ in parsed.skipped)
        if progress:
            elapsed = time.monotonic() - started
            progress({"stage": "local", "files_done": done, "files_total": len(paths),
                      "bytes": nbytes, "events": report.events + (len(parsed.chunk) if loaded else 0),
                      "eta_s": elapsed / nbytes * (total - nbytes) if nbytes else None})
        if loaded:
            yield parsed.chunk


def _account(parsed, report: LoadReport) -> bool:
    """Put a parsed batch's files read, skipped files and rejected records in the report;
    true when it has a chunk to hand on."""
    report.skipped.extend(parsed.skipped)
    report.files_read += len(parsed.read)
    report.bytes_read += sum(size for _, size in parsed.read)
    for name, rejected in parsed.rejected:
        report.skipped.extend((name, reason) for _, reason in rejected[:MAX_REJECTED_LISTED])
        if len(rejected) > MAX_REJECTED_LISTED:
            report.skipped.append((name, f"{len(rejected) - MAX_REJECTED_LISTED} more records skipped"))
    return parsed.chunk is not None
