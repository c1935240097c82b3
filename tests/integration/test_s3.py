"""S3 source against moto's real S3 server: layout discovery, date-range listing, GET count,
cache, per-object failures.  Each test uses its own bucket; the server's request log is the
independent witness of what was listed and fetched."""
from __future__ import annotations

import gzip
import os
import stat
import threading
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import unquote

import pytest

from loaders import LoadOptions, LoadReport, load
from loaders.s3 import S3SourceError, s3_files
from tests.servers.moto_server import (DELIVERIES, END, GOV_REGIONS, START, dynamodb_record,
                                       log_key, make_bucket, put_trail_logs, s3_client)

ACCOUNT = "111122223333"
OTHER_ACCOUNT = "444455556666"
#: Files that can hold events of START..END: all of the 18th and 19th, plus the 20th's
#: 00:03 delivery (it holds the 19th's last minutes); not the 17th's 23:58 one.
IN_WINDOW = [t for t in DELIVERIES if START <= t <= END + timedelta(minutes=20)]


def collect(uri: str, opts: LoadOptions, **kwargs) -> tuple[list[tuple[str, str]], LoadReport]:
    report = LoadReport()
    return list(s3_files(uri, opts, report, **kwargs)), report


@pytest.fixture(scope="module")
def govcloud_trail(moto_endpoint):
    """A week of logs for one account in both GovCloud regions, digests beside them."""
    s3 = make_bucket(moto_endpoint, "gov-trail")
    return put_trail_logs(s3, "gov-trail", "AWSLogs/", [ACCOUNT], GOV_REGIONS, DELIVERIES)


def test_two_day_window_fetches_only_files_that_can_hold_its_events(
        moto_server, moto_endpoint, govcloud_trail, tmp_path):
    mark = moto_server.mark()
    progress: list[dict] = []
    files, report = collect("s3://gov-trail", LoadOptions(
        start=START, end=END, endpoint_url=moto_endpoint, cache_dir=str(tmp_path)),
        progress=progress.append)

    expected = {f"s3://gov-trail/{log_key('AWSLogs/', ACCOUNT, r, t)}" for r in GOV_REGIONS
                for t in IN_WINDOW}
    assert len(expected) == 2 * 9
    assert {uri for _, uri in files} == expected and len(files) == len(expected)
    gets = moto_server.object_gets("gov-trail", mark)
    assert sorted(gets) == sorted(uri.removeprefix("s3://gov-trail/") for uri in expected)
    assert report.objects_fetched == len(gets)
    # Only the day folders of the window (and the delivery slack's next day) were listed.
    listed_days = {r.query.split("prefix=")[1].split("&")[0].replace("%2F", "/")
                   for r in moto_server.requests_since(mark)
                   if r.query.startswith("list-type=2") and "%2F2026%2F" in r.query}
    assert listed_days == {f"AWSLogs/{ACCOUNT}/CloudTrail/{r}/2026/11/{d}/"
                           for r in GOV_REGIONS for d in ("18", "19", "20")}
    last = dict(progress[-1])
    assert last.pop("eta_s") == 0
    assert last == {"stage": "s3", "files_done": 18, "files_total": 18,
                    "bytes": sum(os.path.getsize(p) for p, _ in files)}
    assert progress[0]["files_done"] == 0 and progress[0]["files_total"] == 18


def test_digests_are_reported_and_never_fetched(moto_server, moto_endpoint, govcloud_trail,
                                                tmp_path):
    mark = moto_server.mark()
    _, report = collect("s3://gov-trail/AWSLogs/", LoadOptions(
        start=START, end=END, endpoint_url=moto_endpoint, cache_dir=str(tmp_path)))
    assert report.skipped == [(f"s3://gov-trail/AWSLogs/{ACCOUNT}/CloudTrail-Digest/",
                               "CloudTrail digest files (integrity hashes, not events); not fetched")]
    assert not [k for k in moto_server.object_gets("gov-trail", mark) if "Digest" in k]


def test_second_open_of_the_same_range_makes_no_gets(moto_server, moto_endpoint,
                                                     govcloud_trail, tmp_path):
    opts = LoadOptions(start=START, end=END, endpoint_url=moto_endpoint, cache_dir=str(tmp_path))
    first, first_report = collect("s3://gov-trail", opts)
    mark = moto_server.mark()
    second, second_report = collect("s3://gov-trail", opts)

    assert first_report.objects_fetched == 18
    assert second_report.objects_fetched == 0
    assert moto_server.object_gets("gov-trail", mark) == []
    assert not [r for r in moto_server.requests_since(mark) if r.method == "HEAD"]
    assert sorted(second) == sorted(first)
    s3 = s3_client(moto_endpoint)
    for path, uri in second:
        key = uri.removeprefix("s3://gov-trail/")
        with open(path, "rb") as cached:
            assert cached.read() == s3.get_object(Bucket="gov-trail", Key=key)["Body"].read()


