"""Everything that gets CloudTrail records in: local files, S3 trail logs, LookupEvents, demo.

`load()` is the single entry point for the CLI and the console; `iter_chunks()` is the
same pipeline yielding `Chunk`s as they are decoded, so the console can fill panes early.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime


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
