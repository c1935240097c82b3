"""summary(): the DESIGN §4 keys and values on a table whose contents are known."""
import json

import numpy as np
import pytest

from loaders import LoadReport
from ddbtrail.summary import summary
from tests.unit.test_export import make_table, row

ROLE = "arn:aws-us-gov:iam::111122223333:role/App"
SCANNER = "arn:aws-us-gov:iam::111122223333:role/ReportingJob"


@pytest.fixture
def table(tmp_path):
    rows = [
        row(0, operation="GetItem", principal=ROLE, tables=("Patients",), ip="10.0.0.1"),
        row(1, operation="GetItem", principal=ROLE, tables=("Patients",), ip="10.0.0.1"),
        row(2, operation="BatchWriteItem", principal=ROLE, tables=("Orders", "Customers"),
            ip="10.0.0.2", region="us-gov-east-1"),
        row(3, operation="TransactWriteItems", principal=ROLE, tables=("Orders", "Patients", "Cases"),
            ip="10.0.0.2"),
        row(4, operation="Scan", principal=SCANNER, tables=("Patients",), ip="203.0.113.9"),
        row(5, operation="Scan", principal=SCANNER, tables=("Cases",), ip="203.0.113.9",
            error="AccessDeniedException"),
        row(6, operation="Scan", principal=SCANNER, tables=("Orders",), ip="203.0.113.9",
            error="AccessDeniedException"),
        row(7, operation="ListTables", principal=SCANNER, tables=(), plane="control",
            error="ThrottlingException"),
    ]
    return make_table(tmp_path, {"t.json": [(b'{"eventID":"id-%d"}' % i, r) for i, r in enumerate(rows)]})


REPORT = LoadReport(files_read=3, skipped=[("logs/bad.json.gz", "corrupt gzip"), ("logs/x.json", "not CloudTrail")],
                    duplicates=2, notes=["LookupEvents holds management events only"])


def test_summary_of_all_events(table):
    s = summary(table, None, REPORT)
    json.dumps(s)  # --json prints it as is
    assert s["events"] == 8
    assert s["time_range"] == ["2026-09-21T14:13:20Z", "2026-09-21T14:13:27Z"]
    assert s["by_operation"] == {"Scan": 3, "GetItem": 2, "BatchWriteItem": 1, "ListTables": 1,
                                 "TransactWriteItems": 1}
    assert list(s["by_operation"])[:2] == ["Scan", "GetItem"]
    assert s["by_principal"] == {ROLE: 4, SCANNER: 4}
    assert s["by_table"] == {"Patients": 4, "Orders": 3, "Cases": 2, "Customers": 1}
    assert s["by_error"] == {"AccessDeniedException": 2, "ThrottlingException": 1}
    assert s["files"] == {"read": 3, "skipped": [{"path": "logs/bad.json.gz", "reason": "corrupt gzip"},
                                                 {"path": "logs/x.json", "reason": "not CloudTrail"}]}
    assert s["duplicates_dropped"] == 2
    assert s["notes"] == ["LookupEvents holds management events only"]
    assert s["by_region"] == {"us-gov-west-1": 7, "us-gov-east-1": 1}
    assert s["by_ip"] == {"203.0.113.9": 3, "10.0.0.1": 2, "10.0.0.2": 2}


def test_summary_under_a_mask_counts_only_selected_events(table):
    mask = (table.df["principal"] == SCANNER).to_numpy()
    s = summary(table, mask, REPORT)
    assert s["events"] == 4 and s["events_loaded"] == 8
    assert s["time_range"] == ["2026-09-21T14:13:24Z", "2026-09-21T14:13:27Z"]
    assert s["by_table"] == {"Cases": 1, "Orders": 1, "Patients": 1}
    assert s["by_principal"] == {SCANNER: 4}
    assert s["by_operation"] == {"Scan": 3, "ListTables": 1}


def test_summary_of_nothing(table):
    s = summary(table, np.zeros(len(table), dtype=bool), LoadReport())
    assert s["events"] == 0 and s["time_range"] is None
    assert s["by_operation"] == s["by_table"] == s["by_error"] == {}
    assert s["files"] == {"read": 0, "skipped": []}
