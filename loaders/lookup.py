"""The `lookup` source: DynamoDB management events through CloudTrail LookupEvents.

LookupEvents is the one source that needs no trail, but it is slow and partial: 2
requests/s per account and region, 50 events a page, the last 90 days, management events
only.  So each region gets its own thread and its own token bucket, every HTTP attempt
(botocore's retries included) waits for a token, and a throttled or failing page is retried
with our own backoff until it succeeds or its time budget runs out — an event is never
silently dropped.  When a region gives up, the report says at which page and time, and
what was loaded before is kept.

Each event's `CloudTrailEvent` string is the verbatim record; the shared decoder keeps a
page's strings in memory as that page's source (one `SourceInfo` per page, all named
`lookup:REGION`, with the size and SHA-256 of the page's record texts, concatenated).  A record's
position is `page * 50 + index`, page and index counted from 0 in the order the API
returned them; `page_label(position)` gives the "page 3, event 12" drill-down shows.
"""
from __future__ import annotations

import hashlib
import queue
import random
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterator

from botocore.exceptions import ClientError, HTTPClientError

from ddbtrail.events import Chunk, ProgressCallback, SourceInfo
from ddbtrail.timeparse import format_time
from loaders import LoadOptions, LoadReport, aws
from loaders.decode import chunk_from_records

MANAGEMENT_ONLY_NOTICE = (
    "LookupEvents returns management events only (CreateTable, DeleteTable, UpdateTable...); "
    "item-level calls (GetItem, PutItem, Query, Scan, Batch*, Transact*, ExecuteStatement) are "
    "data events that exist only in S3 trail logs or CloudTrail Lake — load them with s3://... "
    "or --trail NAME. LookupEvents: 2 requests/s per account and region, 50 events per page, "
    "last 90 days."
)
EVENT_SOURCE = "dynamodb.amazonaws.com"
PAGE_SIZE = 50
MAX_DAYS_BACK = 90
#: Error codes that mean "slow down", not "this will never work".
THROTTLING_CODES = {"ThrottlingException", "Throttling", "TooManyRequestsException",
                    "RequestLimitExceeded"}


class LookupRangeError(ValueError):
    """The requested time range cannot be served by LookupEvents (e.g. more than 90 days back)."""


@dataclass
class Pacing:
    """How hard to push LookupEvents; the defaults are the API's real quota."""

    rate: float = 2.0               # requests per second per account and region
    page_budget_s: float = 300.0    # how long one page may keep failing before its region stops
    botocore_attempts: int = 3      # botocore's own (adaptive) attempts inside each of ours
    max_backoff_s: float = 8.0


def page_label(position: int) -> str:
    """Human form of a lookup record's position: 'page 3, event 12' (both from 1)."""
    page, index = divmod(position, PAGE_SIZE)
    return f"page {page + 1}, event {index + 1}"


class TokenBucket:
    """At most `rate` requests per second, no bursts: one token, refilled every 1/rate s.

    A bucket of one keeps any one-second window at `rate` requests or fewer, which is what
    the API counts; a bigger bucket would allow a burst that the service throttles.  The
    interval is 5% longer than 1/rate so network jitter does not push the third request of
    a pair of windows into the service's count and draw a throttle.
    """

    def __init__(self, rate: float) -> None:
        self.interval = 1.05 / rate
        self._next = 0.0
        self._lock = threading.Lock()

    def take(self, **_event_kwargs) -> None:
        """Block until the next request may go out (usable as a botocore event handler)."""
        with self._lock:
            now = time.monotonic()
            at = max(now, self._next)
            self._next = at + self.interval
        if at > now:
            time.sleep(at - now)


_buckets: dict[tuple, TokenBucket] = {}
_buckets_lock = threading.Lock()


