"""EventTable.from_chunks: merge, de-duplicate, sort; raw() gives back the source bytes."""
from __future__ import annotations

import gzip
import json

import numpy as np
import pandas as pd

from ddbtrail.events import COLUMNS, CATEGORICAL, Chunk, EventTable, SourceInfo
from loaders.decode import MemoryReader
from loaders.local import parse_file
from tests.records import old_record, record, table_arn


def table_of(tmp_path, *files: list[dict], gz: bool = True) -> EventTable:
    chunks = []
    for i, records in enumerate(files):
        path = tmp_path / f"f{i}.json{'.gz' if gz else ''}"
        data = json.dumps({"Records": records}).encode()
        path.write_bytes(gzip.compress(data) if gz else data)
        chunk, reason = parse_file(str(path))
        assert reason is None
        chunks.append(chunk)
    return EventTable.from_chunks(chunks)


def test_same_record_in_two_files_is_kept_once(tmp_path):
    table = table_of(tmp_path, [record(), record(eventID="other")], [record()])
    assert len(table) == 2 and table.duplicates == 1


def test_same_event_id_with_different_time_or_operation_is_kept(tmp_path):
    table = table_of(tmp_path, [record(), record(eventTime="2026-11-20T10:15:31Z"),
                                record(eventName="PutItem")])
    assert len(table) == 3 and table.duplicates == 0


def test_records_without_event_id_dedup_on_their_text(tmp_path):
    same = old_record()
    table = table_of(tmp_path, [same, old_record(sourceIPAddress="10.9.9.9")], [same])
    assert len(table) == 2 and table.duplicates == 1
    assert sorted(table.df["ip"].astype(str)) == ["10.20.30.40", "10.9.9.9"]


def test_rows_sorted_by_time_with_unknown_times_last(tmp_path):
    table = table_of(tmp_path, [record(eventID="c", eventTime="2026-11-20T12:00:00Z"),
                                record(eventID="x", eventTime="garbage")],
                     [record(eventID="a", eventTime="2026-11-20T08:00:00Z")])
    assert list(table.df["event_id"]) == ["a", "c", "x"]
    assert table.df["time"].isna().tolist() == [False, False, True]


def test_column_contract(tmp_path):
    table = table_of(tmp_path, [record(readOnly=None), record(eventID="2")])
    df = table.df
    assert list(df.columns) == [*COLUMNS, "position", "offset", "length", "_source"]
    assert str(df["time"].dtype) == "datetime64[ns, UTC]"
    assert str(df["read_only"].dtype) == "boolean"
    assert df["read_only"].isna().tolist() == [True, False]
    assert all(isinstance(df[name].dtype, pd.CategoricalDtype) for name in CATEGORICAL)
    assert df["event_id"].dtype == pd.StringDtype("pyarrow")
    assert df["origin"].tolist() == [str(tmp_path / "f0.json.gz")] * 2
    assert df["tables"].tolist() == ["Orders", "Orders"]


def test_multi_table_membership(tmp_path):
    batch = record(eventID="b", eventName="BatchWriteItem", resources=[
        {"type": "AWS::DynamoDB::Table", "ARN": table_arn("Orders")},
        {"type": "AWS::DynamoDB::Table", "ARN": table_arn("Audit")}])
    table = table_of(tmp_path, [record(eventID="a", eventTime="2026-11-20T09:00:00Z",
                                       resources=None, requestParameters={"tableName": "Customers"}),
                                batch, record(eventID="n", requestParameters=None, resources=None)])
    touched = {(int(r), table.table_names[c]) for r, c in zip(table.table_rows, table.table_codes)}
    assert touched == {(0, "Customers"), (1, "Orders"), (1, "Audit")}
    assert table.tables_of(1) == ["Orders", "Audit"] and table.tables_of(2) == []
    assert sorted(table.table_names) == ["Audit", "Customers", "Orders"]


