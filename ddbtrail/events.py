"""The event table: one row per CloudTrail record, columns named as in DESIGN §2.

Loaders hand over `Chunk`s (columns, dictionary-encoded where cardinality is low);
`EventTable.from_chunks` merges them, drops duplicates and keeps the per-table
membership of multi-table calls in three flat arrays so filters and facet counts stay
vectorised.  Raw record bytes never live in the table: each row points at its source
(`origin` code, byte `offset`, `length`) and `EventTable.raw` reads them back.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np
import pandas as pd

#: Columns of the event table, in display order (DESIGN §2 — a contract).
COLUMNS = (
    "time", "operation", "source", "plane", "read_only", "principal", "principal_type",
    "session", "arn", "account", "access_key", "tables", "region", "ip", "user_agent",
    "error", "error_message", "event_id", "request_id", "vpc_endpoint", "origin",
)

#: String columns kept as pandas categoricals (few distinct values, fast masks).
CATEGORICAL = (
    "operation", "source", "plane", "principal", "principal_type", "session", "arn",
    "account", "access_key", "tables", "region", "ip", "user_agent", "error",
    "error_message", "vpc_endpoint", "origin",
)
#: String columns that are nearly unique per row.
UNIQUE_STRINGS = ("event_id", "request_id")
#: Integer bookkeeping columns: position of the record in its source, byte span of its text.
LOCATORS = ("position", "offset", "length")


class RawReader(Protocol):
    """Reads back the exact bytes of records of one source."""

    def read(self, spans: list[tuple[int, int]]) -> list[bytes]: ...


@dataclass
class SourceInfo:
    """One file or API page set that records came from (also what a manifest lists)."""

    name: str                 # display/origin name: path, s3 URI or "lookup:REGION"
    kind: str                 # "file", "s3", "lookup", "demo"
    size: int = 0             # bytes as read (compressed size for .gz)
    sha256: str = ""          # of the bytes as read
    reader: RawReader | None = field(default=None, repr=False, compare=False)


@dataclass
class Chunk:
    """Columns for a batch of records from one or more sources.

    `columns` maps every name in COLUMNS except `tables` and `origin` to a sequence:
    `time` int64 nanoseconds UTC (NaT as np.iinfo(int64).min), `read_only` int8
    (1 true, 0 false, -1 unknown), the rest strings ("" when absent).
    `tables` is a list of tuples of table names per row; `origin` an int array of
    indexes into `sources`; `position`, `offset`, `length` int arrays.
    `dedup_key` holds, for rows without event_id, a digest of the raw bytes.
    `rejected` lists (position, reason) of records of these sources that were left out.
    """

    columns: dict[str, object]
    tables: list[tuple[str, ...]]
    origin: np.ndarray
    position: np.ndarray
    offset: np.ndarray
    length: np.ndarray
    sources: list[SourceInfo]
    dedup_key: list[str] | None = None
    rejected: list[tuple[int, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.origin)


_NAT = np.iinfo(np.int64).min


class EventTable:
    """Columnar CloudTrail events plus the membership arrays for multi-table calls.

    `df` has one row per event with the COLUMNS (strings categorical), `position`,
    `offset`, `length`.  `table_rows[i]`, `table_codes[i]` say that row `table_rows[i]`
    touches table `table_names[table_codes[i]]`.
    """

    def __init__(self, df: pd.DataFrame, sources: list[SourceInfo],
                 table_rows: np.ndarray, table_codes: np.ndarray, table_names: list[str],
                 duplicates: int = 0):
        self.df = df
        self.sources = sources
        self.table_rows = table_rows
        self.table_codes = table_codes
        self.table_names = table_names
        self.duplicates = duplicates

    def __len__(self) -> int:
        return len(self.df)

    # -- building -----------------------------------------------------------------
    @classmethod
    def empty(cls) -> "EventTable":
        return cls.from_chunks([])

    @classmethod
    def from_chunks(cls, chunks: list[Chunk]) -> "EventTable":
        """Concatenate chunks, sort by time, drop duplicates on (event_id, time, operation)."""
        sources: list[SourceInfo] = []
        cols: dict[str, list] = {name: [] for name in COLUMNS if name not in ("tables", "origin")}
        tables: list[tuple[str, ...]] = []
        origin, position, offset, length, dedup = [], [], [], [], []
        for chunk in chunks:
            base = len(sources)
            sources.extend(chunk.sources)
            for name in cols:
                cols[name].append(np.asarray(chunk.columns[name]) if name in ("time", "read_only")
                                  else list(chunk.columns[name]))
            tables.extend(chunk.tables)
            origin.append(np.asarray(chunk.origin, dtype=np.int64) + base)
            position.append(np.asarray(chunk.position, dtype=np.int64))
            offset.append(np.asarray(chunk.offset, dtype=np.int64))
            length.append(np.asarray(chunk.length, dtype=np.int64))
            dedup.extend(chunk.dedup_key if chunk.dedup_key is not None else [""] * len(chunk))

        def cat(parts, dtype):
            return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)

        data: dict[str, object] = {}
        data["time"] = pd.to_datetime(cat(cols.pop("time"), np.int64), utc=True)
        data["read_only"] = pd.array(cat(cols.pop("read_only"), np.int8), dtype="Int8").map(
            {1: True, 0: False, -1: pd.NA}.get).astype("boolean") if chunks else pd.array([], dtype="boolean")
        for name, parts in cols.items():
            flat = [v for part in parts for v in part]
            data[name] = flat
        df = pd.DataFrame(data)
        df["tables"] = [",".join(t) for t in tables]
        names = [s.name for s in sources]
        origin_codes = cat(origin, np.int64)
        df["origin"] = [names[i] for i in origin_codes]
        df["position"] = cat(position, np.int64)
        df["offset"] = cat(offset, np.int64)
        df["length"] = cat(length, np.int64)
        df["_source"] = origin_codes
        df["_tables"] = tables

        # De-duplicate on (event_id, time, operation); rows without event_id use a raw digest.
        key_id = np.where(df["event_id"].to_numpy(dtype=object) == "", np.asarray(dedup, dtype=object),
                          df["event_id"].to_numpy(dtype=object)) if len(df) else np.empty(0, dtype=object)
        keys = pd.DataFrame({"k": key_id, "t": df["time"], "o": df["operation"]})
        dup = keys.duplicated().to_numpy() & (keys["k"].to_numpy() != "")
        duplicates = int(dup.sum())
        if duplicates:
            df = df[~dup]
        df = df.sort_values("time", kind="stable", na_position="last").reset_index(drop=True)

        for name in CATEGORICAL:
            df[name] = df[name].astype("category")
        for name in UNIQUE_STRINGS:
            df[name] = df[name].astype("string[pyarrow]")

        table_lists = df.pop("_tables").tolist()
        counts = np.fromiter((len(t) for t in table_lists), dtype=np.int64, count=len(table_lists))
        table_rows = np.repeat(np.arange(len(table_lists), dtype=np.int64), counts)
        flat = [name for t in table_lists for name in t]
        codes, uniques = pd.factorize(pd.Series(flat, dtype=object)) if flat else (np.empty(0, np.int64), [])
        return cls(df, sources, table_rows, np.asarray(codes, dtype=np.int64),
                   [str(u) for u in uniques], duplicates)

    # -- reading back -------------------------------------------------------------
    def raw(self, rows) -> list[bytes]:
        """Exact source bytes of the records at these row indexes, in the order given."""
        rows = list(rows)
        src = self.df["_source"].to_numpy()
        off = self.df["offset"].to_numpy()
        ln = self.df["length"].to_numpy()
        out: list[bytes | None] = [None] * len(rows)
        by_source: dict[int, list[int]] = {}
        for i, r in enumerate(rows):
            by_source.setdefault(int(src[r]), []).append(i)
        for s, idxs in by_source.items():
            reader = self.sources[s].reader
            if reader is None:
                raise LookupError(f"no reader for source {self.sources[s].name}")
            blobs = reader.read([(int(off[rows[i]]), int(ln[rows[i]])) for i in idxs])
            for i, b in zip(idxs, blobs):
                out[i] = b
        return out  # type: ignore[return-value]

    def tables_of(self, row: int) -> list[str]:
        value = self.df["tables"].iat[row]
        return value.split(",") if value else []


ProgressCallback = Callable[[dict], None]
