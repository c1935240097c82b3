"""Exports that can serve as evidence (DESIGN §5).

`jsonl` and `cloudtrail` carry each record's exact source bytes, never re-serialised, so
a reviewer can match them against the original logs.  `csv` and `parquet` carry the
event-table columns for spreadsheets and notebooks.  Every export has a manifest naming the
query, the sources with their SHA-256 and the SHA-256 of the output.  Output and manifest
are written to temp files in the target directory and renamed into place, so a crash or a
cancel never leaves a half-written file that looks complete.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import tempfile
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

import ddbtrail
from ddbtrail.events import COLUMNS, EventTable
from ddbtrail.timeparse import format_time

FORMATS = ("jsonl", "cloudtrail", "csv", "parquet")
#: The file name ending each format is saved with.
EXTENSIONS = {"jsonl": ".jsonl", "cloudtrail": ".json", "csv": ".csv", "parquet": ".parquet"}
#: Rows per read/write step: bounds memory and sets how often progress and cancel are seen.
BATCH_ROWS = 5000
#: Table columns in csv/parquet: the contract columns plus the record's position in its
#: origin, which together locate the verbatim record.
EXPORT_COLUMNS = COLUMNS + ("position",)

_PARQUET_SCHEMA = pa.schema([
    (name, pa.timestamp("ns", tz="UTC") if name == "time"
     else pa.bool_() if name == "read_only"
     else pa.int64() if name == "position"
     else pa.string())
    for name in EXPORT_COLUMNS
])

Progress = Callable[[int, int], None]


class ExportCancelled(Exception):
    """The export was cancelled; nothing was left on disk."""


def manifest_path(out: str | os.PathLike) -> Path:
    return Path(f"{os.fspath(out)}.manifest.json")


def export(table: EventTable, rows: Iterable[int], fmt: str, out: str | os.PathLike, *,
           query: str = "", marks: Iterable[int] = (), progress: Progress | None = None,
           cancel: threading.Event | None = None) -> dict:
    """Write `rows` of `table` to `out` in `fmt` plus `OUT.manifest.json`; return the manifest.

    `rows` are row indexes in the order to write them; `marks` are row indexes the
    responder marked (listed in the manifest).  `progress(done, total)` is called after
    each batch; setting `cancel` stops between batches and raises ExportCancelled after
    removing the temp files.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r} (choose from {', '.join(FORMATS)})")
    rows = np.asarray(rows if isinstance(rows, np.ndarray) else list(rows), dtype=np.int64)
    out = Path(out)
    write = {"jsonl": _write_jsonl, "cloudtrail": _write_cloudtrail,
             "csv": _write_csv, "parquet": _write_parquet}[fmt]

    def batches():
        for start in range(0, len(rows), BATCH_ROWS):
            if cancel is not None and cancel.is_set():
                raise ExportCancelled(f"export to {out} cancelled")
            yield rows[start:start + BATCH_ROWS]
            if progress is not None:
                progress(min(start + BATCH_ROWS, len(rows)), len(rows))

    temps: list[Path] = []
    try:
        data_tmp = _temp_beside(out)
        temps.append(data_tmp)
        extra = write(table, batches(), data_tmp) or {}
        manifest = _manifest(table, rows, fmt, out, data_tmp, query, marks, extra)
        manifest_tmp = _temp_beside(manifest_path(out))
        temps.append(manifest_tmp)
        manifest_tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n",
                                encoding="utf-8")
        for tmp in temps:
            _sync(tmp)
        os.replace(data_tmp, out)
        os.replace(manifest_tmp, manifest_path(out))
        return manifest
    finally:
        for tmp in temps:
            tmp.unlink(missing_ok=True)


