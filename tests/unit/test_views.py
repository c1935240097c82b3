"""Views: facet counts, timeline buckets and lanes, sort orders, error jumps, related events."""
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from ddbtrail import views
from ddbtrail.query import parse
from tests.unit.test_query import ROLE, T0, event, table_of

A, B, C = ROLE + "Alpha", ROLE + "Bravo", ROLE + "Charlie"


@pytest.fixture(scope="module")
def table():
    return table_of([
        event(0, principal=A, operation="Scan", read_only=1, access_key="K1", session="s1",
              request_id="req-1"),
        event(1, principal=B, operation="PutItem", read_only=0, tables=("Orders", "Customers"),
              error="AccessDenied", access_key="K2"),
        event(2, principal=A, operation="Query", read_only=1, access_key="K1", session="s1"),
        event(10, principal=C, operation="GetItem", read_only=-1, tables=()),
        event(14, principal=A, operation="Scan", read_only=1, access_key="K1", session="s2",
              error="ThrottlingException"),
        event(16, principal=B, operation="Scan", read_only=1, access_key="K1", session="s1"),
        event(20, principal=ROLE + "Other", operation="Scan", read_only=1, access_key="K1",
              session="s1"),
        event(45, principal=A, operation="DeleteItem", read_only=0, access_key="K1", session="s1",
              request_id="req-1", error="ConditionalCheckFailedException"),
    ])


ALL = np.ones(8, dtype=bool)


# -- facets ---------------------------------------------------------------------------
def test_facets_count_by_frequency_then_name(table):
    assert views.facet_counts(table, ALL, "principal") == [
        (A, 4), (B, 2), (C, 1), (ROLE + "Other", 1)]
    assert views.facet_counts(table, ALL, "operation", limit=2) == [("Scan", 4), ("DeleteItem", 1)]
    assert views.facet_counts(table, ALL, "op", limit=2) == [("Scan", 4), ("DeleteItem", 1)]


def test_facets_follow_the_mask(table):
    mask = parse("op:Scan").mask(table)
    assert views.facet_counts(table, mask, "principal") == [
        (A, 2), (B, 1), (ROLE + "Other", 1)]
    assert views.facet_counts(table, np.zeros(8, dtype=bool), "principal") == []


def test_table_facet_counts_every_table_an_event_touches(table):
    assert views.facet_counts(table, ALL, "table") == [("Orders", 7), ("Customers", 1)]
    assert views.facet_counts(table, ALL, "tables") == [("Orders", 7), ("Customers", 1)]
    assert views.facet_counts(table, parse("error:*").mask(table), "table") == [
        ("Orders", 3), ("Customers", 1)]


def test_absent_values_are_counted_under_the_empty_string(table):
    assert views.facet_counts(table, ALL, "error") == [
        ("", 5), ("AccessDenied", 1), ("ConditionalCheckFailedException", 1), ("ThrottlingException", 1)]
    assert views.facet_counts(table, ALL, "session") == [("s1", 5), ("", 2), ("s2", 1)]


def test_every_documented_facet_field_works(table):
    for field in ("principal", "table", "operation", "error", "ip", "user_agent", "region",
                  "account", "session", "principal_type", "access_key", "source", "plane"):
        counts = views.facet_counts(table, ALL, field)
        assert sum(n for _, n in counts) == (8 if field != "table" else 8)
    with pytest.raises(ValueError):
        views.facet_counts(table, ALL, "time")


# -- timeline -------------------------------------------------------------------------
def test_timeline_picks_the_smallest_bucket_that_fits(table):
    line = views.timeline(table, ALL, target_buckets=60)
    assert line.bucket == timedelta(minutes=1)                  # 45 min of events
    assert len(line.edges) == len(line.read) + 1 == 47
    assert line.edges[0] == pd.Timestamp(T0) and line.edges[-1] == pd.Timestamp(T0) + timedelta(minutes=46)
    assert views.timeline(table, ALL, target_buckets=10).bucket == timedelta(minutes=5)
    assert views.timeline(table, ALL, target_buckets=2).bucket == timedelta(minutes=30)


def test_timeline_stacks_reads_writes_and_errors(table):
    line = views.timeline(table, ALL, target_buckets=10)      # 5-minute buckets
    assert line.read.tolist() == [2, 0, 0, 1, 1, 0, 0, 0, 0, 0]
    assert line.write.tolist() == [0, 0, 1, 0, 0, 0, 0, 0, 0, 0]   # unknown read-only counts as a write
    assert line.error.tolist() == [1, 0, 1, 0, 0, 0, 0, 0, 0, 1]   # errors whatever read-only says
    assert line.counts.sum() == 8


