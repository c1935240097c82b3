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
import json
import re
import zlib

import msgspec
import numpy as np
import pyarrow as pa
from msgspec import Raw, Struct

from ddbtrail.events import CATEGORICAL, Chunk, SourceInfo, encode_strings, encode_tables, key_hashes
from loaders.normalise import Record, coerce, is_insight, normalise, parse_times, record_decoder

try:
    from isal import igzip as _gzip
    from isal.igzip_lib import IsalError
except ImportError:  # pragma: no cover - isal is a dependency; plain gzip is only slower
    _gzip, IsalError = gzip, zlib.error

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
    except (OSError, zlib.error, IsalError) as exc:
        raise ValueError(f"corrupt gzip ({exc})") from None


class MemoryReader:
    """Record texts kept in memory (API pages, lookup-events output), read back by span."""

    def __init__(self, data: bytes = b""):
        self.data = bytearray(data)

    def append(self, blob: bytes) -> int:
        """Store one record's text; returns its offset."""
        offset = len(self.data)
        self.data += blob
        return offset

    def read(self, spans: list[tuple[int, int]]) -> list[bytes]:
        return [bytes(self.data[offset:offset + length]) for offset, length in spans]


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
        spans = _record_spans(data, envelope.Records)
        if spans is None:  # msgspec copied the input: keep the texts in memory instead
            return _joined([bytes(r) for r in envelope.Records], [])
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


_BETWEEN = re.compile(rb"[ \t\r\n]*,?[ \t\r\n]*")


def _record_spans(data: bytes, raws: list[Raw]) -> list[tuple[int, int, int]] | None:
    """(position, offset, length) of each Raw inside `data`.

    Trail files are compact (`},{` between records): then every offset follows from the
    lengths, which the addresses of the first and last record confirm.  Otherwise the
    whitespace JSON allows between items is skipped record by record.  None if the Raws
    do not point into `data`.
    """
    if not raws:
        return []
    base = _address(data)
    first, last = _address(raws[0]) - base, _address(raws[-1]) - base
    lengths = np.fromiter(map(len, raws), dtype=np.int64, count=len(raws))
    if not 0 <= first <= last <= len(data) - lengths[-1]:
        return None
    offsets = first + np.concatenate(([0], np.cumsum(lengths[:-1] + 1)))
    if offsets[-1] != last:
        offset, walked = first, []
        for length in lengths.tolist():
            walked.append(offset)
            offset = _BETWEEN.match(data, offset + length).end()
        if walked[-1] != last:
            return None
        offsets = walked
    return list(zip(range(len(raws)), np.asarray(offsets).tolist(), lengths.tolist()))


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


def decode_spans(buffer: bytes, spans, line_numbers: bool = False,
                 stored_at: list[int] | None = None) -> tuple[list, list, list, list]:
    """Decode the records at `spans` of `buffer`: (records, located, digests, bad).

    `spans` are (position, offset, length); `stored_at[i]`, when given, is where span i's
    text lives in the source's reader if that differs from its offset in `buffer`.
    Records that are not JSON objects, not CloudTrail, or Insights events come back in
    `bad` as (position, reason); every other record is kept.
    """
    records, located, digests, bad = [], [], [], []
    view = memoryview(buffer)
    for index, (position, offset, length) in enumerate(spans):
        text = view[offset:offset + length]
        rec = _decode_record(text)
        if isinstance(rec, str):
            where = f"line {position + 1}" if line_numbers else f"record {position}"
            bad.append((position, f"{where}: {rec}"))
            continue
        records.append(rec)
        located.append((position, offset if stored_at is None else stored_at[index], length))
        # Old records have no eventID: a digest of their text stands in for de-duplication.
        digests.append("" if rec.eventID else hashlib.blake2b(text, digest_size=16).hexdigest())
    return records, located, digests, bad


