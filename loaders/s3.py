"""S3 trail logs: `s3://bucket[/prefix]` -> local copies of the log objects in range.

Listing follows CloudTrail's own layout (`AWSLogs/[o-ORG/]ACCOUNT/CloudTrail/REGION/
YYYY/MM/DD/`) so a two-day window over a years-old trail lists two day folders per
account and region instead of the whole bucket.  Objects are fetched with many GETs in
flight and kept in a private cache keyed by bucket/key/ETag, so reopening the same range
costs only the listings.  Only List and Get calls are made: ddbtrail never writes to AWS.
"""
from __future__ import annotations

import hashlib
import os
import re
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterator

from botocore.exceptions import BotoCoreError, ClientError

from loaders import LoadOptions, LoadReport, aws

#: GETs kept in flight; the client's connection pool is sized to match.
CONCURRENCY = 16
#: A log file is named after its delivery time and holds records from before it; CloudTrail
#: delivers within ~5-15 minutes, so files named up to this long after `end` may hold events.
DELIVERY_SLACK = timedelta(minutes=20)
#: Folders beside `CloudTrail/` that hold no API-call records: seen, reported, never fetched.
NOT_EVENTS = {
    "CloudTrail-Digest": "CloudTrail digest files (integrity hashes, not events); not fetched",
    "CloudTrail-Insight": "CloudTrail Insights events (not API calls); not fetched",
}
_DELIVERED = re.compile(r"_(\d{8}T\d{4})Z[_.]")
_BUCKET_ERRORS = {
    "NoSuchBucket": "bucket does not exist",
    "AccessDenied": "access denied listing the bucket (needs s3:ListBucket)",
    "AllAccessDisabled": "all access to the bucket is disabled",
    "PermanentRedirect": "bucket is in another region: pass its --region",
}


class S3SourceError(RuntimeError):
    """The bucket or prefix cannot be read at all (as opposed to one bad object)."""


@dataclass(frozen=True)
class LogObject:
    key: str
    etag: str
    size: int


