"""One file's bytes -> records and spans, or a precise reason to skip it."""
from __future__ import annotations

import gzip
import json

import pytest

from loaders.local import parse_file
from tests.records import lookup_output, management_record, old_record, record


def write(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def records_json(*records) -> bytes:
    return json.dumps({"Records": list(records)}).encode()


def raw_texts(chunk) -> list[bytes]:
    return chunk.sources[0].reader.read(list(zip(chunk.offset.tolist(), chunk.length.tolist())))


def test_gzip_is_sniffed_by_magic_bytes_not_name(tmp_path):
    path = write(tmp_path, "misleading.txt", gzip.compress(records_json(record(), management_record())))
    chunk, reason = parse_file(path)
    assert reason is None
    assert chunk.values("operation") == ["GetItem", "DescribeTable"]


def test_plain_json_named_gz_is_read_as_text(tmp_path):
    chunk, reason = parse_file(write(tmp_path, "plain.json.gz", records_json(record())))
    assert reason is None and len(chunk) == 1


def test_spans_are_the_exact_record_bytes(tmp_path):
    text = b'{"Records": [ ' + json.dumps(record(eventID="a")).encode() + b' ,\n\t' + \
        json.dumps(record(eventID="b"), indent=2).encode() + b"]}"
    chunk, _ = parse_file(write(tmp_path, "spaced.json", text))
    first, second = raw_texts(chunk)
    assert json.loads(first)["eventID"] == "a" and json.loads(second)["eventID"] == "b"
    assert text.index(first) == chunk.offset[0] and text.index(second) == chunk.offset[1]


def test_json_lines_with_one_broken_line_keeps_the_rest(tmp_path):
    lines = [json.dumps(record(eventID="1")), '{"eventTime": "2026-11-20T10:00:00Z", "eventNa',
             "", json.dumps(record(eventID="3"))]
    chunk, reason = parse_file(write(tmp_path, "events.jsonl", "\n".join(lines).encode()))
    assert reason is None
    assert chunk.values("event_id") == ["1", "3"]
    [(position, why)] = chunk.rejected
    assert position == 1 and why.startswith("line 2: not valid JSON")
    assert raw_texts(chunk) == [lines[0].encode(), lines[3].encode()]


def test_crlf_json_lines(tmp_path):
    text = (json.dumps(record(eventID="1")) + "\r\n" + json.dumps(record(eventID="2")) + "\r\n").encode()
    chunk, _ = parse_file(write(tmp_path, "events.jsonl", text))
    assert [json.loads(t)["eventID"] for t in raw_texts(chunk)] == ["1", "2"]


def test_lookup_events_output_keeps_the_unescaped_record(tmp_path):
    recs = [management_record(readOnly="true"), record(eventID="x")]
    chunk, reason = parse_file(write(tmp_path, "lookup.json", json.dumps(lookup_output(recs)).encode()))
    assert reason is None
    assert raw_texts(chunk) == [json.dumps(r).encode() for r in recs]
    assert chunk.values("read_only") == [1, 1]


def test_single_record_object_loads(tmp_path):
    chunk, reason = parse_file(write(tmp_path, "one.json", json.dumps(record()).encode()))
    assert reason is None and len(chunk) == 1


@pytest.mark.parametrize("name, data, expected", [
    ("empty.json.gz", b"", "empty file"),
    ("blank.json", b"  \n ", "empty file"),
    ("truncated.json.gz", gzip.compress(records_json(record()))[:-12], "truncated gzip"),
    ("corrupt.json.gz", b"\x1f\x8b\x08\x00" + b"\x00" * 6 + b"garbage" * 20, "corrupt gzip"),
    ("truncated.json", records_json(record())[:-40], "not valid JSON"),
    ("notes.json", b"just some text", "not valid JSON"),
    ("config.json", b'{"version": 2, "settings": {}}', "not CloudTrail"),
    ("list.json", b'[1, 2, 3]', "not CloudTrail"),
    ("records.json", b'{"Records": 5}', "not CloudTrail"),
    ("bad-records.json", b'{"Records": [1, "x"]}', "no usable records (2 rejected; first: record 0: not a JSON object)"),
    ("objects.jsonl", b'{"a": 1}\n{"b": 2}\n', "no usable records"),
    ("digest.json.gz", gzip.compress(json.dumps({"awsAccountId": "1", "digestStartTime": "2026-11-20T10:00:00Z",
                                                 "digestEndTime": "x", "logFiles": []}).encode()),
     "CloudTrail digest file"),
    ("123_CloudTrail-Digest_us-east-1_t_20261120T1000Z.json.gz", b"not even read", "CloudTrail digest file"),
    ("123_CloudTrail-Insight_us-east-1_20261120T1000Z_x.json.gz", b"not even read", "CloudTrail Insights file"),
    ("insights.json", records_json(record(eventCategory="Insight", insightDetails={"state": "Start"})),
     "CloudTrail Insights file"),
])
def test_unusable_files_are_skipped_with_a_precise_reason(tmp_path, name, data, expected):
    chunk, reason = parse_file(write(tmp_path, name, data))
    assert chunk is None
    assert reason.startswith(expected), reason


def test_unreadable_file(tmp_path):
    chunk, reason = parse_file(str(tmp_path / "missing.json.gz"))
    assert chunk is None and reason.startswith("unreadable")


def test_non_dynamodb_file_is_read_but_yields_no_rows(tmp_path):
    chunk, reason = parse_file(write(tmp_path, "s3.json", records_json(record(eventSource="s3.amazonaws.com"))))
    assert reason is None and len(chunk) == 0
    chunk, _ = parse_file(write(tmp_path, "s3b.json", records_json(record(eventSource="s3.amazonaws.com"))),
                          all_sources=True)
    assert len(chunk) == 1


def test_source_info_has_size_and_hash_of_the_bytes_as_read(tmp_path):
    import hashlib
    data = gzip.compress(records_json(record()))
    chunk, _ = parse_file(write(tmp_path, "a.json.gz", data), name="s3://bucket/a.json.gz")
    source = chunk.sources[0]
    assert (source.name, source.kind, source.size) == ("s3://bucket/a.json.gz", "s3", len(data))
    assert source.sha256 == hashlib.sha256(data).hexdigest()


def test_old_records_without_event_id_get_a_digest_key(tmp_path):
    chunk, _ = parse_file(write(tmp_path, "old.json", records_json(old_record(), record())))
    first, second = chunk.dedup_key
    assert len(first) == 32 and second == ""


@pytest.mark.parametrize("separators", [(",", ":"), (", ", ": ")])
def test_spans_of_compact_and_spaced_trail_files(tmp_path, separators):
    recs = [record(eventID=str(i), userAgent="x" * i) for i in range(5)]
    text = json.dumps({"Records": recs}, separators=separators).encode()
    chunk, _ = parse_file(write(tmp_path, "t.json.gz", gzip.compress(text)))
    assert raw_texts(chunk) == [json.dumps(r, separators=separators).encode() for r in recs]


def test_chunk_from_records_keeps_texts_in_the_sources_reader():
    from ddbtrail.events import EventTable, SourceInfo
    from loaders.decode import chunk_from_records

    texts = [json.dumps(record(eventID="1")).encode(), b"{not json", json.dumps(record(eventID="2")).encode()]
    source = SourceInfo("lookup:us-east-1", "lookup")
    chunk, bad = chunk_from_records(texts, source, False, positions=[50, 51, 52])
    assert bad == [(51, "record 51: not valid JSON (JSON is malformed: object keys must be strings (byte 1))")]
    assert chunk.position.tolist() == [50, 52]
    more, _ = chunk_from_records([json.dumps(record(eventID="3")).encode()], source, False)
    table = EventTable.from_chunks([chunk, more])
    assert table.raw(range(3)) == [texts[0], texts[2], json.dumps(record(eventID="3")).encode()]


def test_chunk_from_records_with_offsets_already_stored():
    from ddbtrail.events import SourceInfo
    from loaders.decode import MemoryReader, chunk_from_records

    reader = MemoryReader(b"prefix")
    text = json.dumps(record()).encode()
    source = SourceInfo("lookup:us-east-1", "lookup", reader=reader)
    chunk, _ = chunk_from_records([text], source, False, offsets=[reader.append(text)])
    assert source.reader is reader and reader.read([(int(chunk.offset[0]), int(chunk.length[0]))]) == [text]
