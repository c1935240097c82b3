"""Bytes of one CloudTrail file -> the byte span of every record + its table columns.

Gzip is recognised by its magic bytes, whatever the file is called.  The record list is
decoded once into `msgspec.Raw` values, which point into the decompressed buffer without
copying; their addresses give each record's exact (offset, length), so the verbatim text
can be read back later instead of being kept on the heap.  Each record is then decoded
into the small `Record` struct (unknown fields skipped in C) and normalised in bulk.
"""
from __future__ import annotations

import gzip
import hashlib
import zlib
from collections import OrderedDict

import msgspec
import numpy as np
import pandas as pd
import pyarrow as pa
from msgspec import Raw, Struct

from ddbtrail.events import CATEGORICAL, Chunk, SourceInfo
from loaders.normalise import Record, coerce, is_insight, normalise, parse_times, record_decoder

try:
    from isal import igzip as _gzip
except ImportError:  # pragma: no cover - isal is a dependency; plain gzip is only slower
    _gzip = gzip

GZIP_MAGIC = b"\x1f\x8b"
DIGEST_FILE = "CloudTrail digest file (log-integrity hashes, no events)"
INSIGHT_FILE = "CloudTrail Insights file (anomaly summaries, not API calls)"
MAX_REASON = 200


class LookupEvent(Struct):
    CloudTrailEvent: str | None = None


class Envelope(Struct):
    Records: list[Raw] | None = None
    Events: list[LookupEvent] | None = None
    digestStartTime: Raw = Raw(b"")


envelope_decoder = msgspec.json.Decoder(Envelope)


def skip_by_name(name: str) -> str | None:
    """Reason to skip a file from its name alone (CloudTrail names digests and Insights)."""
    if "CloudTrail-Digest" in name:
        return DIGEST_FILE
    if "CloudTrail-Insight" in name:
        return INSIGHT_FILE
    return None


def decompress(data: bytes) -> bytes:
    """Gunzip when the bytes start with the gzip magic; ValueError says what is wrong."""
    if not data.startswith(GZIP_MAGIC):
        return data
    try:
        return _gzip.decompress(data)
    except EOFError:
        raise ValueError("truncated gzip (the compressed stream ends early)") from None
    except (OSError, zlib.error) as exc:
        raise ValueError(f"corrupt gzip ({exc})") from None


class MemoryReader:
    """Reads record spans from a buffer kept in memory (API pages, lookup-events output)."""

    def __init__(self, buffer: bytes):
        self.buffer = buffer

    def read(self, spans: list[tuple[int, int]]) -> list[bytes]:
        return [self.buffer[offset:offset + length] for offset, length in spans]


def _address(buffer) -> int:
    return np.frombuffer(buffer, np.uint8).__array_interface__["data"][0]


def _short(message: str) -> str:
    message = str(message)
    return message if len(message) <= MAX_REASON else message[:MAX_REASON] + "…"


def split_records(data: bytes):
    """Find the records in one decompressed file.

    Returns (buffer, spans, bad, reason, lines): `spans` are (position, offset, length)
    into `buffer` (the file's text, or the joined CloudTrailEvent strings of
    lookup-events output, which then is not the file's bytes); `bad` lists (position,
    reason) of records that cannot be used; `reason` is set when the whole file is
    unusable; `lines` is true for JSON Lines, whose positions are line numbers.
    """
    text = data.strip()
    if not text:
        return data, [], [], "empty file", False
    try:
        envelope = envelope_decoder.decode(data)
    except msgspec.ValidationError as exc:
        return data, [], [], f"not CloudTrail: {_short(exc)}", False
    except msgspec.DecodeError as exc:
        if b"\n" in text:
            return _split_lines(data)
        return data, [], [], f"not valid JSON ({_short(exc)})", False
    if envelope.digestStartTime:
        return data, [], [], DIGEST_FILE, False
    if envelope.Records is not None:
        base, end = _address(data), len(data)
        spans = []
        for position, raw in enumerate(envelope.Records):
            view = memoryview(raw)
            offset = _address(view) - base if view.nbytes else -1
            if not 0 <= offset <= end - view.nbytes:  # msgspec copied: keep the text in memory
                return _joined([bytes(r) for r in envelope.Records], [])
            spans.append((position, offset, view.nbytes))
        return data, spans, [], None, False
    if envelope.Events is not None:
        texts, bad = [], []
        for position, event in enumerate(envelope.Events):
            if event.CloudTrailEvent is None:
                bad.append((position, f"event {position}: no CloudTrailEvent"))
            texts.append((event.CloudTrailEvent or "").encode())
        return _joined(texts, bad)
    if text.startswith(b"{"):  # a single record on its own
        return _split_lines(data)
    return data, [], [], "not CloudTrail: JSON without Records or Events", False


def _joined(texts: list[bytes], bad: list[tuple[int, str]]):
    buffer = b"\n".join(texts)
    spans, offset = [], 0
    bad_positions = {p for p, _ in bad}
    for position, text in enumerate(texts):
        if position not in bad_positions:
            spans.append((position, offset, len(text)))
        offset += len(text) + 1
    return buffer, spans, bad, None, False