def parse_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/a/b` -> ("bucket", "a/b/"); the prefix is always a folder."""
    if not uri.startswith("s3://"):
        raise S3SourceError(f"not an s3:// URI: {uri!r}")
    bucket, _, prefix = uri[len("s3://"):].partition("/")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", bucket):  # also keeps the cache path inside
        raise S3SourceError(f"no valid bucket name in {uri!r}")
    prefix = "/".join(p for p in prefix.split("/") if p)
    return bucket, prefix + "/" if prefix else ""


def delivered_at(key: str) -> datetime | None:
    """Delivery time in a CloudTrail log file name (`…_20261120T1005Z_…`), if it has one."""
    m = _DELIVERED.search(key.rsplit("/", 1)[-1])
    try:
        return datetime.strptime(m.group(1), "%Y%m%dT%H%M").replace(tzinfo=timezone.utc) if m else None
    except ValueError:  # digits that are no date: keep the file, the time filter can't judge it
        return None


def date_folders(first: date, last: date) -> list[str]:
    """`YYYY/MM/` for months wholly inside first..last, `YYYY/MM/DD/` for the other days:
    a 90-day window costs about 3 month listings plus the edge days, not 90 listings."""
    folders, day = [], first
    while day <= last:
        month_end = (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        if day.day == 1 and month_end <= last:
            folders.append(f"{day:%Y/%m}/")
            day = month_end + timedelta(days=1)
        else:
            folders.append(f"{day:%Y/%m/%d}/")
            day += timedelta(days=1)
    return folders


def cache_root(opts: LoadOptions) -> Path:
    """`opts.cache_dir`/s3, else $XDG_CACHE_HOME (or ~/.cache)/ddbtrail/s3."""
    base = opts.cache_dir or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ddbtrail"
    return Path(base) / "s3"


def s3_files(uri: str, opts: LoadOptions, report: LoadReport,
             progress: Callable[[dict], None] | None = None,
             cancel: threading.Event | None = None) -> Iterator[tuple[str, str]]:
    """Yield `(local_path, "s3://bucket/key")` for each trail log object in the time range.

    Files come out as they finish downloading (cache hits first), so the caller can decode
    while the rest download.  A failing object becomes a `report.skipped` entry; a bucket
    that cannot be listed raises S3SourceError.
    """
    cancel = cancel or threading.Event()
    bucket, prefix = parse_uri(uri)
    s3 = aws.client("s3", opts, max_pool=CONCURRENCY)
    listing = _Listing(s3, bucket, report)
    stop = threading.Event()  # set when the caller stops early, so downloads abort too
    pool = ThreadPoolExecutor(CONCURRENCY, thread_name_prefix="ddbtrail-s3")
    try:
        objects = listing.logs(prefix, opts, pool, cancel)
        yield from _fetch_all(s3, bucket, objects, _private_dir(cache_root(opts), bucket),
                              report, progress, cancel, stop, pool)
    finally:
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)


def list_folders(s3, bucket: str, prefix: str) -> list[str]:
    """Names of the sub-folders directly under `prefix` (one delimiter listing)."""
    return [p["Prefix"][len(prefix):].rstrip("/")
            for page in _pages(s3, bucket, prefix, "/") for p in page.get("CommonPrefixes", [])]


def _pages(s3, bucket: str, prefix: str, delimiter: str):
    """Pages of ListObjectsV2; bucket-level failures become S3SourceError."""
    kwargs = {"Bucket": bucket, "Prefix": prefix}
    if delimiter:
        kwargs["Delimiter"] = delimiter
    where = f"s3://{bucket}/{prefix}"
    try:
        yield from s3.get_paginator("list_objects_v2").paginate(**kwargs)
    except ClientError as err:
        code = err.response.get("Error", {}).get("Code", "")
        what = _BUCKET_ERRORS.get(code, err.response.get("Error", {}).get("Message", ""))
        raise S3SourceError(f"cannot list {where}: {code or 'error'}: {what}") from err
    except BotoCoreError as err:
        raise S3SourceError(f"cannot list {where}: {err}") from err


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=timezone.utc)


class _Listing:
    """Walks the AWSLogs layout of one bucket with delimiter listings."""

    def __init__(self, s3, bucket: str, report: LoadReport):
        self.s3 = s3
        self.bucket = bucket
        self.report = report

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def folders(self, prefix: str) -> list[str]:
        return list_folders(self.s3, self.bucket, prefix)

    def objects(self, prefix: str) -> list[LogObject]:
        """Every object under `prefix`, folder markers left out."""
        return [LogObject(o["Key"], o.get("ETag", "").strip('"'), o.get("Size", 0))
                for page in _pages(self.s3, self.bucket, prefix, "") for o in page.get("Contents", [])
                if not o["Key"].endswith("/")]

    # -- the layout ---------------------------------------------------------------
    def logs(self, prefix: str, opts: LoadOptions, pool: ThreadPoolExecutor,
             cancel: threading.Event) -> list[LogObject]:
        """Log objects under `prefix` delivered inside opts.start..end (+ slack)."""
        start, end = _utc(opts.start), _utc(opts.end)
        by_day, whole = self.log_folders(prefix, opts)
        if by_day and start is not None:
            last = (end or datetime.now(timezone.utc)) + DELIVERY_SLACK
            dates = date_folders(start.date(), last.date())
            whole += [f"{folder}{when}" for folder in by_day for when in dates]
        else:
            whole += by_day
        found = []
        for objects in pool.map(self.objects, whole):  # day folders listed in parallel
            if cancel.is_set():
                return []
            found += objects
        kept = self.in_range(found, start, end)
        if start is None and by_day:
            listed = sorted({t.date() for t in map(delivered_at, (o.key for o in found)) if t})
            span = f", {listed[0]}..{listed[-1]}" if listed else ""
            self.report.notes.append(
                f"{self.uri(prefix)}: no --start, so every day folder was listed "
                f"({len(listed)} days{span}); use --start/--end to list and fetch less")
        return kept

    def log_folders(self, prefix: str, opts: LoadOptions) -> tuple[list[str], list[str]]:
        """(region folders to list day by day, folders to list whole) for this prefix.

        The prefix may point above `AWSLogs/`, at it, at an organization, an account, a
        region or deeper; levels the prefix already fixes are not listed again.
        """
        parts = [p for p in prefix.split("/") if p]
        if "AWSLogs" not in parts:
            if "AWSLogs" not in self.folders(prefix):
                self.report.notes.append(
                    f"{self.uri(prefix)}: no AWSLogs/ folder, so every object under it was listed")
                return [], [prefix]
            parts.append("AWSLogs")
        at = parts.index("AWSLogs") + 1
        if at < len(parts) and parts[at].startswith("o-"):
            at += 1
        base, rest = "/".join(parts[:at]) + "/", parts[at:]
        if len(rest) > 3:  # inside a region: a year, month or day folder
            return [], [prefix]
        accounts = [f"{base}{rest[0]}/"] if rest else self.account_folders(base, opts.accounts)
        regions: list[str] = []
        for account in accounts:
            if len(rest) == 3:
                regions.append(f"{account}{rest[1]}/{rest[2]}/")
            elif len(rest) == 2:
                regions += self.region_folders(f"{account}{rest[1]}/", opts.regions)
            elif opts.regions:
                regions += [f"{account}CloudTrail/{r}/" for r in opts.regions]
            else:
                for name in self.folders(account):
                    if name == "CloudTrail":
                        regions += self.region_folders(f"{account}CloudTrail/", [])
                    elif name in NOT_EVENTS:
                        self.report.skipped.append((self.uri(f"{account}{name}/"), NOT_EVENTS[name]))
        return regions, []

    def account_folders(self, folder: str, accounts: list[str]) -> list[str]:
        """Account folders under AWSLogs/ (descending into o-… organization folders)."""
        if accounts and folder.rstrip("/").rsplit("/", 1)[-1].startswith("o-"):
            return [f"{folder}{a}/" for a in accounts]
        found = []
        for name in self.folders(folder):
            if name.startswith("o-"):
                found += self.account_folders(f"{folder}{name}/", accounts)
            elif not accounts or name in accounts:
                found.append(f"{folder}{name}/")
        return found

    def region_folders(self, product: str, regions: list[str]) -> list[str]:
        name = product.rstrip("/").rsplit("/", 1)[-1]
        if name in NOT_EVENTS:
            self.report.skipped.append((self.uri(product), NOT_EVENTS[name]))
            return []
        return [f"{product}{r}/" for r in regions or self.folders(product)]

    def in_range(self, objects: list[LogObject], start: datetime | None,
                 end: datetime | None) -> list[LogObject]:
        """Objects whose delivery time can hold events in start..end; digests reported once."""
        low = start.replace(second=0, microsecond=0) if start else None
        high = end + DELIVERY_SLACK if end else None
        kept, not_events = [], {}
        for obj in objects:
            folder = next((f for f in NOT_EVENTS if f"{f}/" in obj.key or f"_{f}_" in obj.key), None)
            if folder:  # reported by folder when in one, else by key
                marker = f"{folder}/"
                at = obj.key.find(marker)
                not_events.setdefault(obj.key[:at + len(marker)] if at >= 0 else obj.key, folder)
                continue
            when = delivered_at(obj.key)
            if when is None or ((low is None or when >= low) and (high is None or when <= high)):
                kept.append(obj)
        for where, folder in not_events.items():
            self.report.skipped.append((self.uri(where), NOT_EVENTS[folder]))
        return kept


# -- fetching -------------------------------------------------------------------------
def _private_dir(root: Path, bucket: str) -> Path:
    """root/bucket with mode 0700 on both (set explicitly: umask does not get a say)."""
    folder = root / bucket
    if not root.parent.is_dir():  # ddbtrail's own cache folder: private too
        root.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(root.parent, 0o700)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    for path in (root, folder):
        os.chmod(path, 0o700)
    return folder


def _cache_path(folder: Path, key: str, etag: str) -> Path:
    """One file per (key, ETag); the key's own file name is kept readable at the end."""
    digest = hashlib.sha256(f"{key}\n{etag}".encode()).hexdigest()[:32]
    name = re.sub(r"[^A-Za-z0-9._-]", "_", key.rsplit("/", 1)[-1])[-100:]
    return folder / f"{digest}_{name}"


class _Stopped(Exception):
    """The caller stopped reading: the download is abandoned, its temp file removed."""


def _download(s3, bucket: str, key: str, folder: Path, stop: Callable[[], bool]) -> Path:
    """GET one object into the cache via a 0600 temp file renamed into place."""
    reply = s3.get_object(Bucket=bucket, Key=key)
    target = _cache_path(folder, key, reply.get("ETag", "").strip('"'))
    temp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.part")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as out:
            for block in reply["Body"].iter_chunks(1 << 20):
                if stop():
                    raise _Stopped
                out.write(block)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return target


def _failure(err: Exception) -> str:
    if isinstance(err, ClientError):
        code = err.response.get("Error", {}).get("Code", "error")
        if code in ("NoSuchKey", "404"):
            return f"{code}: object was removed after it was listed"
        return f"{code}: {err.response.get('Error', {}).get('Message', '')}".rstrip(": ")
    if isinstance(err, BotoCoreError):
        return f"download failed: {err}"
    return f"could not write to the cache: {err}"


def _fetch_all(s3, bucket: str, objects: list[LogObject], folder: Path, report: LoadReport,
               progress, cancel: threading.Event, stop: threading.Event,
               pool: ThreadPoolExecutor) -> Iterator[tuple[str, str]]:
    total, done, nbytes, started = len(objects), 0, 0, time.monotonic()
    fetched = 0

    def tell() -> None:
        if progress:
            elapsed = time.monotonic() - started
            eta = elapsed / done * (total - done) if done and fetched else None
            progress({"stage": "s3", "files_done": done, "files_total": total,
                      "bytes": nbytes, "eta_s": eta})

    hits, misses = [], []
    for obj in objects:
        path = _cache_path(folder, obj.key, obj.etag)
        if path.is_file() and path.stat().st_size == obj.size:
            hits.append((obj, path))
        else:
            misses.append(obj)
    halted = lambda: stop.is_set() or cancel.is_set()  # noqa: E731
    waiting = iter(misses)
    in_flight: dict[Future, LogObject] = {}

    def refill() -> None:
        """Keep the pool fed (finished downloads wait in `in_flight` until yielded)."""
        while sum(not f.done() for f in in_flight) < 2 * CONCURRENCY and not halted():
            obj = next(waiting, None)
            if obj is None:
                return
            in_flight[pool.submit(_download, s3, bucket, obj.key, folder, halted)] = obj

    tell()  # listing done: files_total known before the first GET
    refill()
    for obj, path in hits:
        if cancel.is_set():
            break
        refill()
        done, nbytes = done + 1, nbytes + obj.size
        tell()
        yield str(path), f"s3://{bucket}/{obj.key}"
    while in_flight and not cancel.is_set():
        finished, _ = wait(in_flight, timeout=0.2, return_when=FIRST_COMPLETED)
        for future in finished:
            if cancel.is_set():
                break
            obj = in_flight.pop(future)
            report.objects_fetched += 1
            fetched += 1
            done += 1
            try:
                path = future.result()
            except _Stopped:
                continue
            except Exception as err:  # one object's failure must not lose the others
                report.skipped.append((f"s3://{bucket}/{obj.key}", _failure(err)))
                tell()
                continue
            nbytes += obj.size
            tell()
            yield str(path), f"s3://{bucket}/{obj.key}"
        refill()
    if cancel.is_set():
        report.cancelled = True
