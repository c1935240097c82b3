"""Exports: byte-exact evidence, safe spreadsheets, faithful parquet, honest manifests."""
import csv
import hashlib
import json
import threading

import numpy as np
import pyarrow.parquet as pq
import pytest

import ddbtrail
from ddbtrail.events import COLUMNS, Chunk, EventTable, SourceInfo
from ddbtrail.export import EXPORT_COLUMNS, ExportCancelled, export, manifest_path


class FileSpans:
    """Reads record text back from an uncompressed file by (offset, length)."""

    def __init__(self, path):
        self.path = path

    def read(self, spans):
        with open(self.path, "rb") as f:
            out = []
            for offset, length in spans:
                f.seek(offset)
                out.append(f.read(length))
            return out


def write_source(path, texts: list[bytes]) -> list[tuple[int, int]]:
    """Write a CloudTrail file around these exact record texts; return their spans."""
    head, sep = b'{"Records":[\n  ', b',\n  '
    spans, body, offset = [], [head], len(head)
    for i, text in enumerate(texts):
        if i:
            body.append(sep)
            offset += len(sep)
        spans.append((offset, len(text)))
        body.append(text)
        offset += len(text)
    body.append(b"\n]}\n")
    path.write_bytes(b"".join(body))
    return spans


def row(i: int, **values) -> dict:
    base = {name: "" for name in COLUMNS if name not in ("tables", "origin")}
    base.update(time=np.int64(1_790_000_000_000_000_000 + i * 1_000_000_000), read_only=1,
                operation="GetItem", source="dynamodb.amazonaws.com", plane="data",
                principal="arn:aws:iam::111122223333:role/App", event_id=f"id-{i}",
                region="us-gov-west-1")
    base.update(values)
    return base


def make_table(tmp_path, files: dict[str, list[tuple[bytes, dict]]]) -> EventTable:
    """An event table over hand-written source files: name -> [(record text, columns)]."""
    chunks = []
    for name, records in files.items():
        path = tmp_path / name
        spans = write_source(path, [text for text, _ in records])
        data = path.read_bytes()
        info = SourceInfo(name=str(path), kind="file", size=len(data),
                          sha256=hashlib.sha256(data).hexdigest(), reader=FileSpans(path))
        cols = [columns for _, columns in records]
        chunks.append(Chunk(
            columns={k: (np.array([c[k] for c in cols], dtype=np.int64) if k == "time"
                         else np.array([c[k] for c in cols], dtype=np.int8) if k == "read_only"
                         else [c[k] for c in cols])
                     for k in cols[0] if k != "tables"},
            tables=[tuple(c.get("tables", ())) for c in cols],
            origin=np.zeros(len(cols), dtype=np.int64),
            position=np.arange(len(cols)), offset=np.array([s[0] for s in spans]),
            length=np.array([s[1] for s in spans]), sources=[info]))
    return EventTable.from_chunks(chunks)


# Record texts as they could stand in a source: odd spacing, unicode escapes, raw UTF-8,
# a pretty-printed record, a hostile user agent.
ODD = [
    b'{"eventVersion":"1.09","eventTime":"2026-09-21T14:13:20Z","eventName":"GetItem","eventID":"id-0"}',
    b'{ "eventTime" : "2026-09-21T14:13:21Z" ,\t"eventName":"PutItem", "userAgent":"caf\\u00e9 \\ud83d\\ude00 \\"q\\"", "eventID":"id-1" }',
    '{"eventTime":"2026-09-21T14:13:22Z","eventName":"Query","userAgent":"שלום\u200b","eventID":"id-2"}'.encode(),
    b'{\n    "eventTime": "2026-09-21T14:13:23Z",\r\n    "eventName": "Scan",\n    "eventID": "id-3"\n  }',
]
HOSTILE = ["=HYPERLINK(\"http://evil\")", "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "\rCR",
           "[bold red]markup[/]", "\x1b]52;c;ZXZpbA==\x07", "x" * 10_000]


