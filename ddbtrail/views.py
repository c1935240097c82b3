"""What the console and the CLI show, as pure functions of (event table, query mask).

Facet counts, timeline buckets, principal lanes, sort orders, error jumps, related events
and the drill-down summary are computed here, vectorised over the per-table code arrays
that `ddbtrail.query` caches, so the console only draws and a facet toggle stays cheap on
a million rows.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd

from ddbtrail.events import CATEGORICAL, LOCATORS, NAT, UNIQUE_STRINGS, EventTable
from ddbtrail.query import (FIELDS, column_codes, distinct_values, per_table, read_only_codes,
                            table_groups, time_ns)
from ddbtrail.timeparse import format_time

#: Timeline bucket sizes, smallest first.
LADDER = tuple(timedelta(seconds=s) for s in (
    1, 5, 15, 30, 60, 5 * 60, 15 * 60, 30 * 60, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 7 * 86400))
_MONDAY = 4 * 86400 * 10**9    # 1970-01-01 was a Thursday: week buckets start on Mondays


def _column(field: str) -> str:
    """Column behind a query field (`op`) or a column name (`operation`)."""
    return FIELDS.get(field, field)


def _name_rank(table: EventTable, column: str) -> np.ndarray:
    """Position of each distinct value in name order, for "by count, then by name"."""
    def compute():
        names = distinct_values(table, column)
        rank = np.empty(len(names), dtype=np.int64)
        rank[sorted(range(len(names)), key=names.__getitem__)] = np.arange(len(names))
        return rank
    return per_table(table, ("rank", column), compute)


def _top(counts: np.ndarray, rank: np.ndarray, limit: int | None) -> np.ndarray:
    """Indexes of the non-zero counts, largest first, ties by name."""
    present = np.flatnonzero(counts)
    return present[np.lexsort((rank[present], -counts[present]))][:limit]


def has_error(table: EventTable) -> np.ndarray:
    """Per row: the call failed (errorCode present)."""
    def compute():
        codes, names = column_codes(table, "error")
        return np.array([name != "" for name in names] + [False], dtype=bool)[codes]  # -1: missing
    return per_table(table, "has_error", compute)


# -- facets ---------------------------------------------------------------------------
def _code_counts(table: EventTable, column: str, mask: np.ndarray) -> np.ndarray:
    """Masked rows per distinct value of `column` (missing values not counted).

    Codes are shifted by one so missing (-1) lands in a bin that is dropped, which saves a
    filtering pass; the counts of all rows (the empty query) are kept per table."""
    codes, names = column_codes(table, column)
    if mask.all():
        return per_table(table, ("all_counts", column),
                         lambda: np.bincount(codes + 1, minlength=len(names) + 1)[1:])
    return np.bincount(codes[mask] + 1, minlength=len(names) + 1)[1:]


def facet_counts(table: EventTable, mask: np.ndarray, field: str,
                 limit: int | None = None) -> list[tuple[str, int]]:
    """(value, events) for the rows in `mask`, most frequent first, ties by name.

    `field` is a query field or column name (`table`/`tables`, `op`/`operation`, …).  A
    multi-table call counts once for each table it touches.  Absent values count under ""
    (the UI decides how to show that).
    """
    column = _column(field)
    if column != "tables" and column not in CATEGORICAL:
        raise ValueError(f"no facet for {field!r}")
    names = distinct_values(table, column)
    groups = table_groups(table) if column == "tables" else None
    if groups is not None:                       # count per label, then spread to its tables
        pair_label, pair_table = groups
        per_label = _code_counts(table, "tables", mask)
        counts = np.bincount(pair_table, weights=per_label[pair_label], minlength=len(names)).astype(np.int64)
    elif column == "tables":
        counts = np.bincount(table.table_codes[mask[table.table_rows]], minlength=len(names))
    else:
        counts = _code_counts(table, column, mask)
    return [(str(names[i]), int(counts[i])) for i in _top(counts, _name_rank(table, column), limit)]


# -- timeline -------------------------------------------------------------------------
@dataclass
class Timeline:
    """Events per bucket, stacked: `error` = calls with an errorCode; of the rest, `read` =
    readOnly true and `write` = readOnly false or unknown (an unknown call may have changed
    data, so a responder should see it with the writes)."""

    bucket: timedelta
    edges: pd.DatetimeIndex     # UTC, len(buckets) + 1; bucket i is [edges[i], edges[i+1])
    read: np.ndarray
    write: np.ndarray
    error: np.ndarray

    @property
    def counts(self) -> np.ndarray:
        return self.read + self.write + self.error


@dataclass
class Lanes:
    """Who was active when: events (and failed calls) per top principal per bucket."""

    principals: list[str]
    counts: np.ndarray          # lane x bucket
    errors: np.ndarray          # lane x bucket
    bucket: timedelta
    edges: pd.DatetimeIndex


def _ns(moment) -> int:
    stamp = pd.Timestamp(moment)
    return (stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp).value


def _dated(table: EventTable) -> int:
    """Rows with a time: the table is in time order with missing times (NaT) last."""
    return per_table(table, "dated", lambda: int(np.count_nonzero(time_ns(table) != NAT)))


def _bucketed(table: EventTable, mask: np.ndarray, start, end, target_buckets: int):
    """Bucket size, edges (ns) and, for the masked rows inside the range, rows and buckets.

    The range is [start, end); a missing bound comes from the first/last masked event.
    When every row in the range is masked (the empty query), `rows` is a slice and buckets
    are runs of rows found by binary search (times are sorted): no gathers, no division.
    """
    times = time_ns(table)[:_dated(table)]
    dated = mask[:len(times)]
    anything = bool(dated.any())
    lo = _ns(start) if start is not None else int(times[np.argmax(dated)]) if anything else None
    hi = (_ns(end) if end is not None
          else int(times[len(dated) - 1 - np.argmax(dated[::-1])]) + 1 if anything else None)
    lo, hi = (hi, hi) if lo is None else (lo, lo) if hi is None else (lo, hi)
    if lo is None:
        return LADDER[0], np.empty(0, dtype=np.int64), slice(0, 0), np.empty(0, dtype=np.int64)
    hi = max(hi, lo + 1)
    for bucket in LADDER:
        step = int(bucket.total_seconds()) * 10**9
        origin = _MONDAY if bucket == LADDER[-1] else 0
        first = (lo - origin) // step * step + origin
        count = -(-(hi - first) // step)
        if count <= target_buckets:
            break
    edges = first + step * np.arange(count + 1, dtype=np.int64)
    a, b = np.searchsorted(times, [lo, hi])
    if mask[a:b].all():
        runs = np.diff(np.clip(np.searchsorted(times, edges), a, b))
        return bucket, edges, slice(a, b), np.repeat(np.arange(count), runs)
    rows = a + np.flatnonzero(mask[a:b])
    return bucket, edges, rows, (times[rows] - first) // step


def time_range(table: EventTable, mask: np.ndarray | None = None) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """First and last event time of the rows selected (all rows when `mask` is None);
    None when none of them has a time."""
    times = table.df["time"] if mask is None else table.df["time"][np.asarray(mask, dtype=bool)]
    times = times.dropna()
    return (times.min(), times.max()) if len(times) else None


def _edges(edges: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(edges.view("datetime64[ns]")).tz_localize("UTC")


def timeline(table: EventTable, mask: np.ndarray, start=None, end=None,
             target_buckets: int = 60) -> Timeline:
    """Stacked read/write/error counts over [start, end) (default: the masked events' span)
    in the smallest ladder bucket that fits the range in `target_buckets` buckets."""
    bucket, edges, rows, index = _bucketed(table, mask, start, end, target_buckets)
    n = max(len(edges) - 1, 0)
    kind = per_table(table, "kind", lambda: np.where(has_error(table), 2,
                                                      np.where(read_only_codes(table) == 1, 0, 1)))
    stacked = np.bincount(index * 3 + kind[rows], minlength=n * 3).reshape(n, 3)
    return Timeline(bucket, _edges(edges), stacked[:, 0], stacked[:, 1], stacked[:, 2])


def principal_lanes(table: EventTable, mask: np.ndarray, top: int = 8, start=None, end=None,
                    target_buckets: int = 60) -> Lanes:
    """The `top` principals of the masked events in the range, each with its own counts
    per bucket (same buckets as `timeline` for the same arguments)."""
    bucket, edges, rows, index = _bucketed(table, mask, start, end, target_buckets)
    n = max(len(edges) - 1, 0)
    codes, names = column_codes(table, "principal")
    codes = codes[rows]
    chosen = _top(np.bincount(codes[codes >= 0], minlength=len(names)), _name_rank(table, "principal"), top)
    lane_of = np.full(len(names) + 1, -1)
    lane_of[chosen] = np.arange(len(chosen))
    lanes = lane_of[codes]
    keep = lanes >= 0
    cells = lanes[keep] * n + index[keep]
    size = len(chosen) * n
    counts = np.bincount(cells, minlength=size).reshape(len(chosen), n)
    errors = np.bincount(cells[has_error(table)[rows][keep]], minlength=size).reshape(len(chosen), n)
    return Lanes([str(names[i]) for i in chosen], counts, errors, bucket, _edges(edges))


def zoom(window: tuple, factor: float, center) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The window scaled by 1/`factor` around `center` (factor 2 zooms in, 0.5 out); the
    center keeps its place on screen, like zooming under a mouse pointer."""
    lo, hi, mid = (pd.Timestamp(_ns(moment), tz="UTC") for moment in (*window, center))
    return mid - (mid - lo) / factor, mid + (hi - mid) / factor


# -- the event table --------------------------------------------------------------------
def _sort_key(table: EventTable, column: str) -> np.ndarray:
    def compute():
        if column == "time":
            times = time_ns(table)
            return np.where(times == NAT, np.iinfo(np.int64).max, times)  # missing = latest
        if column == "read_only":
            return read_only_codes(table).astype(np.int64)
        if column in LOCATORS:
            return table.df[column].to_numpy(dtype=np.int64)
        if column in CATEGORICAL or column in UNIQUE_STRINGS:
            return np.append(_name_rank(table, column), -1)[column_codes(table, column)[0]]
        raise ValueError(f"cannot sort by {column!r}")
    return per_table(table, ("sort", column), compute)


def sorted_rows(table: EventTable, mask: np.ndarray, column: str = "time",
                descending: bool = False) -> np.ndarray:
    """Row indexes of `mask` ordered by `column` (query field or column name); stable, so
    rows with equal values stay in time order either way."""
    column = _column(column)
    rows = np.flatnonzero(mask)
    if column == "time" and not descending:
        return rows                                  # the table is kept in time order
    key = _sort_key(table, column)[rows]
    return rows[np.argsort(-key if descending else key, kind="stable")]


def next_error_row(table: EventTable, order: np.ndarray, from_pos: int, direction: int) -> int | None:
    """Position in `order` of the nearest failed call after (`direction` > 0) or before
    `from_pos`; None if there is none.  First error: (-1, 1); last: (len(order), -1)."""
    failed = np.flatnonzero(has_error(table)[order])
    if direction > 0:
        i = np.searchsorted(failed, from_pos, side="right")
        return int(failed[i]) if i < len(failed) else None
    i = np.searchsorted(failed, from_pos, side="left") - 1
    return int(failed[i]) if i >= 0 else None


# -- one event --------------------------------------------------------------------------
def related_rows(table: EventTable, row: int, window: timedelta = timedelta(minutes=15)) -> dict:
    """Other calls a responder checks next, each as row indexes in time order:
    `same_access_key` and `same_session` (same principal and session name) within
    ±window, `same_request` (same request id) at any time.  Blank keys relate nothing."""
    times = time_ns(table)[:_dated(table)]
    near = np.empty(0, dtype=np.int64)
    if row < len(times):
        width = int(window.total_seconds() * 10**9)
        near = np.arange(np.searchsorted(times, times[row] - width, side="left"),
                         np.searchsorted(times, times[row] + width, side="right"))

    def same(column: str, rows: np.ndarray) -> np.ndarray:
        codes, names = column_codes(table, column)
        code = codes[row]
        if code < 0 or names[code] == "":
            return rows[:0]
        return rows[codes[rows] == code]

    def others(rows: np.ndarray) -> np.ndarray:
        return rows[rows != row]

    return {
        "same_access_key": others(same("access_key", near)),
        "same_session": others(same("principal", same("session", near))),
        "same_request": others(same("request_id", np.arange(len(table)))),
    }


def nearest_rows(table: EventTable, rows: np.ndarray, row: int, limit: int) -> np.ndarray:
    """The `limit` rows of `rows` closest in time to `row` (ties: the earlier), in time order:
    a busy access key can have thousands of related calls and a screen shows a few."""
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows) <= limit:
        return rows
    times = time_ns(table)
    distance = np.abs(times[rows].astype(np.float64) - float(times[row]))
    return np.sort(rows[np.argsort(distance, kind="stable")[:limit]])


