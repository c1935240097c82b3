"""summary(): the DESIGN §4 keys and values on a tree whose contents are known."""
import json

import numpy as np
import pytest

from ddbtrail.summary import summary
from loaders import LoadOptions, LoadReport, load
from tests.records import assumed_role, record, table_arn, write_tree

APP = assumed_role("App")
SCANNER = assumed_role("ReportingJob", session="night")
APP_ARN = APP["sessionContext"]["sessionIssuer"]["arn"]
SCANNER_ARN = SCANNER["sessionContext"]["sessionIssuer"]["arn"]


def event(i: int, op: str, who: dict, tables: tuple[str, ...], ip: str, **fields) -> dict:
    return record(eventID=f"id-{i}", eventTime=f"2026-11-20T10:00:0{i}Z", eventName=op, userIdentity=who,
                  sourceIPAddress=ip, requestParameters={"tableName": tables[0]} if tables else {},
                  resources=[{"type": "AWS::DynamoDB::Table", "ARN": table_arn(t)} for t in tables] or None,
                  **fields)


EVENTS = [
    event(0, "GetItem", APP, ("Patients",), "10.0.0.1"),
    event(1, "GetItem", APP, ("Patients",), "10.0.0.1"),
    event(2, "BatchWriteItem", APP, ("Orders", "Customers"), "10.0.0.2", awsRegion="us-east-2"),
    event(3, "TransactWriteItems", APP, ("Orders", "Patients", "Cases"), "10.0.0.2"),
    event(4, "Scan", SCANNER, ("Patients",), "203.0.113.9"),
    event(5, "Scan", SCANNER, ("Cases",), "203.0.113.9", errorCode="AccessDeniedException"),
    event(6, "Scan", SCANNER, ("Orders",), "203.0.113.9", errorCode="AccessDeniedException"),
    event(7, "ListTables", SCANNER, (), "203.0.113.9", errorCode="ThrottlingException",
          eventCategory="Management", managementEvent=True),
]


@pytest.fixture
def loaded(tmp_path):
    paths = write_tree(tmp_path, {"one": EVENTS[:5], "two": EVENTS[5:], "again": EVENTS[6:7]})
    (paths[0].parent / "broken.json.gz").write_bytes(b"\x1f\x8b\x08\x00 not gzip")
    return load([str(tmp_path)], LoadOptions())


def test_summary_of_all_events(loaded):
    table, report = loaded
    s = summary(table, None, report)
    json.dumps(s)  # --json prints it as is
    assert s["events"] == 8
    assert s["time_range"] == ["2026-11-20T10:00:00Z", "2026-11-20T10:00:07Z"]
    assert s["by_operation"] == {"Scan": 3, "GetItem": 2, "BatchWriteItem": 1, "ListTables": 1,
                                 "TransactWriteItems": 1}
    assert list(s["by_operation"])[:2] == ["Scan", "GetItem"]
    assert s["by_principal"] == {APP_ARN: 4, SCANNER_ARN: 4}
    assert s["by_table"] == {"Patients": 4, "Orders": 3, "Cases": 2, "Customers": 1}
    assert s["by_error"] == {"AccessDeniedException": 2, "ThrottlingException": 1}
    assert s["files"]["read"] == 3
    assert [(item["path"].endswith("broken.json.gz"), bool(item["reason"])) for item in s["files"]["skipped"]] \
        == [(True, True)]
    assert s["duplicates_dropped"] == 1
    assert s["by_region"] == {"us-east-1": 7, "us-east-2": 1}
    assert s["by_ip"] == {"203.0.113.9": 4, "10.0.0.1": 2, "10.0.0.2": 2}


def test_summary_under_a_mask_counts_only_selected_events(loaded):
    table, report = loaded
    mask = (table.df["principal"] == SCANNER_ARN).to_numpy()
    s = summary(table, mask, report)
    assert s["events"] == 4 and s["events_loaded"] == 8
    assert s["time_range"] == ["2026-11-20T10:00:04Z", "2026-11-20T10:00:07Z"]
    assert s["by_table"] == {"Cases": 1, "Orders": 1, "Patients": 1}
    assert s["by_principal"] == {SCANNER_ARN: 4}
    assert s["by_operation"] == {"Scan": 3, "ListTables": 1}


def test_summary_of_nothing(loaded):
    table, _ = loaded
    s = summary(table, np.zeros(len(table), dtype=bool), LoadReport())
    assert s["events"] == 0 and s["time_range"] is None
    assert s["by_operation"] == s["by_table"] == s["by_error"] == {}
    assert s["files"] == {"read": 0, "skipped": []}