@pytest.fixture
def table(tmp_path):
    return make_table(tmp_path, {
        "a.json": [(ODD[i], row(i, operation=json.loads(ODD[i])["eventName"])) for i in range(4)],
        "b.json": [(b'{"eventName":"BatchWriteItem","eventID":"id-4"}',
                    row(4, operation="BatchWriteItem", tables=("Orders", "Customers"), read_only=0,
                        user_agent=HOSTILE[0], error="AccessDenied", error_message=HOSTILE[7])),
                   (b'{"eventName":"DeleteItem","eventID":"id-5"}',
                    row(5, operation="DeleteItem", read_only=-1, principal=HOSTILE[1],
                        user_agent=HOSTILE[8], ip=HOSTILE[6]))],
    })


def test_jsonl_holds_the_exact_source_bytes(table, tmp_path):
    out = tmp_path / "out.jsonl"
    manifest = export(table, range(len(table)), "jsonl", out)
    lines = out.read_bytes().split(b"\n")
    assert lines[-1] == b""
    source = (tmp_path / "a.json").read_bytes()
    for line, text in zip(lines, ODD[:3]):
        assert line == text and text in source
    # The pretty-printed record keeps its bytes except line breaks, which become spaces.
    assert lines[3] == ODD[3].replace(b"\r", b" ").replace(b"\n", b" ")
    assert [json.loads(line)["eventID"] for line in lines[:-1]] == [f"id-{i}" for i in range(6)]
    assert manifest["line_breaks_replaced"] == 1


def test_jsonl_keeps_the_requested_row_order(table, tmp_path):
    out = tmp_path / "out.jsonl"
    export(table, [5, 0, 2], "jsonl", out)
    assert out.read_bytes() == b"".join(table.raw([5, 0, 2])[i] + b"\n" for i in range(3))
    assert [json.loads(x)["eventID"] for x in out.read_bytes().splitlines()] == ["id-5", "id-0", "id-2"]


def test_cloudtrail_export_reparses_to_the_same_records(table, tmp_path):
    out = tmp_path / "out.json"
    export(table, range(len(table)), "cloudtrail", out)
    data = out.read_bytes()
    assert data.startswith(b'{"Records":[') and data.endswith(b"]}")
    assert json.loads(data)["Records"] == [json.loads(text) for text in table.raw(range(len(table)))]
    assert ODD[1] in data  # verbatim, escapes untouched


def test_cloudtrail_export_of_nothing_is_valid(table, tmp_path):
    out = tmp_path / "none.json"
    manifest = export(table, [], "cloudtrail", out)
    assert json.loads(out.read_bytes()) == {"Records": []}
    assert manifest["records"] == 0 and manifest["sources"] == []


def test_csv_neutralises_formulas_and_round_trips(table, tmp_path):
    out = tmp_path / "out.csv"
    export(table, range(len(table)), "csv", out)
    with open(out, newline="", encoding="utf-8") as f:
        got = list(csv.reader(f))
    assert tuple(got[0]) == EXPORT_COLUMNS
    assert len(got) == 1 + len(table)
    formula_start = ("=", "+", "-", "@", "\t", "\r")
    cells = [cell for line in got[1:] for cell in line]
    assert not any(cell.startswith(formula_start) for cell in cells)
    by_id = {line[EXPORT_COLUMNS.index("event_id")]: dict(zip(EXPORT_COLUMNS, line)) for line in got[1:]}
    batch = by_id["id-4"]
    assert batch["tables"] == "Orders,Customers"
    assert batch["error"] == "AccessDenied"
    assert "HYPERLINK" in batch["user_agent"]
    assert batch["read_only"] == "false"
    assert batch["time"] == "2026-09-21T14:13:24Z"
    delete = by_id["id-5"]
    assert delete["read_only"] == ""
    assert "markup" in delete["ip"] and "1+1" in delete["principal"]
    assert len(delete["user_agent"]) >= 10_000
    assert by_id["id-0"]["read_only"] == "true" and by_id["id-0"]["position"] == "0"