def _bucket(opts: LoadOptions, region: str, rate: float) -> TokenBucket:
    """The one bucket of this credential source, endpoint and region, so that two loads
    running at once (e.g. a console reload) share the quota instead of doubling it."""
    with _buckets_lock:
        return _buckets.setdefault((opts.profile, opts.endpoint_url, region, rate), TokenBucket(rate))


@dataclass
class _Page:
    region: str
    number: int
    events: list[dict]


@dataclass
class _RegionFailed:
    region: str
    page: int
    error: str


@dataclass
class _RegionDone:
    region: str


def check_range(opts: LoadOptions) -> None:
    """Refuse what LookupEvents cannot answer before making any request."""
    now = datetime.now(timezone.utc)
    start = opts.start if opts.start is None or opts.start.tzinfo else opts.start.replace(tzinfo=timezone.utc)
    if start is not None and start < now - timedelta(days=MAX_DAYS_BACK):
        days = (now - start).days
        raise LookupRangeError(
            f"--start {start:%Y-%m-%dT%H:%M:%SZ} is {days} days back; LookupEvents keeps "
            f"only the last {MAX_DAYS_BACK} days. Load older events from the trail's S3 logs "
            f"(s3://... or --trail NAME).")
    if opts.start is not None and opts.end is not None and opts.start > opts.end:
        raise LookupRangeError("--start is after --end")


def lookup_chunks(opts: LoadOptions, report: LoadReport, progress: ProgressCallback | None = None,
                  cancel: threading.Event | None = None, pacing: Pacing | None = None) -> Iterator[Chunk]:
    """DynamoDB management events of every region in `opts.regions`, one Chunk per page.

    Raises LookupRangeError at once (before any request) for a start beyond 90 days.
    Regions are fetched in parallel; a region that fails keeps what it loaded and adds an
    entry to `report.errors`.
    """
    check_range(opts)
    regions = opts.regions or [aws.region_of(opts)]
    if MANAGEMENT_ONLY_NOTICE not in report.notes:
        report.notes.append(MANAGEMENT_ONLY_NOTICE)
    return _chunks(opts, regions, report, progress, cancel or threading.Event(), pacing or Pacing())


def _chunks(opts: LoadOptions, regions: list[str], report: LoadReport,
            progress: ProgressCallback | None, cancel: threading.Event, pacing: Pacing) -> Iterator[Chunk]:
    inbox: queue.Queue = queue.Queue()
    stop = threading.Event()
    pages = {r: 0 for r in regions}
    events = {r: 0 for r in regions}
    oldest: dict[str, str] = {}
    threads = [threading.Thread(target=_fetch_region, name=f"lookup-{r}", daemon=True,
                                args=(r, opts, pacing, stop, cancel, inbox)) for r in regions]
    for thread in threads:
        thread.start()
    running = len(threads)
    try:
        while running and not cancel.is_set():
            try:
                message = inbox.get(timeout=0.1)   # wake up to notice a cancel
            except queue.Empty:
                continue
            if isinstance(message, _RegionDone):
                running -= 1
            elif isinstance(message, _RegionFailed):
                running -= 1
                region = message.region
                loaded = (f" after {pages[region]} pages ({events[region]} events, back to "
                          f"{oldest.get(region, 'the start')}) were loaded; older events in the range were "
                          f"not loaded" if pages[region] else "; nothing was loaded from this region")
                report.errors.append(f"lookup:{region}: stopped at page {message.page + 1}{loaded}: "
                                     f"{message.error}")
            else:
                region = message.region
                chunk = _decode_page(message, opts, report)
                pages[region] += 1
                events[region] += len(message.events)
                report.files_read += 1          # a page read counts as a file: it may be empty
                report.bytes_read += chunk.sources[0].size if chunk is not None else 0
                if message.events:
                    oldest[region] = format_time(message.events[-1].get("EventTime"))
                if progress:
                    # No files_total / eta_s: LookupEvents does not say how many pages remain.
                    progress({"stage": "lookup", "files_done": sum(pages.values()),
                              "bytes": report.bytes_read, "events": sum(events.values()),
                              "regions": {r: {"pages": pages[r], "events": events[r]} for r in regions}})
                if chunk is not None and len(chunk):
                    yield chunk
        if cancel.is_set():
            report.cancelled = True
    finally:
        stop.set()


