"""The `lookup` source against a local LookupEvents server with the real 2 requests/s limit.

These tests are slow by nature (50 events a page, 2 pages a second per region); the
regions run in parallel, which is itself one of the things checked.
"""
from __future__ import annotations

import socket
import threading
import time
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from ddbtrail.events import EventTable
from loaders import LoadOptions, LoadReport
from loaders.lookup import (MANAGEMENT_ONLY_NOTICE, LookupRangeError, Pacing, lookup_chunks,
                            page_label)
from tests.servers.lookup_server import LookupServer, make_events
from tests.servers.moto_server import FAKE_CREDENTIALS

NOW = datetime.now(timezone.utc).replace(microsecond=0)
NEWEST = NOW - timedelta(hours=1)
MINUTE = timedelta(minutes=1)


@pytest.fixture(scope="module")
def server():
    with pytest.MonkeyPatch.context() as env:
        for name, value in FAKE_CREDENTIALS.items():
            env.setenv(name, value)
        env.delenv("AWS_PROFILE", raising=False)
        env.setenv("AWS_CONFIG_FILE", "/dev/null")
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        with LookupServer(rate_limit=2.0) as running:
            yield running


@pytest.fixture
def lookup_server(server):
    server.reset()
    return server


def stock(server: LookupServer, region: str, count: int) -> tuple[datetime, list[dict]]:
    """`count` (at most 500) DynamoDB events in range, plus events the query must leave out.

    Returns the range start and the in-range DynamoDB events, newest first (API order).
    """
    wanted = make_events(region, count, NEWEST)
    start = NEWEST - (count - 1) * MINUTE
    server.add_events(region, wanted)
    server.add_events(region, make_events(region, 25, NEWEST, source="s3.amazonaws.com"))
    server.add_events(region, make_events(region, 20, NEWEST - 600 * MINUTE, seed=1))  # too old
    server.add_events(region, make_events(region, 10, NOW + 10 * MINUTE, seed=2))  # after end
    return start, wanted


def load(opts: LoadOptions, pacing: Pacing | None = None):
    report = LoadReport()
    progress: list[dict] = []
    chunks = list(lookup_chunks(opts, report, progress.append, pacing=pacing))
    return chunks, EventTable.from_chunks(chunks), report, progress


def max_in_window(times: list[float], window: float) -> int:
    """Most requests that fell within any `window` seconds."""
    times = sorted(times)
    return max((sum(1 for u in times[i:] if u - t < window) for i, t in enumerate(times)), default=0)


def test_every_event_once_in_parallel_regions_at_two_requests_per_second(lookup_server):
    sizes = {"us-gov-west-1": 450, "us-gov-east-1": 400, "us-east-1": 350}
    expected: dict[str, list[dict]] = {}
    starts = []
    for region, count in sizes.items():
        start, expected[region] = stock(lookup_server, region, count)
        starts.append(start)
    opts = LoadOptions(start=min(starts), end=NOW, regions=list(sizes),
                       endpoint_url=lookup_server.url)

    began = time.monotonic()
    chunks, table, report, progress = load(opts)
    wall = time.monotonic() - began

    # Every DynamoDB event in range exactly once; other sources and out-of-range times never.
    delivered = [e for c in chunks for e in c.columns["event_id"].to_pylist()]
    want = {e["EventId"]: (region, rank, e) for region, events in expected.items()
            for rank, e in enumerate(events)}
    assert sorted(delivered) == sorted(want)
    assert len(table) == 1200 and table.duplicates == 0 and report.errors == []

    # Verbatim record text, region-named source and page/position as the API served them.
    raws = table.raw(range(len(table)))
    for row, raw in enumerate(raws):
        region, rank, event = want[table.df["event_id"].iat[row]]
        assert raw == event["CloudTrailEvent"].encode()
        assert table.df["origin"].iat[row] == f"lookup:{region}"
        assert table.df["position"].iat[row] == rank
    assert page_label(51) == "page 2, event 2"
    assert table.df["read_only"].notna().all()   # "true"/"false" strings and bools alike

    assert MANAGEMENT_ONLY_NOTICE in report.notes
    assert progress[-1]["stage"] == "lookup" and progress[-1]["events"] == 1200
    assert progress[-1]["regions"]["us-gov-west-1"] == {"pages": 9, "events": 450}

    spans = {}
    for region in sizes:
        times = [r.at for r in lookup_server.requests_for(region)]
        # The server's own log: never more than 2 requests within any second (50 ms of
        # slack for the scheduling of a busy test machine) ...
        assert max_in_window(times, 0.95) <= 2, region
        spans[region] = times[-1] - times[0]
    # ... and the regions overlapped: the wall time is that of the slowest, not the sum.
    assert wall < max(spans.values()) + 2.0 < sum(spans.values())


