"""The headless answer to "what is in these logs?" (DESIGN §4 `summary --json`).

The keys `events`, `time_range`, `by_operation`, `by_principal`, `by_table`, `by_error` and
`files` are a contract used by scripts and tests; the rest are extras a responder wants on
the first screen: what was dropped, what the source cannot show, where calls came from.
"""
from __future__ import annotations

import numpy as np

from ddbtrail.events import EventTable
from ddbtrail.timeparse import format_time

#: How many source IPs to list; the full list belongs in the console's facet pane.
TOP_IPS = 20


def _by_value(table: EventTable, mask: np.ndarray, column: str) -> dict[str, int]:
    """Counts of a categorical column under the mask, most frequent first; blanks and zeros left out."""
    values = table.df[column]
    counts = np.bincount(values.cat.codes.to_numpy()[mask], minlength=len(values.cat.categories))
    counts[values.cat.categories == ""] = 0
    return _ranked(values.cat.categories, counts)


def _by_table(table: EventTable, mask: np.ndarray) -> dict[str, int]:
    """An event counts once for each table it touches (Batch*, Transact*, PartiQL)."""
    counts = np.bincount(table.table_codes[mask[table.table_rows]], minlength=len(table.table_names))
    return _ranked(table.table_names, counts)


def _ranked(names, counts: np.ndarray) -> dict[str, int]:
    order = sorted((i for i in np.flatnonzero(counts)), key=lambda i: (-counts[i], str(names[i])))
    return {str(names[i]): int(counts[i]) for i in order}


def summary(table: EventTable, mask: np.ndarray | None, report) -> dict:
    """Summary of the rows of `table` selected by `mask` (None: all) and the load `report`."""
    mask = np.ones(len(table), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    times = table.df["time"][mask].dropna()
    by_ip = _by_value(table, mask, "ip")
    return {
        "events": int(mask.sum()),
        "time_range": [format_time(times.min()), format_time(times.max())] if len(times) else None,
        "by_operation": _by_value(table, mask, "operation"),
        "by_principal": _by_value(table, mask, "principal"),
        "by_table": _by_table(table, mask),
        "by_error": _by_value(table, mask, "error"),
        "files": {"read": report.files_read,
                  "skipped": [{"path": path, "reason": reason} for path, reason in report.skipped]},
        "events_loaded": len(table),
        "duplicates_dropped": report.duplicates,
        "by_region": _by_value(table, mask, "region"),
        "by_ip": dict(list(by_ip.items())[:TOP_IPS]),
        "notes": list(report.notes),
        "errors": list(report.errors),
    }