def _sync(path: Path) -> None:
    """Data on disk before the rename, so a crash cannot leave a complete-looking empty file."""
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def _temp_beside(path: Path) -> Path:
    """An empty temp file in the same directory, so the final rename is atomic."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    return Path(name)


def _write_jsonl(table: EventTable, batches, path: Path) -> dict:
    """One record per line.  A record that was pretty-printed in its source holds line
    breaks, which in valid JSON can only be insignificant whitespace: they become spaces
    so the line stays one record (counted in the manifest)."""
    reflowed = 0
    with open(path, "wb") as f:
        for batch in batches:
            for raw in table.raw(batch):
                if b"\n" in raw or b"\r" in raw:
                    raw = raw.replace(b"\r", b" ").replace(b"\n", b" ")
                    reflowed += 1
                f.write(raw)
                f.write(b"\n")
    return {"line_breaks_replaced": reflowed} if reflowed else {}


def _write_cloudtrail(table: EventTable, batches, path: Path) -> None:
    """The shape CloudTrail delivers to S3, so other tools can read the export back."""
    with open(path, "wb") as f:
        f.write(b'{"Records":[')
        first = True
        for batch in batches:
            for raw in table.raw(batch):
                if not first:
                    f.write(b",")
                f.write(raw)
                first = False
        f.write(b"]}")


def _csv_cells(df: pd.DataFrame, name: str, csv_safe) -> list[str] | np.ndarray:
    """One column as spreadsheet-safe text: ISO-Z times, true/false/'' for read_only.

    A categorical's few distinct values are made safe once and picked by code, which keeps
    a million-row export fast.
    """
    column = df[name]
    if name == "time":
        return [csv_safe(format_time(t)) for t in column]
    if name == "read_only":
        return ["" if pd.isna(v) else ("true" if v else "false") for v in column]
    if isinstance(column.dtype, pd.CategoricalDtype):
        safe = np.array([csv_safe(str(v)) for v in column.cat.categories] + [""], dtype=object)
        return safe[column.cat.codes.to_numpy()]  # code -1 (missing) picks the trailing ""
    return ["" if pd.isna(v) else csv_safe(str(v)) for v in column]


def _write_csv(table: EventTable, batches, path: Path) -> None:
    """Every text cell goes through csv_safe: a record value like `=HYPERLINK(...)` must not
    become a live formula in the responder's spreadsheet."""
    from ddbtrail.text import csv_safe  # imported here: only csv needs it

    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(EXPORT_COLUMNS)
        for batch in batches:
            part = table.df.iloc[batch]
            writer.writerows(zip(*(_csv_cells(part, name, csv_safe) for name in EXPORT_COLUMNS)))


def _write_parquet(table: EventTable, batches, path: Path) -> None:
    """Categoricals are written as plain strings: one schema for every batch."""
    with pq.ParquetWriter(path, _PARQUET_SCHEMA) as writer:
        for batch in batches:
            part = table.df.iloc[batch][list(EXPORT_COLUMNS)]
            writer.write_table(pa.Table.from_pandas(part, schema=_PARQUET_SCHEMA, preserve_index=False))


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _manifest(table: EventTable, rows: np.ndarray, fmt: str, out: Path, data_tmp: Path,
              query: str, marks: Iterable[int], extra: dict) -> dict:
    """What a reviewer needs to check the export: what was asked, from which bytes, into which bytes."""
    source_of_row = table.df["_source"].to_numpy()[rows]
    per_source = np.bincount(source_of_row, minlength=len(table.sources)) if len(rows) else \
        np.zeros(len(table.sources), dtype=np.int64)
    sources = [
        {"name": s.name, "kind": s.kind, "size": s.size, "sha256": s.sha256, "records": int(n)}
        for s, n in zip(table.sources, per_source) if n
    ]
    marked = [
        {"event_id": str(table.df["event_id"].iat[r]), "origin": str(table.df["origin"].iat[r]),
         "position": int(table.df["position"].iat[r])}
        for r in marks
    ]
    return {
        "tool": "ddbtrail",
        "version": ddbtrail.__version__,
        "created": format_time(datetime.now(timezone.utc)),
        "query": query,
        "format": fmt,
        "output": out.name,
        "sha256": _sha256_file(data_tmp),
        "bytes": data_tmp.stat().st_size,
        "records": int(len(rows)),
        "sources": sources,
        "sources_loaded": len(table.sources),
        "marks": marked,
        **extra,
    }
