"""The headless answer to "what is in these logs?" (DESIGN §4 `summary --json`).

The keys `events`, `time_range`, `by_operation`, `by_principal`, `by_table`, `by_error` and
`files` are a contract used by scripts and tests; the rest are extras a responder wants on
the first screen: what was dropped, what the source cannot show, where calls came from.
"""
from __future__ import annotations

import numpy as np

from ddbtrail.events import EventTable
from ddbtrail.timeparse import format_time
from ddbtrail.views import facet_counts, time_range

#: How many source IPs to list; the full list belongs in the console's facet pane.
TOP_IPS = 20


def _by(table: EventTable, mask: np.ndarray, field: str, limit: int | None = None) -> dict[str, int]:
    """Facet counts as a dict, most frequent first; blank values (no error, no IP) left out.

    For `tables` an event counts once for each table it touches (Batch*, Transact*, PartiQL).
    """
    counts = [(name, n) for name, n in facet_counts(table, mask, field) if name]
    return dict(counts[:limit])


def summary(table: EventTable, mask: np.ndarray | None, report) -> dict:
    """Summary of the rows of `table` selected by `mask` (None: all) and the load `report`."""
    mask = np.ones(len(table), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    span = time_range(table, mask)
    return {
        "events": int(mask.sum()),
        "time_range": [format_time(span[0]), format_time(span[1])] if span else None,
        "by_operation": _by(table, mask, "operation"),
        "by_principal": _by(table, mask, "principal"),
        "by_table": _by(table, mask, "tables"),
        "by_error": _by(table, mask, "error"),
        "files": {"read": report.files_read,
                  "skipped": [{"path": path, "reason": reason} for path, reason in report.skipped]},
        "events_loaded": len(table),
        "duplicates_dropped": report.duplicates,
        "by_region": _by(table, mask, "region"),
        "by_ip": _by(table, mask, "ip", TOP_IPS),
        "notes": list(report.notes),
        "errors": list(report.errors),
    }
