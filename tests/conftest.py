"""Fixtures every test folder may use; folder-specific ones live in their own conftest."""
from __future__ import annotations

import gzip
import json

import pytest

from tests.records import ACCOUNT, management_record, record, write_tree


@pytest.fixture
def trail_tree(tmp_path):
    """A small trail bucket copy: two log files of DynamoDB events plus a digest file.

    Returns (root folder, {file path: records written}).
    """
    files = {
        f"{ACCOUNT}_CloudTrail_us-east-1_20261120T1015Z_a1": [
            record(eventID=f"a1-{i}", eventTime=f"2026-11-20T10:{i:02d}:00Z") for i in range(5)],
        f"{ACCOUNT}_CloudTrail_us-east-1_20261120T1020Z_b2": [
            management_record(eventID="b2-0", eventTime="2026-11-20T10:20:00Z"),
            record(eventID="b2-1", eventName="Scan", eventTime="2026-11-20T10:21:00Z")],
    }
    paths = write_tree(tmp_path, files)
    digest = (tmp_path / "AWSLogs" / ACCOUNT / "CloudTrail-Digest" / "us-east-1" / "2026" / "11" / "20"
              / f"{ACCOUNT}_CloudTrail-Digest_us-east-1_trail_us-east-1_20261120T1100Z.json.gz")
    digest.parent.mkdir(parents=True)
    digest.write_bytes(gzip.compress(json.dumps({"awsAccountId": ACCOUNT, "digestStartTime": "x"}).encode()))
    return tmp_path, dict(zip(paths, files.values()))
