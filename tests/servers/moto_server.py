"""moto's S3/CloudTrail server on 127.0.0.1, with a log of the requests it served.

Tests point real boto3 clients at it (`endpoint_url`), so our code runs unchanged; the
request log lets a test check from the server's side what the tool actually asked for
(e.g. how many GETs a load made, or that nothing but reads reached AWS).
"""
from __future__ import annotations

import gzip
import hashlib
import json
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import unquote

import boto3
from moto.server import ThreadedMotoServer

from tests.records import assumed_role, record, table_arn

#: Credentials moto accepts; set so boto3 never looks for real ones.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}

#: S3's answer to a GET the caller may not make (as a bucket policy denying one prefix gives).
ACCESS_DENIED = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
                 b'<Message>Access Denied</Message><RequestId>DENIED</RequestId></Error>')


@dataclass(frozen=True)
class Request:
    method: str
    path: str      # URL-decoded, e.g. "/bucket/AWSLogs/1234/…json.gz"
    query: str


class MotoServer:
    """A running ThreadedMotoServer plus every request it has served, in order."""

    def __init__(self) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._lock = threading.Lock()
        self.requests: list[Request] = []
        self.get_delay = 0.0        # seconds each object GET waits, to make overlap measurable
        self.in_flight = 0
        self.max_in_flight = 0      # most object GETs being served at the same moment
        self.denied: set[str] = set()  # "/bucket/key" paths whose GET answers AccessDenied

    def start(self) -> "MotoServer":
        self._server.start()
        wsgi = self._server._server  # werkzeug server; its handler calls `server.app`
        app = wsgi.app

        def logging_app(environ, start_response):
            request = Request(environ["REQUEST_METHOD"], unquote(environ.get("PATH_INFO", "")),
                              environ.get("QUERY_STRING", ""))
            is_get = request.method == "GET" and request.path.count("/") >= 2 and not request.query
            with self._lock:
                self.requests.append(request)
                if is_get:
                    self.in_flight += 1
                    self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                if is_get and self.get_delay:
                    time.sleep(self.get_delay)
                if is_get and request.path in self.denied:
                    start_response("403 Forbidden", [("Content-Type", "application/xml")])
                    return [ACCESS_DENIED]
                return app(environ, start_response)
            finally:
                if is_get:
                    with self._lock:
                        self.in_flight -= 1

        wsgi.app = logging_app
        return self

    def stop(self) -> None:
        self._server.stop()

    @property
    def url(self) -> str:
        host, port = self._server.get_host_and_port()
        return f"http://{host}:{port}"

    def mark(self) -> int:
        """Position in the request log; pass to `requests_since` to see only later ones."""
        with self._lock:
            return len(self.requests)

    def requests_since(self, mark: int) -> list[Request]:
        with self._lock:
            return self.requests[mark:]

    def object_gets(self, bucket: str, since: int = 0) -> list[str]:
        """Keys of S3 GetObject calls on `bucket` (GETs of a key, not of the bucket listing)."""
        prefix = f"/{bucket}/"
        return [r.path[len(prefix):] for r in self.requests_since(since)
                if r.method == "GET" and r.path.startswith(prefix) and len(r.path) > len(prefix)]


def dynamodb_record(account: str, region: str, when: datetime) -> dict:
    """tests.records' GetItem data event, moved to this account, GovCloud region and time."""
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    event_id = hashlib.sha1(f"{account}{region}{stamp}".encode()).hexdigest()
    return record(
        userIdentity=assumed_role(account=account, partition="aws-us-gov"), eventTime=stamp,
        awsRegion=region, recipientAccountId=account, requestID=event_id[:20].upper(),
        eventID=f"{event_id[:8]}-{event_id[8:12]}-{event_id[12:16]}-{event_id[16:20]}-{event_id[20:32]}",
        resources=[{"accountId": account, "type": "AWS::DynamoDB::Table",
                    "ARN": table_arn("Orders", account, region, "aws-us-gov")}])


def log_key(folder: str, account: str, region: str, delivered: datetime) -> str:
    """Key CloudTrail gives a log file delivered at `delivered` under `folder` (…/AWSLogs/[o-…/])."""
    unique = hashlib.sha1(f"{account}{region}{delivered}".encode()).hexdigest()[:16]
    return (f"{folder}{account}/CloudTrail/{region}/{delivered:%Y/%m/%d}/"
            f"{account}_CloudTrail_{region}_{delivered:%Y%m%dT%H%M}Z_{unique}.json.gz")


def digest_key(folder: str, account: str, region: str, delivered: datetime) -> str:
    return (f"{folder}{account}/CloudTrail-Digest/{region}/{delivered:%Y/%m/%d}/"
            f"{account}_CloudTrail-Digest_{region}_trail_{region}_{delivered:%Y%m%dT%H%M%S}Z.json.gz")


def put_trail_logs(s3, bucket: str, folder: str, accounts: list[str], regions: list[str],
                   deliveries: list[datetime], digests: bool = True) -> dict[str, datetime]:
    """Write a CloudTrail tree into `bucket`: one log file per account, region and delivery
    time, holding a record from two minutes before it; a digest file beside each when asked.

    `folder` is the AWSLogs folder (e.g. "AWSLogs/" or "trail/AWSLogs/o-abc1234567/").
    Returns {log key: delivery time}.
    """
    written = {}
    for account in accounts:
        for region in regions:
            for delivered in deliveries:
                record = dynamodb_record(account, region, delivered - timedelta(minutes=2))
                key = log_key(folder, account, region, delivered)
                body = gzip.compress(json.dumps({"Records": [record]}).encode())
                s3.put_object(Bucket=bucket, Key=key, Body=body)
                written[key] = delivered
                if digests:
                    s3.put_object(Bucket=bucket, Key=digest_key(folder, account, region, delivered),
                                  Body=gzip.compress(b'{"digestStartTime": "x"}'))
    return written


# -- a week of GovCloud trail logs, shared by the S3 and trail tests ------------------------
GOV_REGIONS = ["us-gov-west-1", "us-gov-east-1"]
FIRST_DAY = datetime(2026, 11, 16, tzinfo=timezone.utc)
#: Four deliveries a day for a week: just after midnight (holds the previous day's last
#: minutes), morning, afternoon, and just before midnight.
DELIVERIES = [FIRST_DAY + timedelta(days=d, hours=h, minutes=m)
              for d in range(7) for h, m in ((0, 3), (8, 5), (16, 5), (23, 58))]
START = datetime(2026, 11, 18, tzinfo=timezone.utc)
END = datetime(2026, 11, 19, 23, 59, 59, tzinfo=timezone.utc)


def s3_client(endpoint: str, region: str = "us-gov-west-1"):
    return boto3.client("s3", endpoint_url=endpoint, region_name=region)


def make_bucket(endpoint: str, name: str, region: str = "us-gov-west-1"):
    """Create a bucket in `region` on the moto server; returns a client for it."""
    s3 = s3_client(endpoint, region)
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
    return s3
