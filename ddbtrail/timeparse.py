"""Times typed by a responder: `--start/--end` on the CLI and `after:`/`before:` in queries.

One parser for both, so `-24h` means the same thing everywhere.  Everything is UTC: an
investigator comparing CloudTrail times (always UTC) must never get a local-time shift.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

_RELATIVE = re.compile(r"-(\d+)([smhdw])")
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_time(text: str, now: datetime | None = None, *, upper: bool = False) -> datetime:
    """Return the aware UTC datetime that `text` names.

    Accepted: relative `-30m`, `-24h`, `-7d` (also `s`, `w`) counted back from `now`
    (default: the current time); ISO 8601 dates and date-times such as `2026-11-20`,
    `2026-11-20T10:00`, `2026-11-20 10:00:00Z`, `2026-11-20T10:00+02:00`.  A time without
    an offset is UTC, an offset is converted to UTC.  With `upper` (an inclusive end bound
    such as --end), a bare date means the last instant of that day, so `--end 2026-11-20`
    keeps the 20th.  Raises ValueError saying what is accepted when `text` is none of these.
    """
    text = text.strip()
    relative = _RELATIVE.fullmatch(text.lower())
    if relative:
        base = now if now is not None else datetime.now(timezone.utc)
        base = base.replace(tzinfo=timezone.utc) if base.tzinfo is None else base.astimezone(timezone.utc)
        amount, unit = relative.groups()
        return base - timedelta(seconds=int(amount) * _UNIT_SECONDS[unit])
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"not a time: {text!r} (use ISO UTC like 2026-11-20T10:00 or relative like -24h, -30m, -7d)"
        ) from None
    if upper and _DATE_ONLY.fullmatch(text):
        value += timedelta(days=1, microseconds=-1)
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def format_time(value) -> str:
    """ISO 8601 UTC text with a `Z`, as CloudTrail writes eventTime; "" for a missing time.

    Accepts a datetime or a pandas Timestamp (sub-second digits kept only when present).
    """
    if value is None or value != value:  # None or NaT
        return ""
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
