"""A local CloudTrail LookupEvents endpoint (JSON 1.1 protocol) with a real rate limit.

moto does not serve LookupEvents, so this small threaded HTTP server does: the real boto3
client, its retries and our pacing are exercised against it.  It keeps events per region
(the region is read from the SigV4 credential scope, so one server stands in for every
regional endpoint), honours LookupAttributes and StartTime/EndTime, serves pages of at
most 50 newest-first with a NextToken, answers ThrottlingException when a region gets more
requests than `rate_limit` within one second, can be told to fail with HTTP 500 after K
pages, and logs every request so tests can check the pace from the server's side.
"""
from __future__ import annotations

import json
import random
import re
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TARGET = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"
PAGE_SIZE = 50
_SCOPE = re.compile(r"Credential=([^/]+)/\d{8}/([^/]+)/cloudtrail/aws4_request")
#: LookupAttributes keys and the field of an Event they filter on.
_ATTRIBUTE_FIELDS = {
    "EventId": "EventId", "EventName": "EventName", "ReadOnly": "ReadOnly",
    "Username": "Username", "EventSource": "EventSource", "AccessKeyId": "AccessKeyId",
}


@dataclass(frozen=True)
class Request:
    """One LookupEvents call as the server saw it."""

    region: str
    key: str           # access key id of the caller (tells competing clients apart)
    at: float          # time.monotonic() on arrival
    status: int        # 200, 400 (throttled) or 500
    page: int          # 0-based page index asked for (from NextToken)