def rows_mask(table: EventTable, rows) -> np.ndarray:
    """Boolean mask selecting `rows` (row numbers past the table's end are ignored)."""
    mask = np.zeros(len(table), dtype=bool)
    picked = np.fromiter((r for r in rows if 0 <= r < len(table)), dtype=np.int64)
    mask[picked] = True
    return mask


def event_summary(table: EventTable, row: int) -> dict[str, list[tuple[str, str | None, str]]]:
    """The drill-down header: sections "who", "what", "tables", "from", "result", "ids",
    each a list of (label, query field or None, value) so that any value can become a
    filter.  Values are the raw strings (blank when absent); the UI makes them printable."""
    record = table.df.iloc[row]

    def text(column: str) -> str:
        value = record[column]
        return "" if pd.isna(value) else str(value)

    read_only = record["read_only"]
    return {
        "who": [("principal", "principal", text("principal")), ("type", "type", text("principal_type")),
                ("session", "session", text("session")), ("arn", "arn", text("arn")),
                ("account", "account", text("account")), ("access key", "key", text("access_key"))],
        "what": [("time", None, format_time(record["time"])), ("operation", "op", text("operation")),
                 ("source", "source", text("source")), ("plane", "plane", text("plane")),
                 ("read-only", None, "") if pd.isna(read_only)
                 else ("read-only", "ro", str(bool(read_only)).lower())],
        "tables": [("table", "table", name) for name in table.tables_of(row)],
        "from": [("ip", "ip", text("ip")), ("region", "region", text("region")),
                 ("user agent", "ua", text("user_agent")), ("vpc endpoint", "vpce", text("vpc_endpoint"))],
        "result": [("error", "error", text("error")), ("message", None, text("error_message"))],
        "ids": [("event id", "id", text("event_id")), ("request id", "request", text("request_id")),
                ("origin", None, f"{text('origin')} #{int(record['position'])}")],
    }
