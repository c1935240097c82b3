from datetime import datetime, timezone

import pandas as pd
import pytest

from ddbtrail.timeparse import format_time, parse_time

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("text, expected", [
    ("-24h", datetime(2026, 11, 19, 12, 0, tzinfo=timezone.utc)),
    ("-30m", datetime(2026, 11, 20, 11, 30, tzinfo=timezone.utc)),
    ("-7d", datetime(2026, 11, 13, 12, 0, tzinfo=timezone.utc)),
    ("-90s", datetime(2026, 11, 20, 11, 58, 30, tzinfo=timezone.utc)),
    ("-2w", datetime(2026, 11, 6, 12, 0, tzinfo=timezone.utc)),
    (" -1H ", datetime(2026, 11, 20, 11, 0, tzinfo=timezone.utc)),
])
def test_relative_times_count_back_from_now(text, expected):
    assert parse_time(text, now=NOW) == expected


def test_relative_time_from_naive_now_is_utc():
    assert parse_time("-1h", now=datetime(2026, 11, 20, 12, 0)) == datetime(2026, 11, 20, 11, 0, tzinfo=timezone.utc)


def test_relative_time_defaults_to_current_time():
    before = datetime.now(timezone.utc)
    value = parse_time("-1h")
    after = datetime.now(timezone.utc)
    assert before.timestamp() - 3600 <= value.timestamp() <= after.timestamp() - 3600


@pytest.mark.parametrize("text, expected", [
    ("2026-11-20", datetime(2026, 11, 20, tzinfo=timezone.utc)),
    ("2026-11-20T10:00", datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)),
    ("2026-11-20T10:00:05Z", datetime(2026, 11, 20, 10, 0, 5, tzinfo=timezone.utc)),
    ("2026-11-20 10:00:05.250Z", datetime(2026, 11, 20, 10, 0, 5, 250000, tzinfo=timezone.utc)),
    ("2026-11-20T10:00+02:00", datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)),
    ("2026-11-20T10:00:00+0000", datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)),
])
def test_iso_times_are_utc(text, expected):
    value = parse_time(text, now=NOW)
    assert value == expected
    assert value.utcoffset().total_seconds() == 0


@pytest.mark.parametrize("text", ["", "yesterday", "-24", "24h", "-h", "+2h", "2026-13-01", "-1y"])
def test_bad_times_say_what_is_accepted(text):
    with pytest.raises(ValueError, match="ISO UTC.*relative"):
        parse_time(text, now=NOW)


def test_format_time_writes_utc_with_z():
    assert format_time(pd.Timestamp("2026-11-20T10:00:05+02:00")) == "2026-11-20T08:00:05Z"
    assert format_time(pd.Timestamp("2026-11-20T10:00:05.25Z")) == "2026-11-20T10:00:05.250000Z"
    assert format_time(datetime(2026, 11, 20, 10, tzinfo=timezone.utc)) == "2026-11-20T10:00:00Z"
    assert format_time(pd.NaT) == ""
    assert format_time(None) == ""
    assert parse_time(format_time(NOW)) == NOW


def test_a_bare_date_as_upper_bound_keeps_that_whole_day():
    assert parse_time("2026-11-20", upper=True) == datetime(2026, 11, 20, 23, 59, 59, 999999, tzinfo=timezone.utc)
    assert parse_time("2026-11-20T10:00", upper=True) == datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)
    assert parse_time("-1h", now=NOW, upper=True) == datetime(2026, 11, 20, 11, 0, tzinfo=timezone.utc)