def assemble_chunk(parts: list[tuple[list, list, list]], sources: list[SourceInfo],
                   all_sources: bool) -> Chunk:
    """Normalise and encode the decoded records of several sources into ONE Chunk.

    `parts[i]` is (records, located, digests) of `sources[i]`.  Normalising and
    dictionary-encoding once per batch rather than once per file is what makes trees of
    many small files (one per 5 minutes and region, as CloudTrail delivers) load fast.
    """
    records = [rec for part in parts for rec in part[0]]
    located = [span for part in parts for span in part[1]]
    digests = [digest for part in parts for digest in part[2]]
    origin = np.repeat(np.arange(len(parts), dtype=np.int64),
                       np.fromiter((len(part[0]) for part in parts), dtype=np.int64, count=len(parts)))
    strings, times, read_only, tables, kept = normalise(records, all_sources)
    spans_kept = np.array(located, dtype=np.int64).reshape(-1, 3)[kept]
    columns: dict[str, object] = {
        "time": parse_times(times),
        "read_only": np.array(read_only, dtype=np.int8),
    }
    for name, values in strings.items():
        columns[name] = encode_strings(values) if name in CATEGORICAL else pa.array(values, pa.string())
    dedup_key = [digests[i] for i in kept] if any(digests) else None
    hashes = key_hashes(strings["event_id"], dedup_key or [""] * len(kept))
    return Chunk(columns=columns, tables=encode_tables(tables), origin=origin[kept],
                 position=spans_kept[:, 0].copy(), offset=spans_kept[:, 1].copy(),
                 length=spans_kept[:, 2].copy(), sources=sources, dedup_key=dedup_key,
                 key_hash=hashes)


def build_chunk(buffer: bytes, spans, source: SourceInfo, all_sources: bool,
                line_numbers: bool = False,
                stored_at: list[int] | None = None) -> tuple[Chunk, list[tuple[int, str]]]:
    """Decode and normalise the records at `spans` of `buffer` (one source) into a Chunk;
    also returns (position, reason) of the records left out (see `decode_spans`)."""
    records, located, digests, bad = decode_spans(buffer, spans, line_numbers, stored_at)
    return assemble_chunk([(records, located, digests)], [source], all_sources), bad


def _decode_record(text) -> Record | str:
    """The record, or why it cannot be used."""
    try:
        rec = record_decoder.decode(text)
    except msgspec.ValidationError:  # a field of an unexpected type: load it leniently
        rec = coerce(Record, msgspec.json.decode(text))
    except msgspec.DecodeError as exc:
        rec = _decode_odd_text(text)
        if rec is None:
            return f"not valid JSON ({_short(exc)})"
    if rec is None:
        return "not a JSON object"
    if rec.eventTime is None and rec.eventName is None and rec.eventSource is None:
        return "not a CloudTrail record (no eventTime, eventName or eventSource)"
    if is_insight(rec):
        return "CloudTrail Insights event, not an API call"
    return rec


def _decode_odd_text(text) -> Record | None:
    """Records msgspec refuses but Python's json reads: lone surrogate escapes, bad UTF-8.

    The columns get U+FFFD / "?" for the unencodable parts; the verbatim bytes are untouched.
    """
    try:
        value = json.loads(bytes(text).decode("utf-8", "replace"))
    except ValueError:
        return None
    clean = json.dumps(value, ensure_ascii=False).encode("utf-8", "replace")
    return coerce(Record, msgspec.json.decode(clean))


def chunk_from_records(raws: list[bytes], source: SourceInfo, all_sources: bool,
                       positions: list[int] | None = None,
                       offsets: list[int] | None = None) -> tuple[Chunk, list[tuple[int, str]]]:
    """One Chunk from records that arrive one by one (LookupEvents pages).

    The raw texts are appended to the source's `MemoryReader` (created and set as
    `source.reader` if needed), so `EventTable.raw` returns each record verbatim; a
    caller that already stored them passes their `offsets` in that reader.  `positions`
    (default 0..n-1) are the records' positions in the source.  Returns the chunk and
    (position, reason) for each record that could not be used.
    """
    if offsets is None:
        if not isinstance(source.reader, MemoryReader):
            source.reader = MemoryReader()
        offsets = [source.reader.append(raw) for raw in raws]
    buffer, spans, *_ = _joined(raws, [])
    if positions is not None:
        spans = [(positions[i], offset, length) for i, (_, offset, length) in enumerate(spans)]
    return build_chunk(buffer, spans, source, all_sources, stored_at=offsets)


def read_file_records(data: bytes, source: SourceInfo, file_reader):
    """One file's bytes -> ((records, located, digests) | None, skip reason | None, bad).

    `file_reader` reads spans back from the file itself; it becomes the source's reader
    unless the records only exist decoded (lookup-events output), which stay in memory.
    A file none of whose records is usable gets a skip reason instead of records.
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
    records, located, digests, more_bad = decode_spans(buffer, spans, line_numbers=lines)
    bad += more_bad
    if not records and spans and len(bad) >= len(spans):
        if all("Insights event" in r for _, r in bad):
            return None, INSIGHT_FILE, []
        first = bad[0][1]
        return None, (f"not CloudTrail: {first}" if len(bad) == 1 else
                      f"no usable records ({len(bad)} rejected; first: {first})"), []
    return (records, located, digests), None, bad
