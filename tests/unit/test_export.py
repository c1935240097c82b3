"""Exports: byte-exact evidence, safe spreadsheets, faithful parquet, honest manifests.

Tables are loaded through the real pipeline from source files written by hand, so "the
exact source bytes" is checked against the file, not against what a helper put in a table.
"""
import csv
import hashlib
import json
import threading

import pyarrow.parquet as pq
import pytest

import ddbtrail
from ddbtrail.export import EXPORT_COLUMNS, ExportCancelled, export, manifest_path
from loaders import LoadOptions, load
from tests.records import iam_user, record, table_arn


def at(i: int, **fields) -> dict:
    """Record number i: its own eventID and a time i seconds into the day, so rows sort by i."""
    return record(eventID=f"id-{i}", eventTime=f"2026-11-20T10:00:{i:02d}Z", **fields)


def compact(rec: dict) -> bytes:
    return json.dumps(rec, separators=(",", ":")).encode()


def write_source(path, texts: list[bytes]) -> None:
    """A CloudTrail file around these exact record texts, laid out like a human would."""
    path.write_bytes(b'{"Records":[\n  ' + b",\n  ".join(texts) + b"\n]}\n")


def load_dir(folder):
    table, _report = load([str(folder)], LoadOptions())
    return table


# Record texts as they could stand in a source: compact, odd spacing with \u escapes,
# raw UTF-8 with RTL and zero-width characters, pretty-printed with CRLF line breaks.
ODD = [
    compact(at(0)),
    json.dumps(at(1, eventName="PutItem", readOnly=False, userAgent='caf\u00e9 \U0001F600 "q"'),
               separators=(" ,\t", " : "), ensure_ascii=True).encode(),
    json.dumps(at(2, eventName="Query", userAgent="\u05e9\u05dc\u05d5\u05dd\u200b"), ensure_ascii=False).encode(),
    json.dumps(at(3, eventName="Scan"), indent=2).replace("\n", "\r\n").encode(),
]
HOSTILE = ["=HYPERLINK(\"http://evil\")", "+1+1", "[bold red]markup[/]", "\x1b]52;c;ZXZpbA==\x07",
           "x" * 10_000, "-2+3"]
OTHER = [
    compact(at(4, eventName="BatchWriteItem", readOnly=False, userAgent=HOSTILE[0],
               errorCode="AccessDenied", errorMessage=HOSTILE[3],
               requestParameters={"requestItems": {"Orders": [], "Customers": []}},
               resources=[{"type": "AWS::DynamoDB::Table", "ARN": table_arn("Orders")},
                          {"type": "AWS::DynamoDB::Table", "ARN": table_arn("Customers")}])),
    compact(at(5, eventName="DeleteItem", readOnly=None, userIdentity=iam_user(HOSTILE[1]),
               userAgent=HOSTILE[4], sourceIPAddress=HOSTILE[2], errorCode=HOSTILE[5])),
]


@pytest.fixture
def table(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    write_source(src / "a.json", ODD)
    write_source(src / "b.json", OTHER)
    return load_dir(src)


def many(tmp_path, n: int = 25):
    src = tmp_path / "many"
    src.mkdir()
    write_source(src / "m.json", [compact(at(i)) for i in range(n)])
    return load_dir(src)


def test_jsonl_holds_the_exact_source_bytes(table, tmp_path):
    out = tmp_path / "out.jsonl"
    manifest = export(table, range(len(table)), "jsonl", out)
    source = (tmp_path / "src" / "a.json").read_bytes()
    assert all(text in source for text in ODD)
    # The pretty-printed record keeps its bytes except line breaks, which become spaces.
    reflowed = ODD[3].replace(b"\r", b" ").replace(b"\n", b" ")
    assert out.read_bytes() == b"".join(text + b"\n" for text in [*ODD[:3], reflowed, *OTHER])
    lines = out.read_bytes().splitlines()
    assert [json.loads(line)["eventID"] for line in lines] == [f"id-{i}" for i in range(6)]
    assert json.loads(lines[3]) == json.loads(ODD[3])
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
    assert batch["time"] == "2026-11-20T10:00:04Z"
    delete = by_id["id-5"]
    assert delete["read_only"] == ""
    assert delete["error"] == "'-2+3"
    assert delete["ip"] == "[bold red]markup[/]" and delete["principal"].endswith("user/+1+1")
    assert len(delete["user_agent"]) >= 10_000
    assert by_id["id-0"]["read_only"] == "true" and by_id["id-0"]["position"] == "0"


def test_parquet_reads_back_to_the_table_values(table, tmp_path):
    out = tmp_path / "out.parquet"
    export(table, range(len(table)), "parquet", out)
    back = pq.read_table(out)
    assert tuple(back.column_names) == EXPORT_COLUMNS
    assert str(back.schema.field("time").type) == "timestamp[ns, tz=UTC]"
    df = back.to_pandas()
    assert [t.isoformat() for t in df["time"]] == [f"2026-11-20T10:00:0{i}+00:00" for i in range(6)]
    assert list(df["read_only"]) == [True, False, True, True, False, None]
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
        path = tmp_path / "src" / source
        data = path.read_bytes()
        expected_sources.append({"name": str(path), "kind": "file", "size": len(data),
                                 "sha256": hashlib.sha256(data).hexdigest(), "records": n})
    assert manifest["sources"] == expected_sources
    assert manifest["marks"] == [{"event_id": "id-4", "origin": str(tmp_path / "src" / "b.json"), "position": 0}]


def test_manifest_lists_only_sources_of_exported_rows(table, tmp_path):
    manifest = export(table, [1, 2], "jsonl", tmp_path / "o.jsonl")
    assert [s["name"] for s in manifest["sources"]] == [str(tmp_path / "src" / "a.json")]
    assert manifest["sources_loaded"] == 2


def test_progress_reports_batches(tmp_path, monkeypatch):
    monkeypatch.setattr("ddbtrail.export.BATCH_ROWS", 10)
    seen = []
    export(many(tmp_path), range(25), "jsonl", tmp_path / "m.jsonl", progress=lambda done, total: seen.append((done, total)))
    assert seen == [(10, 25), (20, 25), (25, 25)]


@pytest.mark.parametrize("fmt", ["jsonl", "cloudtrail", "csv", "parquet"])
def test_cancel_midway_leaves_nothing(tmp_path, monkeypatch, fmt):
    table = many(tmp_path)
    monkeypatch.setattr("ddbtrail.export.BATCH_ROWS", 10)
    cancel = threading.Event()
    before = set(tmp_path.iterdir())
    with pytest.raises(ExportCancelled):
        export(table, range(25), fmt, tmp_path / "out", cancel=cancel,
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
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.jsonl", "o.jsonl.manifest.json", "src"]


def test_unknown_format_is_refused(table, tmp_path):
    with pytest.raises(ValueError, match="jsonl, cloudtrail, csv, parquet"):
        export(table, [0], "xlsx", tmp_path / "o.xlsx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]