def test_no_event_lost_while_another_client_eats_the_same_quota(lookup_server):
    region = "us-gov-west-1"
    start, expected = stock(lookup_server, region, 200)
    stop = threading.Event()

    def competitor():
        """Another tool in the same account and region, polling at 4 requests/s."""
        other = boto3.client("cloudtrail", region_name=region, endpoint_url=lookup_server.url,
                             aws_access_key_id="COMPETITOR", aws_secret_access_key="x",
                             config=Config(retries={"max_attempts": 1}))
        while not stop.wait(0.25):
            try:
                other.lookup_events(MaxResults=50)
            except ClientError:
                pass

    thread = threading.Thread(target=competitor, daemon=True)
    thread.start()
    try:
        chunks, table, report, _ = load(LoadOptions(start=start, end=NOW, regions=[region],
                                                    endpoint_url=lookup_server.url))
    finally:
        stop.set()
        thread.join()

    ours = lookup_server.requests_for(region, key=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"])

    assert any(r.status == 400 for r in ours), "the competitor should have caused throttling"
    delivered = [e for c in chunks for e in c.columns["event_id"].to_pylist()]
    assert sorted(delivered) == sorted(e["EventId"] for e in expected)
    assert report.errors == []
    assert max_in_window([r.at for r in ours], 0.95) <= 2


def test_refuses_a_start_more_than_90_days_back_before_asking(lookup_server):
    opts = LoadOptions(start=NOW - timedelta(days=91), regions=["us-gov-west-1"],
                       endpoint_url=lookup_server.url)
    with pytest.raises(LookupRangeError, match="only the last 90 days") as refused:
        lookup_chunks(opts, LoadReport())
    assert "s3://" in str(refused.value) and "--trail" in str(refused.value)
    assert lookup_server.requests == []


def test_a_region_failing_midway_keeps_and_reports_what_was_loaded(lookup_server):
    _, healthy = stock(lookup_server, "us-gov-west-1", 120)
    start, failing = stock(lookup_server, "us-gov-east-1", 300)
    lookup_server.fail_after["us-gov-east-1"] = 3   # pages 1-3 served, then HTTP 500 for good
    opts = LoadOptions(start=start, end=NOW,
                       regions=["us-gov-west-1", "us-gov-east-1"], endpoint_url=lookup_server.url)

    chunks, table, report, _ = load(opts, Pacing(page_budget_s=3.0))

    delivered = {e for c in chunks for e in c.columns["event_id"].to_pylist()}
    assert delivered == {e["EventId"] for e in healthy + failing[:150]}
    assert len(report.errors) == 1
    error = report.errors[0]
    oldest_loaded = datetime.fromtimestamp(failing[149]["EventTime"], timezone.utc)
    assert error.startswith("lookup:us-gov-east-1: stopped at page 4 after 3 pages (150 events")
    assert f"back to {oldest_loaded:%Y-%m-%dT%H:%M:%SZ}" in error
    assert "InternalFailure" in error and "not loaded" in error
    assert any(r.status == 500 for r in lookup_server.requests_for("us-gov-east-1"))


def test_cancel_stops_every_region_promptly_and_says_so(lookup_server):
    start, _ = stock(lookup_server, "us-gov-west-1", 400)
    stock(lookup_server, "us-east-1", 400)
    cancel = threading.Event()
    report = LoadReport()
    chunks = lookup_chunks(LoadOptions(start=start, end=NOW, regions=["us-gov-west-1", "us-east-1"],
                                       endpoint_url=lookup_server.url), report, cancel=cancel)
    first = next(chunks)
    cancel.set()
    began = time.monotonic()
    rest = list(chunks)
    assert time.monotonic() - began < 1.0
    assert report.cancelled is True
    assert 50 <= len(first) + sum(len(c) for c in rest) < 800
    # The region threads end after the call in flight; wait for that so none reaches a later test.
    seen = -1
    while seen != len(lookup_server.requests):
        seen = len(lookup_server.requests)
        time.sleep(1.0)
    assert seen < 16


def test_server_filters_like_lookup_events_for_the_real_paginator(server):
    """The stand-in honours what botocore sends, so the tests above prove something."""
    region = "us-gov-west-1"
    with LookupServer(rate_limit=1000) as fast:
        events = make_events(region, 130, NEWEST)
        others = make_events(region, 30, NEWEST, source="s3.amazonaws.com")
        fast.add_events(region, events + others)
        stored = sorted(events + others, key=lambda e: e["EventTime"], reverse=True)
        client = boto3.client("cloudtrail", region_name=region, endpoint_url=fast.url)

        def ids(**params) -> list[str]:
            pages = client.get_paginator("lookup_events").paginate(**params)
            return [e["EventId"] for page in pages for e in page["Events"]]

        def attribute(key: str, value: str) -> dict:
            return {"LookupAttributes": [{"AttributeKey": key, "AttributeValue": value}]}

        def where(key: str, test) -> list[str]:
            return [e["EventId"] for e in stored if test(e[key])]

        newest_first = [e["EventId"] for e in events]
        assert ids(**attribute("EventSource", "dynamodb.amazonaws.com")) == newest_first
        assert ids(**attribute("EventName", "DeleteTable")) == where("EventName", lambda v: v == "DeleteTable")
        assert ids(**attribute("ResourceName", "Orders")) == where(
            "Resources", lambda v: any(r["ResourceName"] == "Orders" for r in v))
        assert ids(**attribute("ResourceType", "AWS::S3::Bucket")) == [e["EventId"] for e in others]
        assert ids(**attribute("Username", "dba")) == where("Username", lambda v: v == "dba")
        assert ids(**attribute("ReadOnly", "false")) == where("ReadOnly", lambda v: v == "false")
        window = ids(StartTime=NEWEST - 9 * MINUTE, EndTime=NEWEST - 5 * MINUTE,
                     **attribute("EventSource", "dynamodb.amazonaws.com"))
        assert window == newest_first[5:10]
        assert [len(p["Events"]) for p in client.get_paginator("lookup_events").paginate(
            **attribute("EventSource", "dynamodb.amazonaws.com"))] == [50, 50, 30]
        # The outer ReadOnly is a string, as LookupEvents prints it.
        assert {e["ReadOnly"] for e in client.lookup_events(MaxResults=50)["Events"]} == {"true", "false"}


def test_an_unreachable_endpoint_fails_fast_with_a_reason(server):
    with socket.socket() as closed:      # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
    report = LoadReport()
    began = time.monotonic()
    chunks = list(lookup_chunks(LoadOptions(start=NEWEST - MINUTE, regions=["us-gov-west-1"], endpoint_url=url),
                                report))
    assert chunks == [] and time.monotonic() - began < 15
    assert len(report.errors) == 1
    assert report.errors[0].startswith("lookup:us-gov-west-1: stopped at page 1; nothing was loaded from this region")
    assert "Could not connect" in report.errors[0]