def _decode_page(page: _Page, opts: LoadOptions, report: LoadReport) -> Chunk | None:
    """Decode one page; its verbatim CloudTrailEvent texts become the page source's bytes."""
    if not page.events:
        return None
    source = SourceInfo(name=f"lookup:{page.region}", kind="lookup")
    raws = [(e.get("CloudTrailEvent") or "").encode("utf-8") for e in page.events]
    positions = [page.number * PAGE_SIZE + i for i in range(len(raws))]
    chunk, bad = chunk_from_records(raws, source, opts.all_sources, positions)
    source.size = sum(len(raw) for raw in raws)
    source.sha256 = hashlib.sha256(b"".join(raws)).hexdigest()
    report.skipped.extend((f"{source.name} {page_label(position)}", reason) for position, reason in bad)
    return chunk


def _fetch_region(region: str, opts: LoadOptions, pacing: Pacing, stop: threading.Event,
                  cancel: threading.Event, inbox: queue.Queue) -> None:
    """Page through one region, paced by its region's token bucket; report pages or the failure."""
    page = 0
    try:
        client = aws.client("cloudtrail", opts, region, retries=pacing.botocore_attempts)
        client.meta.events.register("before-send.cloudtrail.LookupEvents", _bucket(opts, region, pacing.rate).take)
        params: dict = {"LookupAttributes": [{"AttributeKey": "EventSource", "AttributeValue": EVENT_SOURCE}],
                        "MaxResults": PAGE_SIZE}
        if opts.start is not None:
            params["StartTime"] = opts.start
        if opts.end is not None:
            params["EndTime"] = opts.end
        while not (stop.is_set() or cancel.is_set()):
            response = _call_with_backoff(client, params, pacing, stop, cancel)
            if response is None:     # stopped while waiting
                break
            inbox.put(_Page(region, page, response.get("Events", [])))
            token = response.get("NextToken")
            if not token:
                break
            params["NextToken"] = token
            page += 1
    except Exception as exc:  # noqa: BLE001 — any failure ends this region, reported, never raised
        inbox.put(_RegionFailed(region, page, _describe(exc)))
        return
    inbox.put(_RegionDone(region))


def _call_with_backoff(client, params: dict, pacing: Pacing, stop: threading.Event,
                       cancel: threading.Event) -> dict | None:
    """One page, retried on throttling and server/connection errors until the page budget ends."""
    deadline = time.monotonic() + pacing.page_budget_s
    attempt = 0
    while True:
        try:
            return client.lookup_events(**params)
        except (ClientError, HTTPClientError) as exc:
            if not _retryable(exc):
                raise
            delay = min(pacing.max_backoff_s, 0.5 * 2 ** attempt) * random.uniform(0.5, 1.0)
            if time.monotonic() + delay > deadline:
                raise
            attempt += 1
            if _wait(delay, stop, cancel):
                return None


def _wait(seconds: float, *events: threading.Event) -> bool:
    """Sleep up to `seconds`; True as soon as any of `events` is set (stop or user cancel)."""
    deadline = time.monotonic() + seconds
    while not any(e.is_set() for e in events):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        events[0].wait(min(0.1, remaining))
    return True


def _retryable(exc: Exception) -> bool:
    """Throttling, server errors and connections dropped mid-call pass; an endpoint that
    cannot be reached at all (after botocore's own attempts) or a refusal does not."""
    if not isinstance(exc, ClientError):
        return True
    code = exc.response.get("Error", {}).get("Code", "")
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return code in THROTTLING_CODES or status >= 500


def _describe(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'error')}: {error.get('Message', '')}".rstrip(": ")
    return f"{type(exc).__name__}: {exc}"