def test_cache_is_private_whatever_the_umask(moto_endpoint, govcloud_trail, tmp_path):
    cache = tmp_path / "cache"
    old = os.umask(0o002)
    try:
        files, _ = collect(f"s3://gov-trail/AWSLogs/{ACCOUNT}/CloudTrail/us-gov-east-1/2026/11/18",
                           LoadOptions(endpoint_url=moto_endpoint, cache_dir=str(cache)))
    finally:
        os.umask(old)
    assert len(files) == 4
    for folder in (cache, cache / "s3", cache / "s3" / "gov-trail"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    for path, _ in files:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [p.name for p in (cache / "s3" / "gov-trail").iterdir() if p.name.startswith(".")] == []


def test_prefix_may_point_at_an_account_or_region(moto_endpoint, govcloud_trail, tmp_path):
    opts = LoadOptions(start=START, end=END, endpoint_url=moto_endpoint, cache_dir=str(tmp_path))
    by_account, _ = collect(f"s3://gov-trail/AWSLogs/{ACCOUNT}/", opts)
    by_region, _ = collect(f"s3://gov-trail/AWSLogs/{ACCOUNT}/CloudTrail/us-gov-west-1", opts)
    assert len(by_account) == 18
    assert {u for _, u in by_region} == {u for _, u in by_account if "/us-gov-west-1/" in u}
    assert len(by_region) == 9


def test_whole_months_in_the_window_are_listed_as_one_folder(moto_server, moto_endpoint,
                                                            tmp_path):
    s3 = make_bucket(moto_endpoint, "long-window")
    edges = [datetime(2026, 10, 29, 12, 5, tzinfo=timezone.utc),   # before the window
             datetime(2026, 10, 31, 12, 5, tzinfo=timezone.utc),
             datetime(2026, 11, 17, 12, 5, tzinfo=timezone.utc),
             datetime(2026, 12, 2, 12, 5, tzinfo=timezone.utc),
             datetime(2026, 12, 5, 12, 5, tzinfo=timezone.utc)]     # after it
    put_trail_logs(s3, "long-window", "AWSLogs/", [ACCOUNT], ["us-gov-west-1"], edges, digests=False)
    mark = moto_server.mark()
    files, _ = collect("s3://long-window", LoadOptions(
        start=datetime(2026, 10, 30, tzinfo=timezone.utc), end=datetime(2026, 12, 2, 23, 0, tzinfo=timezone.utc),
        regions=["us-gov-west-1"], endpoint_url=moto_endpoint, cache_dir=str(tmp_path)))
    assert [u for _, u in sorted(files, key=lambda f: f[1])] == sorted(
        f"s3://long-window/{log_key('AWSLogs/', ACCOUNT, 'us-gov-west-1', t)}" for t in edges[1:4])
    folder = f"AWSLogs/{ACCOUNT}/CloudTrail/us-gov-west-1/"
    listed = [unquote(r.query.split("prefix=")[1].split("&")[0]).removeprefix(folder)
              for r in moto_server.requests_since(mark)
              if r.query.startswith("list-type=2") and "delimiter" not in r.query]
    assert sorted(listed) == ["2026/10/30/", "2026/10/31/", "2026/11/", "2026/12/01/", "2026/12/02/"]


def test_region_option_limits_the_walk_without_listing_regions(moto_server, moto_endpoint,
                                                               govcloud_trail, tmp_path):
    mark = moto_server.mark()
    files, _ = collect("s3://gov-trail", LoadOptions(
        start=START, end=END, regions=["us-gov-east-1"], endpoint_url=moto_endpoint,
        cache_dir=str(tmp_path)))
    assert len(files) == 9 and all("/us-gov-east-1/" in u for _, u in files)
    delimited = [r.query for r in moto_server.requests_since(mark) if "delimiter" in r.query]
    assert not [q for q in delimited if "CloudTrail%2F&" in q]  # the regions were not listed


def test_without_start_everything_is_listed_and_the_report_says_how_much(moto_endpoint,
                                                                         govcloud_trail, tmp_path):
    files, report = collect("s3://gov-trail", LoadOptions(endpoint_url=moto_endpoint,
                                                          cache_dir=str(tmp_path)))
    assert len(files) == 2 * len(DELIVERIES)
    assert any("every day folder was listed (7 days, 2026-11-16..2026-11-22)" in n
               for n in report.notes), report.notes


def test_organization_trail_layout_and_account_filter(moto_server, moto_endpoint, tmp_path):
    s3 = make_bucket(moto_endpoint, "org-trail", "us-gov-east-1")
    folder = "central/AWSLogs/o-abc1234567/"
    days = DELIVERIES[8:16]  # 18th and 19th
    put_trail_logs(s3, "org-trail", folder, [ACCOUNT, OTHER_ACCOUNT], ["us-gov-east-1"], days)
    opts = LoadOptions(start=START, end=END, endpoint_url=moto_endpoint, cache_dir=str(tmp_path))

    everyone, report = collect("s3://org-trail/central", opts)
    assert {u for _, u in everyone} == {f"s3://org-trail/{log_key(folder, a, 'us-gov-east-1', t)}"
                                        for a in (ACCOUNT, OTHER_ACCOUNT) for t in days}
    assert {p for p, _ in report.skipped} == {
        f"s3://org-trail/{folder}{a}/CloudTrail-Digest/" for a in (ACCOUNT, OTHER_ACCOUNT)}

    mark = moto_server.mark()
    one, _ = collect("s3://org-trail/central/AWSLogs/", LoadOptions(
        start=START, end=END, accounts=[OTHER_ACCOUNT], endpoint_url=moto_endpoint,
        cache_dir=str(tmp_path)))
    assert {u for _, u in one} == {u for _, u in everyone if f"/{OTHER_ACCOUNT}/" in u}
    assert not [r for r in moto_server.requests_since(mark)
                if "prefix=central%2FAWSLogs%2Fo-abc1234567%2F&" in r.query]


def test_sixteen_or_more_gets_in_flight(moto_server, moto_endpoint, tmp_path):
    s3 = make_bucket(moto_endpoint, "busy-trail")
    day = [START + timedelta(minutes=5 * i) for i in range(48)]
    put_trail_logs(s3, "busy-trail", "AWSLogs/", [ACCOUNT], ["us-gov-west-1"], day, digests=False)
    moto_server.max_in_flight, moto_server.get_delay = 0, 0.3
    try:
        files, report = collect("s3://busy-trail", LoadOptions(
            start=START, end=END, endpoint_url=moto_endpoint, cache_dir=str(tmp_path)))
    finally:
        moto_server.get_delay = 0.0
    assert len(files) == 48 and report.objects_fetched == 48
    assert moto_server.max_in_flight >= 16


def test_object_removed_after_listing_is_reported_and_the_others_load(moto_endpoint, tmp_path):
    s3 = make_bucket(moto_endpoint, "flaky-trail")
    keys = put_trail_logs(s3, "flaky-trail", "AWSLogs/", [ACCOUNT], ["us-gov-west-1"],
                          DELIVERIES[8:12], digests=False)
    doomed = sorted(keys)[1]

    def delete_once_listed(update: dict) -> None:  # runs after listing, before any GET
        if update["files_done"] == 0:
            s3.delete_object(Bucket="flaky-trail", Key=doomed)

    files, report = collect("s3://flaky-trail", LoadOptions(
        start=START, end=END, endpoint_url=moto_endpoint, cache_dir=str(tmp_path)),
        progress=delete_once_listed)
    assert {u for _, u in files} == {f"s3://flaky-trail/{k}" for k in keys if k != doomed}
    assert report.skipped == [(f"s3://flaky-trail/{doomed}",
                               "NoSuchKey: object was removed after it was listed")]
    for path, _ in files:
        assert gzip.decompress(open(path, "rb").read()).startswith(b'{"Records"')


def test_object_denied_by_policy_is_reported_and_the_others_load(moto_server, moto_endpoint,
                                                                   tmp_path):
    s3 = make_bucket(moto_endpoint, "policed-trail")
    keys = sorted(put_trail_logs(s3, "policed-trail", "AWSLogs/", [ACCOUNT], ["us-gov-west-1"],
                                 DELIVERIES[8:12], digests=False))
    moto_server.denied.add(f"/policed-trail/{keys[0]}")
    try:
        files, report = collect("s3://policed-trail", LoadOptions(
            start=START, end=END, endpoint_url=moto_endpoint, cache_dir=str(tmp_path)))
    finally:
        moto_server.denied.clear()
    assert sorted(u for _, u in files) == [f"s3://policed-trail/{k}" for k in keys[1:]]
    assert report.skipped == [(f"s3://policed-trail/{keys[0]}", "AccessDenied: Access Denied")]
    assert report.objects_fetched == 4


def test_cancel_stops_promptly(moto_server, moto_endpoint, tmp_path):
    s3 = make_bucket(moto_endpoint, "long-trail")
    day = [START + timedelta(minutes=5 * i) for i in range(100)]
    put_trail_logs(s3, "long-trail", "AWSLogs/", [ACCOUNT], ["us-gov-west-1"], day, digests=False)
    cancel = threading.Event()
    report = LoadReport()
    moto_server.get_delay = 0.2
    try:
        files = []
        for item in s3_files("s3://long-trail", LoadOptions(
                start=START, end=END, endpoint_url=moto_endpoint, cache_dir=str(tmp_path)),
                report, cancel=cancel):
            files.append(item)
            cancel.set()
            cancelled_at = time.monotonic()
        stopped_after = time.monotonic() - cancelled_at
    finally:
        moto_server.get_delay = 0.0
    assert len(files) == 1 and report.cancelled
    assert stopped_after < 0.5          # not waiting for the GETs still in flight
    assert report.objects_fetched < 100


def test_missing_bucket_is_a_clear_error(moto_endpoint, tmp_path):
    with pytest.raises(S3SourceError, match="s3://no-such-trail-bucket/.*NoSuchBucket: bucket does not exist"):
        collect("s3://no-such-trail-bucket/AWSLogs/", LoadOptions(endpoint_url=moto_endpoint,
                                                                  cache_dir=str(tmp_path)))


@pytest.mark.parametrize("uri", ["s3://", "s3:///AWSLogs/", "s3://../etc/"])
def test_uri_without_a_valid_bucket_is_a_clear_error(uri, tmp_path):
    with pytest.raises(S3SourceError, match="no valid bucket name"):
        collect(uri, LoadOptions(cache_dir=str(tmp_path)))


def test_folder_without_awslogs_layout_loads_every_object_with_a_note(moto_endpoint, tmp_path):
    s3 = make_bucket(moto_endpoint, "copied-logs")
    odd = "x_20261399T9999Z_\u202e[red]\x1b]52;c;\x07.json.gz"  # no real date, hostile text
    for name in ("a.json.gz", "deeper/b.json.gz", odd):
        s3.put_object(Bucket="copied-logs", Key=f"incident-42/{name}",
                      Body=gzip.compress(b'{"Records": []}'))
    files, report = collect("s3://copied-logs/incident-42/", LoadOptions(
        start=START, endpoint_url=moto_endpoint, cache_dir=str(tmp_path)))
    assert sorted(u for _, u in files) == ["s3://copied-logs/incident-42/a.json.gz",
                                           "s3://copied-logs/incident-42/deeper/b.json.gz",
                                           f"s3://copied-logs/incident-42/{odd}"]
    assert all(os.path.dirname(p) == str(tmp_path / "s3" / "copied-logs") and
               os.path.basename(p).isprintable() for p, _ in files)
    assert report.notes == ["s3://copied-logs/incident-42/: no AWSLogs/ folder, "
                            "so every object under it was listed"]


# -- end to end through loaders.load() ------------------------------------------------------
def test_load_reads_the_window_and_reopening_it_fetches_nothing(moto_endpoint, govcloud_trail,
                                                               tmp_path):
    opts = LoadOptions(start=START, end=END, endpoint_url=moto_endpoint, cache_dir=str(tmp_path))
    updates: list[dict] = []
    table, report = load(["s3://gov-trail"], opts, progress=updates.append)
    # One record per file, two minutes before its delivery: the 20th's 00:03 file is read
    # (it could hold the 19th's last minutes) but its record falls outside the window.
    inside = [t for t in IN_WINDOW if START <= t - timedelta(minutes=2) <= END]
    assert len(inside) == 8
    assert set(table.df["event_id"]) == {dynamodb_record(ACCOUNT, r, t - timedelta(minutes=2))["eventID"]
                                         for r in GOV_REGIONS for t in inside}
    assert report.files_read == report.objects_fetched == 18
    assert report.errors == []
    assert updates[-1]["stage"] == "s3" and updates[-1]["files_done"] == 18
    assert "events" in updates[-1]
    verbatim = table.raw([0])[0]
    assert verbatim.startswith(b'{"eventVersion"') and table.df["event_id"].iat[0].encode() in verbatim

    again, second = load(["s3://gov-trail"], opts)
    assert second.objects_fetched == 0
    assert set(again.df["event_id"]) == set(table.df["event_id"])


def test_load_skips_a_corrupt_object_and_keeps_the_rest(moto_endpoint, tmp_path):
    s3 = make_bucket(moto_endpoint, "corrupt-trail")
    keys = put_trail_logs(s3, "corrupt-trail", "AWSLogs/", [ACCOUNT], ["us-gov-west-1"],
                          DELIVERIES[9:12], digests=False)
    broken = log_key("AWSLogs/", ACCOUNT, "us-gov-west-1", DELIVERIES[9] + timedelta(minutes=5))
    s3.put_object(Bucket="corrupt-trail", Key=broken, Body=b"\x1f\x8b\x08\x00 truncated")
    table, report = load(["s3://corrupt-trail"], LoadOptions(
        start=START, end=END, endpoint_url=moto_endpoint, cache_dir=str(tmp_path)))
    assert len(table) == len(keys) == 3
    assert [path for path, _ in report.skipped] == [f"s3://corrupt-trail/{broken}"]
    assert report.skipped[0][1]