def test_parquet_reads_back_to_the_table_values(table, tmp_path):
    out = tmp_path / "out.parquet"
    export(table, range(len(table)), "parquet", out)
    back = pq.read_table(out)
    assert tuple(back.column_names) == EXPORT_COLUMNS
    assert str(back.schema.field("time").type) == "timestamp[ns, tz=UTC]"
    df = back.to_pandas()
    assert list(df["time"]) == list(table.df["time"])
    assert list(df["read_only"]) == [True, True, True, True, False, None]
    for name in ("operation", "principal", "tables", "user_agent", "ip", "event_id", "error_message"):
        assert list(df[name]) == [str(v) for v in table.df[name]]
    assert list(df["position"]) == [0, 1, 2, 3, 0, 1]


@pytest.mark.parametrize("fmt, name", [("jsonl", "o.jsonl"), ("cloudtrail", "o.json"),
                                       ("csv", "o.csv"), ("parquet", "o.parquet")])
def test_manifest_names_query_sources_and_output_hash(table, tmp_path, fmt, name):
    out = tmp_path / name
    returned = export(table, [0, 4, 5], fmt, out, query="error:* op:BatchWriteItem", marks=[4])
    manifest = json.loads(manifest_path(out).read_text(encoding="utf-8"))
    assert manifest == returned
    assert manifest["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert manifest["bytes"] == out.stat().st_size
    assert manifest["version"] == ddbtrail.__version__
    assert manifest["query"] == "error:* op:BatchWriteItem"
    assert manifest["format"] == fmt and manifest["records"] == 3
    assert manifest["created"].endswith("Z")
    expected_sources = []
    for source, n in (("a.json", 1), ("b.json", 2)):
        data = (tmp_path / source).read_bytes()
        expected_sources.append({"name": str(tmp_path / source), "kind": "file", "size": len(data),
                                 "sha256": hashlib.sha256(data).hexdigest(), "records": n})
    assert manifest["sources"] == expected_sources
    assert manifest["marks"] == [{"event_id": "id-4", "origin": str(tmp_path / "b.json"), "position": 0}]


def test_manifest_lists_only_sources_of_exported_rows(table, tmp_path):
    manifest = export(table, [1, 2], "jsonl", tmp_path / "o.jsonl")
    assert [s["name"] for s in manifest["sources"]] == [str(tmp_path / "a.json")]
    assert manifest["sources_loaded"] == 2


def test_progress_reports_batches(tmp_path, monkeypatch):
    many = make_table(tmp_path, {"m.json": [(b'{"eventID":"id-%d"}' % i, row(i)) for i in range(25)]})
    monkeypatch.setattr("ddbtrail.export.BATCH_ROWS", 10)
    seen = []
    export(many, range(25), "jsonl", tmp_path / "m.jsonl", progress=lambda done, total: seen.append((done, total)))
    assert seen == [(10, 25), (20, 25), (25, 25)]


@pytest.mark.parametrize("fmt", ["jsonl", "cloudtrail", "csv", "parquet"])
def test_cancel_midway_leaves_nothing(tmp_path, monkeypatch, fmt):
    many = make_table(tmp_path, {"m.json": [(b'{"eventID":"id-%d"}' % i, row(i)) for i in range(25)]})
    monkeypatch.setattr("ddbtrail.export.BATCH_ROWS", 10)
    cancel = threading.Event()
    before = set(tmp_path.iterdir())
    with pytest.raises(ExportCancelled):
        export(many, range(25), fmt, tmp_path / "out", cancel=cancel,
               progress=lambda done, total: cancel.set())
    assert set(tmp_path.iterdir()) == before


def test_cancel_keeps_an_earlier_export_intact(table, tmp_path):
    out = tmp_path / "o.jsonl"
    export(table, [0], "jsonl", out)
    kept = out.read_bytes(), manifest_path(out).read_bytes()
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(ExportCancelled):
        export(table, range(len(table)), "jsonl", out, cancel=cancel)
    assert (out.read_bytes(), manifest_path(out).read_bytes()) == kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.json", "o.jsonl", "o.jsonl.manifest.json"]


def test_unknown_format_is_refused(table, tmp_path):
    with pytest.raises(ValueError, match="jsonl, cloudtrail, csv, parquet"):
        export(table, [0], "xlsx", tmp_path / "o.xlsx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.json"]
