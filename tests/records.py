"""Realistic CloudTrail records for tests, shaped like what trails deliver for DynamoDB.

`record()` is a data event (GetItem by an assumed-role session); keyword overrides replace
top-level fields and `None` removes one, so a test states only what it is about.
`write_tree()` lays records out as a trail bucket would: AWSLogs/ACCOUNT/CloudTrail/
REGION/YYYY/MM/DD/*.json.gz.
"""
from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path

ACCOUNT = "123456789012"
REGION = "us-east-1"
ROLE = "OrdersService"
SESSION = "i-0abc123def4567890"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{ROLE}"
SESSION_ARN = f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/{SESSION}"


def table_arn(table: str, account: str = ACCOUNT, region: str = REGION, partition: str = "aws") -> str:
    return f"arn:{partition}:dynamodb:{region}:{account}:table/{table}"


def assumed_role(role: str = ROLE, session: str = SESSION, account: str = ACCOUNT,
                 partition: str = "aws", key: str = "ASIAEXAMPLEKEY000001") -> dict:
    return {
        "type": "AssumedRole",
        "principalId": f"AROAEXAMPLEID:{session}",
        "arn": f"arn:{partition}:sts::{account}:assumed-role/{role}/{session}",
        "accountId": account,
        "accessKeyId": key,
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLEID",
                              "arn": f"arn:{partition}:iam::{account}:role/{role}",
                              "accountId": account, "userName": role},
            "attributes": {"creationDate": "2026-11-20T09:00:00Z", "mfaAuthenticated": "false"},
        },
    }


def iam_user(name: str = "alice", account: str = ACCOUNT) -> dict:
    return {"type": "IAMUser", "principalId": "AIDAEXAMPLEUSER", "arn": f"arn:aws:iam::{account}:user/{name}",
            "accountId": account, "accessKeyId": "AKIAEXAMPLEKEY000001", "userName": name}


def root(account: str = ACCOUNT, with_arn: bool = True) -> dict:
    identity = {"type": "Root", "principalId": account, "accountId": account,
                "accessKeyId": "ASIAROOTKEY000000001"}
    if with_arn:
        identity["arn"] = f"arn:aws:iam::{account}:root"
    return identity


def aws_service(service: str = "dynamodb.application-autoscaling.amazonaws.com") -> dict:
    return {"type": "AWSService", "invokedBy": service}


def record(**overrides) -> dict:
    """A DynamoDB GetItem data event; overrides replace top-level fields (None removes)."""
    rec = {
        "eventVersion": "1.09",
        "userIdentity": assumed_role(),
        "eventTime": "2026-11-20T10:15:30Z",
        "eventSource": "dynamodb.amazonaws.com",
        "eventName": "GetItem",
        "awsRegion": REGION,
        "sourceIPAddress": "10.20.30.40",
        "userAgent": "aws-sdk-java/2.25.11 Linux/5.10 OpenJDK_64-Bit_Server_VM/17.0.10",
        "requestParameters": {"tableName": "Orders", "key": {"pk": "ORDER#1001"},
                              "consistentRead": False},
        "responseElements": None,
        "requestID": "8V0M1OKK3CF3T5CQ3HJ6S4N8KVVV4KQNSO5AEMVJF66Q9ASUAAJG",
        "eventID": "3c9e5f2a-1b4d-4c6e-9f0a-2b3c4d5e6f70",
        "readOnly": True,
        "resources": [{"accountId": ACCOUNT, "type": "AWS::DynamoDB::Table", "ARN": table_arn("Orders")}],
        "eventType": "AwsApiCall",
        "managementEvent": False,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Data",
        "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                       "clientProvidedHostHeader": f"dynamodb.{REGION}.amazonaws.com"},
    }
    return _apply(rec, overrides)


def management_record(**overrides) -> dict:
    """A DynamoDB DescribeTable management (control-plane) event."""
    base = record(
        eventName="DescribeTable", eventCategory="Management", managementEvent=True,
        userIdentity=iam_user(), sourceIPAddress="198.51.100.7",
        userAgent="aws-cli/2.15.30 Python/3.11.8 Linux/6.5 exe/x86_64",
        requestParameters={"tableName": "Orders"},
        eventID="6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a09")
    return _apply(base, overrides)


def old_record(**overrides) -> dict:
    """An eventVersion 1.02-era record: no eventID, eventCategory, managementEvent, resources."""
    base = record(eventVersion="1.02", eventID=None, eventCategory=None, managementEvent=None,
                  resources=None, tlsDetails=None, readOnly=None, requestID=None)
    return _apply(base, overrides)


def other_service(**overrides) -> dict:
    """A non-DynamoDB event (S3 GetObject), kept only with --all-sources."""
    base = record(eventSource="s3.amazonaws.com", eventName="GetObject",
                  requestParameters={"bucketName": "reports", "key": "q3.csv"},
                  resources=[{"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::reports/q3.csv"}],
                  eventID="0a0b0c0d-1111-2222-3333-444455556666")
    return _apply(base, overrides)


def lookup_output(records: list[dict]) -> dict:
    """What `aws cloudtrail lookup-events` prints: CloudTrailEvent is the record as a string."""
    return {"Events": [{"EventId": r.get("eventID", ""), "EventName": r.get("eventName", ""),
                        "ReadOnly": str(r.get("readOnly", "")).lower(),
                        "EventTime": r.get("eventTime", ""), "EventSource": r.get("eventSource", ""),
                        "Resources": [], "CloudTrailEvent": json.dumps(r)} for r in records]}


def _apply(rec: dict, overrides: dict) -> dict:
    rec = copy.deepcopy(rec)
    for key, value in overrides.items():
        if value is None:
            rec.pop(key, None)
        else:
            rec[key] = value
    return rec


def write_tree(root, records_by_file: dict[str, list[dict]], account: str = ACCOUNT) -> list[Path]:
    """Write each list of records as a gzipped `{"Records": [...]}` trail log file.

    The folder is AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD from the first record's
    awsRegion and eventTime; a name without an extension gets `.json.gz`.
    Returns the paths written, in the order given.
    """
    paths = []
    for name, records in records_by_file.items():
        first = records[0] if records else record()
        day = first.get("eventTime", "2026-11-20")[:10].replace("-", "/")
        folder = Path(root) / "AWSLogs" / account / "CloudTrail" / first.get("awsRegion", REGION) / day
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / (name if ".json" in name else f"{name}.json.gz")
        path.write_bytes(gzip.compress(json.dumps({"Records": records}).encode()))
        paths.append(path)
    return paths