class LookupServer:
    """Threaded LookupEvents server on 127.0.0.1, port chosen by the OS."""

    def __init__(self, rate_limit: float = 2.0) -> None:
        self.rate_limit = rate_limit
        self.events: dict[str, list[dict]] = {}
        self.requests: list[Request] = []
        self.fail_after: dict[str, int] = {}   # region -> pages served before every call is a 500
        self._accepted: dict[str, list[float]] = {}
        self._served_pages: dict[str, int] = {}
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    # -- lifecycle ---------------------------------------------------------------
    def start(self) -> "LookupServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> "LookupServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def reset(self) -> None:
        """Forget events, the request log, failures and the rate windows (between tests)."""
        with self._lock:
            self.events.clear()
            self.requests.clear()
            self.fail_after.clear()
            self._accepted.clear()
            self._served_pages.clear()

    def add_events(self, region: str, events: list[dict]) -> None:
        with self._lock:
            stored = self.events.setdefault(region, [])
            stored.extend(events)
            stored.sort(key=lambda e: e["EventTime"], reverse=True)

    def requests_for(self, region: str, key: str | None = None) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.region == region and key in (None, r.key)]

    # -- the API -----------------------------------------------------------------
    def _admit(self, region: str, now: float) -> bool:
        """Sliding one-second window of accepted calls per region (throttled ones don't count)."""
        window = [t for t in self._accepted.get(region, []) if now - t < 1.0]
        if len(window) >= self.rate_limit:
            self._accepted[region] = window
            return False
        window.append(now)
        self._accepted[region] = window
        return True

    def lookup(self, region: str, key: str, body: dict) -> tuple[int, dict]:
        now = time.monotonic()
        token = body.get("NextToken")
        page = int(token.removeprefix("page-")) if token else 0
        with self._lock:
            if not self._admit(region, now):
                self.requests.append(Request(region, key, now, 400, page))
                return 400, {"__type": "ThrottlingException", "message": "Rate exceeded"}
            if self._served_pages.get(region, 0) >= self.fail_after.get(region, 1 << 62):
                self.requests.append(Request(region, key, now, 500, page))
                return 500, {"__type": "InternalFailure", "message": "injected failure"}
            matching = [e for e in self.events.get(region, []) if _matches(e, body)]
            size = min(int(body.get("MaxResults") or PAGE_SIZE), PAGE_SIZE)
            chunk = matching[page * size:(page + 1) * size]
            self._served_pages[region] = self._served_pages.get(region, 0) + 1
            self.requests.append(Request(region, key, now, 200, page))
        result: dict = {"Events": chunk}
        if (page + 1) * size < len(matching):
            result["NextToken"] = f"page-{page + 1}"
        return 200, result

    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                if self.headers.get("X-Amz-Target") != TARGET:
                    status, payload = 400, {"__type": "UnknownOperationException",
                                            "message": "only LookupEvents is served here"}
                else:
                    scope = _SCOPE.search(self.headers.get("Authorization", ""))
                    key, region = scope.groups() if scope else ("", "us-east-1")
                    status, payload = server.lookup(region, key, body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

        return Handler


def _matches(event: dict, body: dict) -> bool:
    when = event["EventTime"]
    if "StartTime" in body and when < float(body["StartTime"]):
        return False
    if "EndTime" in body and when > float(body["EndTime"]):
        return False
    for attribute in body.get("LookupAttributes") or []:
        key, value = attribute["AttributeKey"], attribute["AttributeValue"]
        if key in ("ResourceName", "ResourceType"):
            if not any(r.get(key) == value for r in event.get("Resources", [])):
                return False
        elif event.get(_ATTRIBUTE_FIELDS[key]) != value:
            return False
    return True


# -- realistic events ---------------------------------------------------------------
#: DynamoDB management calls and whether they are read-only.
MANAGEMENT_CALLS = {
    "CreateTable": False, "DeleteTable": False, "UpdateTable": False, "DescribeTable": True,
    "ListTables": True, "UpdateContinuousBackups": False, "DescribeContinuousBackups": True,
    "UpdateTimeToLive": False, "DescribeTimeToLive": True, "TagResource": False,
    "ListTagsOfResource": True, "CreateBackup": False,
}
_TABLES = ["Orders", "Customers", "PatientRecords", "CaseFiles", "Sessions"]


def make_events(region: str, count: int, newest: datetime, account: str = "123456789012",
                spacing: timedelta = timedelta(minutes=1), seed: int = 0,
                source: str = "dynamodb.amazonaws.com") -> list[dict]:
    """`count` LookupEvents entries, one every `spacing` going back from `newest`.

    Shapes vary on purpose: old eventVersions without eventCategory/managementEvent or
    requestID, `readOnly` as a JSON bool in some records, IAM users and assumed roles.
    The outer `ReadOnly` is a string, as LookupEvents returns it.
    """
    rng = random.Random(f"{region}/{seed}/{source}")
    partition = "aws-us-gov" if region.startswith("us-gov-") else "aws"
    calls = list(MANAGEMENT_CALLS)
    events = []
    for i in range(count):
        when = newest - i * spacing
        name = calls[i % len(calls)] if source == "dynamodb.amazonaws.com" else "GetBucketAcl"
        read_only = MANAGEMENT_CALLS.get(name, True)
        table = _TABLES[rng.randrange(len(_TABLES))]
        event_id = str(uuid.UUID(int=rng.getrandbits(128)))
        if i % 3:
            identity = {"type": "AssumedRole", "principalId": "AROAEXAMPLE:ops",
                        "arn": f"arn:{partition}:sts::{account}:assumed-role/Ops/ops-{i % 7}",
                        "accountId": account, "accessKeyId": f"ASIA{i % 11:016d}",
                        "sessionContext": {"sessionIssuer": {
                            "type": "Role", "arn": f"arn:{partition}:iam::{account}:role/Ops",
                            "userName": "Ops", "accountId": account}}}
            username = f"ops-{i % 7}"
        else:
            identity = {"type": "IAMUser", "principalId": "AIDAEXAMPLE",
                        "arn": f"arn:{partition}:iam::{account}:user/dba", "accountId": account,
                        "accessKeyId": "AKIAEXAMPLEDBA", "userName": "dba"}
            username = "dba"
        record: dict = {
            "eventVersion": "1.05" if i % 5 == 0 else "1.09",
            "userIdentity": identity,
            "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": source,
            "eventName": name,
            "awsRegion": region,
            "sourceIPAddress": f"10.{i % 250}.{(i * 7) % 250}.{(i * 13) % 250}",
            "userAgent": "aws-cli/2.15.0 Python/3.11.6" if i % 4 else "Boto3/1.34.0",
            "requestParameters": None if name == "ListTables" else {"tableName": table},
            "responseElements": None,
            "eventID": event_id,
            "readOnly": read_only if i % 2 else ("true" if read_only else "false"),
            "eventType": "AwsApiCall",
            "recipientAccountId": account,
        }
        if i % 5:
            record.update(requestID=str(uuid.UUID(int=rng.getrandbits(128))),
                          managementEvent=True, eventCategory="Management")
        if i % 17 == 0 and name != "ListTables":
            record["errorCode"] = "AccessDenied"
            record["errorMessage"] = f"User is not authorized to perform dynamodb:{name}"
        if source != "dynamodb.amazonaws.com":
            record["requestParameters"] = {"bucketName": "evidence-bucket"}
            resources = [{"ResourceType": "AWS::S3::Bucket", "ResourceName": "evidence-bucket"}]
        else:
            resources = [] if name == "ListTables" else [
                {"ResourceType": "AWS::DynamoDB::Table", "ResourceName": table}]
        events.append({
            "EventId": event_id, "EventName": name, "ReadOnly": "true" if read_only else "false",
            "AccessKeyId": identity["accessKeyId"], "EventTime": when.timestamp(),
            "EventSource": source, "Username": username, "Resources": resources,
            "CloudTrailEvent": json.dumps(record),
        })
    return events

