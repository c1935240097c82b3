"""Small real event tables for Pilot tests, built the way loaders build them (from Chunks)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ddbtrail.events import COLUMNS, Chunk, EventTable, SourceInfo

ROLE = "arn:aws-us-gov:iam::111122223333:role/"


class BytesReader:
    """Serves record bytes from one in-memory blob, like a decompressed source file."""

    def __init__(self, blob: bytes):
        self.blob = blob

    def read(self, spans):
        return [self.blob[offset:offset + length] for offset, length in spans]


def make_table(rows: list[dict], name: str = "test.jsonl") -> EventTable:
    """An EventTable of `rows` (column -> value; `tables` a tuple), with a verbatim record each."""
    records = [json.dumps({"eventTime": r["time"], "eventName": r.get("operation", "?"),
                           "userAgent": r.get("user_agent", "")}).encode() for r in rows]
    offsets = np.cumsum([0] + [len(b) + 1 for b in records])[:-1]
    columns: dict[str, object] = {}
    for column in COLUMNS:
        if column in ("tables", "origin"):
            continue
        if column == "time":
            columns[column] = pd.to_datetime([r["time"] for r in rows], utc=True).as_unit("ns").asi8
        elif column == "read_only":
            columns[column] = np.array([r.get("read_only", -1) for r in rows], dtype=np.int8)
        else:
            columns[column] = [r.get(column, "") for r in rows]
    chunk = Chunk(columns=columns, tables=[tuple(r.get("tables", ())) for r in rows],
                  origin=np.zeros(len(rows), dtype=np.int64),
                  position=np.arange(len(rows)), offset=offsets,
                  length=np.array([len(b) for b in records]),
                  sources=[SourceInfo(name, "file", reader=BytesReader(b"\n".join(records)))])
    return EventTable.from_chunks([chunk])


def incident_rows() -> list[dict]:
    """A night-time scan of the PHI table among ordinary traffic, with errors."""
    rows = []
    for i in range(40):
        rows.append({"time": f"2026-11-20T09:{i:02d}:00Z", "operation": "GetItem" if i % 2 else "Query",
                     "principal": ROLE + "OrdersService", "tables": ("Orders",), "ip": "10.0.0.5",
                     "region": "us-gov-west-1", "user_agent": "aws-sdk-java/2.20", "plane": "data",
                     "read_only": 1, "event_id": f"ok-{i}"})
    for i in range(12):
        rows.append({"time": f"2026-11-21T02:{i:02d}:00Z", "operation": "Scan",
                     "principal": ROLE + "ReportingJob", "tables": ("PatientRecords",),
                     "ip": "203.0.113.9", "region": "us-gov-west-1", "user_agent": "Boto3/1.34",
                     "plane": "data", "read_only": 1, "event_id": f"scan-{i}"})
    for i in range(5):
        rows.append({"time": f"2026-11-21T02:3{i}:00Z", "operation": "DescribeTable",
                     "principal": ROLE + "ReportingJob", "tables": ("CaseFiles",), "ip": "203.0.113.9",
                     "region": "us-gov-east-1", "user_agent": "Boto3/1.34", "plane": "control",
                     "error": "AccessDenied", "error_message": "not authorized", "event_id": f"denied-{i}"})
    return rows


@pytest.fixture
def incident_table() -> EventTable:
    return make_table(incident_rows())


def shown(widget) -> list[str]:
    """The lines a widget currently renders inside its border (what the responder sees in it)."""
    return [strip.text for strip in widget.render_lines(widget.content_region.translate(-widget.region.offset))]