def test_timeline_window_is_half_open_and_aligned(table):
    start, end = T0 + timedelta(minutes=1), T0 + timedelta(minutes=16)
    line = views.timeline(table, ALL, start=start, end=end, target_buckets=40)
    assert line.bucket == timedelta(seconds=30) and len(line.read) == 30
    assert line.edges[0] == pd.Timestamp(start) and line.edges[-1] == pd.Timestamp(end)
    assert line.counts.sum() == 4                                # minutes 1, 2, 10, 14; 16 is out
    naive = views.timeline(table, ALL, start=np.datetime64("2026-11-20T10:01"),
                           end=pd.Timestamp("2026-11-20 10:16"), target_buckets=40)
    assert (naive.counts == line.counts).all()


def test_timeline_of_nothing(table):
    empty = views.timeline(table, np.zeros(8, dtype=bool))
    assert len(empty.edges) == 0 and empty.counts.tolist() == []
    fixed = views.timeline(table, np.zeros(8, dtype=bool), start=T0, end=T0 + timedelta(hours=1))
    assert fixed.counts.tolist() == [0] * 60


def test_week_buckets_start_on_monday():
    long = table_of([event(day * 24 * 60) for day in range(0, 700, 3)])
    line = views.timeline(long, np.ones(len(long), dtype=bool), target_buckets=120)
    assert line.bucket == timedelta(days=7)
    assert all(edge.weekday() == 0 and edge.hour == 0 for edge in line.edges)
    assert line.counts.sum() == len(long)


def test_principal_lanes_show_who_was_active_when(table):
    lanes = views.principal_lanes(table, ALL, top=2, target_buckets=10)
    assert lanes.principals == [A, B]
    assert lanes.bucket == timedelta(minutes=5)
    assert lanes.counts.tolist() == [[2, 0, 1, 0, 0, 0, 0, 0, 0, 1],
                                     [1, 0, 0, 1, 0, 0, 0, 0, 0, 0]]
    assert lanes.errors.tolist() == [[0, 0, 1, 0, 0, 0, 0, 0, 0, 1],
                                     [1, 0, 0, 0, 0, 0, 0, 0, 0, 0]]
    assert (lanes.edges == views.timeline(table, ALL, target_buckets=10).edges).all()


def test_lanes_rank_within_the_window(table):
    lanes = views.principal_lanes(table, ALL, top=8, start=T0 + timedelta(minutes=10),
                                  end=T0 + timedelta(minutes=30), target_buckets=4)
    assert lanes.principals == [A, B, C, ROLE + "Other"]
    assert lanes.counts.sum(axis=1).tolist() == [1, 1, 1, 1]


def test_zoom_keeps_the_center_in_place():
    lo, hi = datetime(2026, 11, 20, 10, tzinfo=timezone.utc), datetime(2026, 11, 20, 12, tzinfo=timezone.utc)
    assert views.zoom((lo, hi), 2, lo + timedelta(hours=1)) == (
        pd.Timestamp("2026-11-20 10:30Z"), pd.Timestamp("2026-11-20 11:30Z"))
    assert views.zoom((lo, hi), 2, lo + timedelta(minutes=30)) == (
        pd.Timestamp("2026-11-20 10:15Z"), pd.Timestamp("2026-11-20 11:15Z"))
    assert views.zoom((lo, hi), 0.5, lo) == (pd.Timestamp("2026-11-20 10:00Z"), pd.Timestamp("2026-11-20 14:00Z"))


# -- the event table ------------------------------------------------------------------
def test_sorted_rows_default_is_time_order_of_the_mask(table):
    assert views.sorted_rows(table, ALL).tolist() == list(range(8))
    assert views.sorted_rows(table, ALL, descending=True).tolist() == list(range(7, -1, -1))
    assert views.sorted_rows(table, parse("op:Scan").mask(table)).tolist() == [0, 4, 5, 6]


def test_sorted_rows_by_column_is_stable(table):
    assert views.sorted_rows(table, ALL, "operation").tolist() == [7, 3, 1, 2, 0, 4, 5, 6]
    assert views.sorted_rows(table, ALL, "op", descending=True).tolist() == [0, 4, 5, 6, 2, 1, 3, 7]
    assert views.sorted_rows(table, ALL, "principal").tolist() == [0, 2, 4, 7, 1, 5, 3, 6]
    assert views.sorted_rows(table, ALL, "error").tolist() == [0, 2, 3, 5, 6, 1, 7, 4]
    assert views.sorted_rows(table, ALL, "read_only").tolist() == [3, 1, 7, 0, 2, 4, 5, 6]
    assert views.sorted_rows(table, ALL, "request_id").tolist() == [1, 2, 3, 4, 5, 6, 0, 7]


def test_sorted_rows_rejects_unknown_columns(table):
    with pytest.raises(ValueError):
        views.sorted_rows(table, ALL, "colour", descending=True)


def test_missing_times_sort_as_latest():
    undated = table_of([event(5), event(0, time=np.iinfo(np.int64).min), event(1)])
    assert undated.df["time"].isna().tolist() == [False, False, True]
    assert views.sorted_rows(undated, np.ones(3, dtype=bool), descending=True).tolist() == [2, 1, 0]
    line = views.timeline(undated, np.ones(3, dtype=bool))
    assert line.counts.sum() == 2


