"""Local CloudTrail files and folders: .json.gz, .json, .jsonl and lookup-events output.

Files are decoded in worker processes (decompress + JSON is CPU-bound, two cores here) and
come back as columns, never row objects.  Each source keeps a `FileReader`, so a record's
verbatim text is read back from the file on demand rather than held in memory.
"""
from __future__ import annotations

import hashlib
import itertools
import multiprocessing
import os
import threading
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterable, Iterator

from ddbtrail.events import Chunk, SourceInfo
from loaders.decode import assemble_chunk, decompress, read_file_records, skip_by_name


@lru_cache(maxsize=8)
def _file_text(path: str, mtime_ns: int, size: int) -> bytes:
    with open(path, "rb") as handle:
        return decompress(handle.read())


class FileReader:
    """Reads record spans back from a local file (gunzipped again; the last few cached)."""

    def __init__(self, path: str):
        self.path = path

    def read(self, spans: list[tuple[int, int]]) -> list[bytes]:
        stat = os.stat(self.path)
        text = _file_text(self.path, stat.st_mtime_ns, stat.st_size)
        return [text[offset:offset + length] for offset, length in spans]


@dataclass
class Parsed:
    """A batch of files decoded together: one chunk holding the records of all of them."""

    chunk: Chunk | None
    files: int = 0                                                    # files in the batch
    read: list[tuple[str, int]] = field(default_factory=list)        # (name, size) loaded
    skipped: list[tuple[str, str]] = field(default_factory=list)     # (name, reason) left out whole
    rejected: list[tuple[str, list]] = field(default_factory=list)   # (name, [(position, reason)])


def _read_one(path: str, name: str):
    """(source, decoded records | None, skip reason | None, bad records) of one file."""
    reason = skip_by_name(name)
    if reason:
        return None, None, reason, []
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        return None, None, f"unreadable ({exc.strerror or exc})", []
    source = SourceInfo(name=name, kind="s3" if name.startswith("s3://") else "file",
                        size=len(data), sha256=hashlib.sha256(data).hexdigest())
    try:
        part, reason, bad = read_file_records(data, source, FileReader(os.path.abspath(path)))
    except Exception as exc:  # one file that trips the decoder must not stop the load
        return None, None, f"could not be decoded ({type(exc).__name__}: {exc})", []
    return source, part, reason, bad


def parse_batch(items: list[tuple[str, str]], all_sources: bool = False) -> Parsed:
    """Decode (path, name) files into one Parsed; `name` is the origin shown to users
    (e.g. the s3:// URI of a cached S3 object).  Each SourceInfo carries the size and
    SHA-256 of the bytes as read (for manifests)."""
    parsed = Parsed(chunk=None, files=len(items))
    parts, sources = [], []
    for path, name in items:
        source, part, reason, bad = _read_one(path, name)
        if part is None:
            parsed.skipped.append((name, reason))
            continue
        parts.append(part)
        sources.append(source)
        parsed.read.append((name, source.size))
        if bad:
            parsed.rejected.append((name, bad))
    if parts:
        try:
            parsed.chunk = assemble_chunk(parts, sources, all_sources)
        except Exception:  # a file that trips the normaliser must not cost its batch
            keep = []
            for i, (part, source) in enumerate(zip(parts, sources)):
                try:
                    assemble_chunk([part], [source], all_sources)
                    keep.append(i)
                except Exception as exc:
                    parsed.read.remove((source.name, source.size))
                    parsed.skipped.append((source.name, f"could not be decoded ({type(exc).__name__}: {exc})"))
            if keep:
                parsed.chunk = assemble_chunk([parts[i] for i in keep], [sources[i] for i in keep], all_sources)
    return parsed


def parse_file(path: str, name: str | None = None,
               all_sources: bool = False) -> tuple[Chunk | None, str | None]:
    """Parse one local file into a Chunk, or say why it was skipped; records that could
    not be used are listed in `chunk.rejected` as (position, reason)."""
    parsed = parse_batch([(path, name or path)], all_sources)
    if parsed.chunk is None:
        return None, parsed.skipped[0][1] if parsed.skipped else None
    parsed.chunk.rejected = parsed.rejected[0][1] if parsed.rejected else []
    return parsed.chunk, None


#: Files decoded in-process before worker processes start: small loads (tests, a
#: single download) finish before a pool would have imported pandas.
INLINE_FILES = 16


def local_files(path: str) -> tuple[list[str], list[tuple[str, str]]]:
    """The file itself, or every file under a folder (recursively, in name order),
    and the (folder, reason) of sub-folders that could not be listed."""
    if not os.path.isdir(path):
        return [path], []
    found, unreadable = [], []
    walk = os.walk(path, onerror=lambda exc: unreadable.append(
        (exc.filename, f"unreadable folder ({exc.strerror or exc})")))
    for folder, dirs, files in walk:
        dirs.sort()
        found.extend(os.path.join(folder, name) for name in sorted(files))
    return found, unreadable


#: A batch closes at this many files or bytes: big enough that per-batch costs vanish
#: beside per-record ones, small enough that both cores stay busy and memory stays flat.
BATCH_FILES = 64
BATCH_BYTES = 2 << 20


def _batches(items: Iterable[tuple[str, str]]) -> Iterator[list[tuple[str, str]]]:
    batch, size = [], 0
    for path, name in items:
        batch.append((path, name))
        size += file_size(path)
        if len(batch) >= BATCH_FILES or size >= BATCH_BYTES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def file_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def parse_files(items: Iterable[tuple[str, str]], all_sources: bool, workers: int | None,
                cancel: threading.Event) -> Iterator[Parsed]:
    """A Parsed per batch of (path, name) files, in order, decoded in worker processes.

    `items` may be a stream (S3 downloads as they finish).  Stops early when `cancel` is
    set; at most a few batches per worker are in flight, which bounds memory.  If the
    worker processes die (e.g. a script without a `__main__` guard re-runs itself in
    them), the remaining files are decoded here: a load never silently loses files.
    """
    items = iter(items)
    inline = list(itertools.islice(items, INLINE_FILES))
    if inline and not cancel.is_set():
        yield parse_batch(inline, all_sources)
    workers = workers or os.cpu_count() or 1
    batches = _batches(items)
    if workers == 1:
        for batch in batches:
            if cancel.is_set():
                return
            yield parse_batch(batch, all_sources)
        return
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["loaders.local"])
    pool = ProcessPoolExecutor(workers, mp_context=context)
    pending: deque = deque()

    def result(batch, future) -> Parsed:
        try:
            return future.result()
        except BrokenProcessPool:
            return parse_batch(batch, all_sources)

    try:
        for batch in batches:
            if cancel.is_set():
                return
            pending.append((batch, pool.submit(parse_batch, batch, all_sources)))
            while len(pending) >= 2 * workers:
                yield result(*pending.popleft())
        while pending and not cancel.is_set():
            yield result(*pending.popleft())
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