def test_raw_returns_the_exact_bytes_of_the_source_file(tmp_path):
    text = b'{"Records":[' + json.dumps(record(eventID="1", eventTime="2026-11-20T11:00:00Z"),
                                         indent=1).encode() + b",\n" + \
        json.dumps(record(eventID="2", userAgent="\u202e[bold]\x1b[31m")).encode() + b"]}"
    (tmp_path / "f.json.gz").write_bytes(gzip.compress(text))
    table = EventTable.from_chunks([parse_file(str(tmp_path / "f.json.gz"))[0]])
    assert list(table.df["event_id"]) == ["2", "1"]
    second, first = table.raw([0, 1])
    assert text == b'{"Records":[' + first + b",\n" + second + b"]}"


def test_raw_across_sources_in_requested_order(tmp_path):
    table = table_of(tmp_path, [record(eventID="a")], [record(eventID="b", eventTime="2026-11-20T11:00:00Z")],
                     gz=False)
    texts = table.raw([1, 0, 1])
    assert [json.loads(t)["eventID"] for t in texts] == ["b", "a", "b"]
    assert texts[1] == (tmp_path / "f0.json").read_bytes()[len(b"{\"Records\": ["):-2]


def test_hand_built_chunks_with_plain_lists():
    blob = b'{"a":1}\n{"b":2}'
    columns = {name: ["", ""] for name in COLUMNS if name not in ("tables", "origin")}
    columns.update(time=np.array([2, 1], dtype=np.int64), read_only=np.array([1, -1], dtype=np.int8),
                   operation=["PutItem", "GetItem"], event_id=["e1", "e2"])
    chunk = Chunk(columns=columns, tables=[("T1", "T2"), ()], origin=np.zeros(2, dtype=np.int64),
                  position=np.arange(2), offset=np.array([0, 8]), length=np.array([7, 7]),
                  sources=[SourceInfo("mem", "test", reader=MemoryReader(blob))])
    table = EventTable.from_chunks([chunk, chunk.take(np.array([1]))])
    assert len(table) == 2 and table.duplicates == 1
    assert list(table.df["operation"]) == ["GetItem", "PutItem"]
    assert table.raw([0, 1]) == [b'{"b":2}', b'{"a":1}']
    assert table.tables_of(1) == ["T1", "T2"]


def test_empty_table_has_the_contract_columns():
    table = EventTable.empty()
    assert len(table) == 0 and table.table_names == [] and len(table.table_rows) == 0
    assert str(table.df["time"].dtype) == "datetime64[ns, UTC]"


def test_builder_gives_partial_tables_while_loading(tmp_path):
    from ddbtrail.events import TableBuilder
    first = table_of(tmp_path, [record(eventID="a")])
    builder = TableBuilder()
    builder.add(parse_file(str(tmp_path / "f0.json.gz"))[0])
    assert list(builder.build().df["event_id"]) == ["a"]
    (tmp_path / "g.json").write_text(json.dumps({"Records": [record(eventID="b", eventTime="2026-11-20T09:00:00Z"),
                                                              record(eventID="a")]}))
    builder.add(parse_file(str(tmp_path / "g.json"))[0])
    table = builder.build(keep=False)
    assert list(table.df["event_id"]) == ["b", "a"] and table.duplicates == 1
    assert len(table.sources) == 2 and len(first) == 1


def test_rows_without_any_key_are_never_merged():
    columns = {name: ["", ""] for name in COLUMNS if name not in ("tables", "origin")}
    columns.update(time=np.array([5, 5], dtype=np.int64), read_only=np.array([-1, -1], dtype=np.int8))
    chunk = Chunk(columns=columns, tables=[(), ()], origin=np.zeros(2, dtype=np.int64),
                  position=np.arange(2), offset=np.zeros(2), length=np.zeros(2), sources=[SourceInfo("m", "test")])
    assert len(EventTable.from_chunks([chunk])) == 2