def _split_lines(data: bytes):
    """JSON Lines: one record per line; blank lines ignored."""
    spans, offset = [], 0
    for position, line in enumerate(data.split(b"\n")):
        stripped = line.strip()
        if stripped:
            spans.append((position, offset + line.index(stripped[:1]), len(stripped)))
        offset += len(line) + 1
    return data, spans, [], None, True


def build_chunk(buffer: bytes, spans, source: SourceInfo, all_sources: bool,
                line_numbers: bool = False) -> tuple[Chunk, list[tuple[int, str]]]:
    """Decode and normalise the records at `spans` of `buffer` into one Chunk.

    Records that are not JSON objects, not CloudTrail, or Insights events are returned as
    (position, reason) and left out; every other record is kept.
    """
    view = memoryview(buffer)
    records, kept_spans, bad = [], [], []
    for position, offset, length in spans:
        text = view[offset:offset + length]
        where = f"line {position + 1}" if line_numbers else f"record {position}"
        try:
            rec = record_decoder.decode(text)
        except msgspec.ValidationError:
            try:
                rec = coerce(Record, msgspec.json.decode(text))
            except msgspec.DecodeError as exc:
                bad.append((position, f"{where}: not valid JSON ({_short(exc)})"))
                continue
            if rec is None:
                bad.append((position, f"{where}: not a JSON object"))
                continue
        except msgspec.DecodeError as exc:
            bad.append((position, f"{where}: not valid JSON ({_short(exc)})"))
            continue
        if rec.eventTime is None and rec.eventName is None and rec.eventSource is None:
            bad.append((position, f"{where}: not a CloudTrail record (no eventTime, eventName or eventSource)"))
            continue
        if is_insight(rec):
            bad.append((position, f"{where}: CloudTrail Insights event, not an API call"))
            continue
        records.append(rec)
        kept_spans.append((position, offset, length))
    strings, times, read_only, tables, kept = normalise(records, all_sources)
    located = np.array([kept_spans[i] for i in kept], dtype=np.int64).reshape(-1, 3)
    columns: dict[str, object] = {
        "time": parse_times(times),
        "read_only": np.array(read_only, dtype=np.int8),
    }
    for name, values in strings.items():
        columns[name] = (pd.Categorical(values) if name in CATEGORICAL
                         else pa.array(values, pa.string()))
    dedup_key = None
    if "" in strings["event_id"]:
        dedup_key = [hashlib.blake2b(view[offset:offset + length], digest_size=16).hexdigest()
                     if not event_id else ""
                     for event_id, (_, offset, length) in zip(strings["event_id"], located.tolist())]
    chunk = Chunk(columns=columns, tables=tables, origin=np.zeros(len(kept), dtype=np.int64),
                  position=located[:, 0].copy(), offset=located[:, 1].copy(),
                  length=located[:, 2].copy(), sources=[source], dedup_key=dedup_key)
    return chunk, bad


def chunk_from_records(raws: list[bytes], source: SourceInfo, all_sources: bool,
                       positions: list[int] | None = None) -> tuple[Chunk, list[tuple[int, str]]]:
    """One Chunk from records that arrive one by one (LookupEvents pages).

    The raw texts are joined into a `MemoryReader` set as `source.reader`, so
    `EventTable.raw` returns each record verbatim.  `positions` (default 0..n-1) are the
    records' positions in the source.  Returns the chunk and (position, reason) for each
    record that could not be used.
    """
    buffer, spans, *_ = _joined(raws, [])
    if positions is not None:
        spans = [(positions[i], offset, length) for i, (_, offset, length) in enumerate(spans)]
    source.reader = MemoryReader(buffer)
    return build_chunk(buffer, spans, source, all_sources)


def decode_file(data: bytes, source: SourceInfo, all_sources: bool, file_reader):
    """One file's bytes -> (chunk | None, skip reason | None, bad records).

    `file_reader` reads spans back from the file itself; it becomes the source's reader
    unless the records only exist decoded (lookup-events output), which stay in memory.
    """
    if not data:
        return None, "empty file", []
    try:
        text = decompress(data)
    except ValueError as exc:
        return None, str(exc), []
    buffer, spans, bad, reason, lines = split_records(text)
    if reason:
        return None, reason, bad
    source.reader = file_reader if buffer is text else MemoryReader(buffer)
    chunk, more_bad = build_chunk(buffer, spans, source, all_sources, line_numbers=lines)
    bad += more_bad
    if not len(chunk) and spans and len(bad) >= len(spans):
        if all("Insights event" in r for _, r in bad):
            return None, INSIGHT_FILE, []
        first = bad[0][1]
        return None, (f"not CloudTrail: {first}" if len(bad) == 1 else
                      f"no usable records ({len(bad)} rejected; first: {first})"), []
    return chunk, None, bad