def test_jump_between_errors(table):
    order = views.sorted_rows(table, ALL, descending=True)     # errors at rows 1, 4, 7
    assert views.next_error_row(table, order, -1, 1) == 0          # first error: row 7
    assert views.next_error_row(table, order, 0, 1) == 3           # row 4
    assert views.next_error_row(table, order, 3, 1) == 6           # row 1
    assert views.next_error_row(table, order, 6, 1) is None
    assert views.next_error_row(table, order, len(order), -1) == 6  # last error
    assert views.next_error_row(table, order, 3, -1) == 0
    assert views.next_error_row(table, order, 0, -1) is None
    assert views.next_error_row(table, order[:0], -1, 1) is None


# -- one event ------------------------------------------------------------------------
def test_related_rows(table):
    related = views.related_rows(table, 2)                         # minute 2, key K1, A/s1
    assert related["same_access_key"].tolist() == [0, 4, 5]         # minute 20 and 45 are too late
    assert related["same_session"].tolist() == [0]                  # s1 of B and Other are others' sessions
    assert related["same_request"].tolist() == []
    assert views.related_rows(table, 0)["same_request"].tolist() == [7]   # 45 minutes apart
    wide = views.related_rows(table, 2, window=timedelta(hours=1))
    assert wide["same_access_key"].tolist() == [0, 4, 5, 6, 7]
    assert wide["same_session"].tolist() == [0, 7]


def test_blank_keys_relate_nothing(table):
    related = views.related_rows(table, 3)                         # no key, no session, no request
    assert all(len(rows) == 0 for rows in related.values())
    assert set(related) == {"same_access_key", "same_session", "same_request"}


def test_event_summary(table):
    summary = views.event_summary(table, 1)
    assert list(summary) == ["who", "what", "tables", "from", "result", "ids"]
    assert ("principal", "principal", B) in summary["who"]
    assert ("access key", "key", "K2") in summary["who"]
    assert summary["what"][:2] == [("time", None, "2026-11-20T10:01:00Z"), ("operation", "op", "PutItem")]
    assert ("read-only", "ro", "false") in summary["what"]
    assert summary["tables"] == [("table", "table", "Orders"), ("table", "table", "Customers")]
    assert summary["result"][0] == ("error", "error", "AccessDenied")
    assert ("read-only", None, "") in views.event_summary(table, 3)["what"]   # unknown: not a filter
    assert views.event_summary(table, 3)["tables"] == []


def test_summary_fields_are_query_fields_that_select_the_event(table):
    from ddbtrail.query import add_term
    for row in range(8):
        for section in views.event_summary(table, row).values():
            for _, field, value in section:
                if field is not None:
                    assert parse(add_term("", field, value)).mask(table)[row], (field, value)


def test_table_facet_with_names_that_contain_commas():
    odd = table_of([event(0, tables=("a,b",)), event(1, tables=("a", "b")), event(2, tables=("a",))])
    assert views.facet_counts(odd, np.ones(3, dtype=bool), "table") == [("a", 2), ("a,b", 1), ("b", 1)]


def test_an_empty_table_has_empty_views():
    empty = table_of([])
    none = parse("table:Orders op:Scan error:* ip:10.0.0.0/8 ro:true scan").mask(empty)
    assert none.shape == (0,)
    assert views.facet_counts(empty, none, "table") == views.facet_counts(empty, none, "principal") == []
    assert len(views.timeline(empty, none).counts) == 0
    assert views.principal_lanes(empty, none).principals == []
    assert views.sorted_rows(empty, none, "operation").tolist() == []
    assert views.next_error_row(empty, views.sorted_rows(empty, none), -1, 1) is None


def test_time_range_of_selected_rows_ignores_missing_times(table):
    first, last = views.time_range(table)
    assert first == table.df["time"].min() and last == table.df["time"].max()
    mask = np.zeros(len(table), dtype=bool)
    assert views.time_range(table, mask) is None
    mask[[1, 2]] = True
    assert views.time_range(table, mask) == (table.df["time"].iat[1], table.df["time"].iat[2])


def test_nearest_rows_keeps_the_closest_in_time_in_time_order(table):
    rows = np.arange(len(table))
    assert list(views.nearest_rows(table, rows, 0, len(table))) == list(rows)
    times = table.df["time"].astype("int64").to_numpy()
    picked = views.nearest_rows(table, rows, 3, 2)
    distances = sorted(abs(times - times[3]))[:2]
    assert len(picked) == 2 and sorted(abs(times[picked] - times[3])) == distances
    assert list(picked) == sorted(picked)


def test_rows_mask_ignores_rows_past_the_end(table):
    mask = views.rows_mask(table, {0, 2, len(table) + 5})
    assert list(np.flatnonzero(mask)) == [0, 2]
