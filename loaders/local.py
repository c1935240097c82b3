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
from functools import lru_cache
from typing import Iterable, Iterator

from ddbtrail.events import Chunk, SourceInfo
from loaders.decode import decode_file, decompress, skip_by_name


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


def parse_file(path: str, name: str | None = None,
               all_sources: bool = False) -> tuple[Chunk | None, str | None]:
    """Parse one local file into a Chunk, or say why it was skipped.

    `name` is the origin shown to users (e.g. the s3:// URI of a cached S3 object).  The
    chunk's SourceInfo carries the size and SHA-256 of the bytes as read (for manifests);
    records that could not be used are listed in `chunk.rejected`.
    """
    name = name or path
    reason = skip_by_name(name)
    if reason:
        return None, reason
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        return None, f"unreadable ({exc.strerror or exc})"
    source = SourceInfo(name=name, kind="s3" if name.startswith("s3://") else "file",
                        size=len(data), sha256=hashlib.sha256(data).hexdigest())
    try:
        chunk, reason, rejected = decode_file(data, source, all_sources, FileReader(os.path.abspath(path)))
    except Exception as exc:  # one file that trips the decoder must not stop the load
        return None, f"could not be decoded ({type(exc).__name__}: {exc})"
    if chunk is not None:
        chunk.rejected = rejected
    return chunk, reason


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


def parse_files(items: Iterable[tuple[str, str]], all_sources: bool, workers: int | None,
                cancel: threading.Event) -> Iterator[tuple[str, Chunk | None, str | None]]:
    """(name, chunk, skip reason) for each (path, name), in order, decoded in processes.

    `items` may be a stream (S3 downloads as they finish).  Stops early when `cancel`
    is set; at most a few files per worker are in flight, which bounds memory.
    """
    items = iter(items)
    for path, name in itertools.islice(items, INLINE_FILES):
        if cancel.is_set():
            return
        yield name, *parse_file(path, name, all_sources)
    workers = workers or os.cpu_count() or 1
    if workers == 1:
        for path, name in items:
            if cancel.is_set():
                return
            yield name, *parse_file(path, name, all_sources)
        return
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["loaders.local"])
    pool = ProcessPoolExecutor(workers, mp_context=context)
    pending: deque = deque()
    try:
        for path, name in items:
            if cancel.is_set():
                return
            pending.append((name, pool.submit(parse_file, path, name, all_sources)))
            while len(pending) >= 3 * workers:
                name_done, future = pending.popleft()
                yield name_done, *future.result()
        while pending and not cancel.is_set():
            name_done, future = pending.popleft()
            yield name_done, *future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
