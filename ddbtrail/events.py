"""The event table: one row per CloudTrail record, columns named as in DESIGN §2.

Loaders hand over `Chunk`s (columns, dictionary-encoded where cardinality is low);
`EventTable.from_chunks` merges them, drops duplicates and keeps the per-table
membership of multi-table calls in three flat arrays so filters and facet counts stay
vectorised.  Raw record bytes never live in the table: each row points at its source
(`origin` code, byte `offset`, `length`) and `EventTable.raw` reads them back.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, NamedTuple, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

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


class Codes(NamedTuple):
    """A dictionary-encoded string column: row i holds `values[codes[i]]`.

    Decoders send low-cardinality columns this way: a few distinct strings and a small
    int array instead of one Python string per row.
    """

    codes: np.ndarray
    values: list[str]


def encode_strings(values) -> Codes:
    """Dictionary-encode a sequence of strings (a Categorical's own codes are reused)."""
    if isinstance(values, Codes):
        return values
    if isinstance(values, pd.Categorical):
        return Codes(values.codes, list(values.categories))
    codes, uniques = pd.factorize(np.asarray(values, dtype=object))
    return Codes(codes.astype(np.int32, copy=False), uniques.tolist())


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
    (1 true, 0 false, -1 unknown), the rest strings ("" when absent): a list, a
    pyarrow string array, or (for CATEGORICAL names) `Codes` / a pandas Categorical.
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

    def values(self, name: str) -> list:
        """Plain Python values of one column, whatever its encoding (for tests and debugging)."""
        column = self.columns[name]
        if isinstance(column, Codes):
            return [column.values[code] for code in column.codes]
        return column.to_pylist() if isinstance(column, pa.Array) else list(column)

    def take(self, rows: np.ndarray) -> "Chunk":
        """The same chunk restricted to these row indexes (e.g. after a time filter)."""
        def pick(values):
            if isinstance(values, list):
                return [values[i] for i in rows]
            if isinstance(values, Codes):
                return Codes(values.codes[rows], values.values)
            return values.take(pa.array(rows)) if isinstance(values, pa.Array) else values[rows]
        return Chunk(columns={name: pick(values) for name, values in self.columns.items()},
                     tables=pick(self.tables), origin=self.origin[rows],
                     position=self.position[rows], offset=self.offset[rows],
                     length=self.length[rows], sources=self.sources,
                     dedup_key=None if self.dedup_key is None else pick(self.dedup_key),
                     rejected=self.rejected)


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
        """Concatenate chunks, drop duplicates on (event_id, time, operation), sort by time.

        Works on codes, never on per-row Python objects (except one pass over the
        per-row table tuples), so a million rows merge in about a second.
        """
        sources: list[SourceInfo] = []
        parts = []
        for chunk in chunks:
            if len(chunk):
                parts.append((chunk, len(sources)))
            sources.extend(chunk.sources)
        n = sum(len(chunk) for chunk, _ in parts)

        def joined(get, dtype):
            return (np.concatenate([np.asarray(get(c), dtype=dtype) for c, _ in parts])
                    if parts else np.empty(0, dtype=dtype))

        time = joined(lambda c: c.columns["time"], np.int64)
        origin = joined(lambda c: c.origin, np.int64) + (
            np.repeat([base for _, base in parts], [len(c) for c, _ in parts]).astype(np.int64)
            if parts else 0)
        strings = {name: _merge_codes([c.columns[name] for c, _ in parts])
                   for name in CATEGORICAL if name not in ("tables", "origin")}
        unique = {name: _arrow([c.columns[name] for c, _ in parts]) for name in UNIQUE_STRINGS}
        combos, combo_codes = _table_combos([c.tables for c, _ in parts], n)

        # De-duplicate on (event_id, time, operation); a raw digest stands in for a missing id.
        digests = _arrow([c.dedup_key if c.dedup_key is not None else [""] * len(c)
                          for c, _ in parts])
        key = pc.if_else(pc.equal(unique["event_id"], ""), digests, unique["event_id"])
        keys = pd.DataFrame({"k": pd.arrays.ArrowStringArray(key), "t": time,
                             "o": strings["operation"].codes})
        keep = ~(keys.duplicated().to_numpy() & (keys["k"] != "").to_numpy())
        duplicates = int(n - keep.sum())
        rows = np.flatnonzero(keep)
        sort_time = np.where(time[rows] == _NAT, np.iinfo(np.int64).max, time[rows])
        rows = rows[np.argsort(sort_time, kind="stable")]

        data: dict[str, object] = {}
        data["time"] = pd.Series(time[rows].view("datetime64[ns]")).dt.tz_localize("UTC")
        read_only = joined(lambda c: c.columns["read_only"], np.int8)[rows]
        data["read_only"] = pd.arrays.BooleanArray(read_only == 1, read_only == -1)
        for name in COLUMNS:
            if name in strings:
                data[name] = strings[name][rows]
            elif name in unique:
                data[name] = pd.arrays.ArrowStringArray(unique[name].take(pa.array(rows)))
        names, name_codes = _factorize([s.name for s in sources])
        data["origin"] = pd.Categorical.from_codes(name_codes[origin[rows]], categories=names)
        labels, label_codes = _factorize([",".join(t) for t in combos])
        data["tables"] = pd.Categorical.from_codes(label_codes[combo_codes[rows]],
                                                   categories=labels)
        data["position"] = joined(lambda c: c.position, np.int64)[rows]
        data["offset"] = joined(lambda c: c.offset, np.int64)[rows]
        data["length"] = joined(lambda c: c.length, np.int64)[rows]
        data["_source"] = origin[rows]
        df = pd.DataFrame(data, columns=[*COLUMNS, *LOCATORS, "_source"])
        table_rows, table_codes, table_names = _membership(combos, combo_codes[rows])
        return cls(df, sources, table_rows, table_codes, table_names, duplicates)

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


def _merge_codes(parts) -> pd.Categorical:
    """One Categorical from per-chunk dictionary-encoded columns (codes remapped, not rows)."""
    seen: dict[str, int] = {}
    merged = []
    for part in parts:
        part = encode_strings(part)
        remap = np.fromiter((seen.setdefault(v, len(seen)) for v in part.values), dtype=np.int32,
                            count=len(part.values))
        merged.append(remap[part.codes] if len(remap) else np.zeros(len(part.codes), dtype=np.int32))
    codes = np.concatenate(merged) if merged else np.empty(0, dtype=np.int32)
    return pd.Categorical.from_codes(codes, categories=pd.Index(list(seen), dtype=object), validate=False)


def _arrow(parts) -> pa.Array:
    """One pyarrow string array from lists of str or pyarrow arrays."""
    arrays = [p if isinstance(p, (pa.Array, pa.ChunkedArray)) else pa.array(list(p), pa.string())
              for p in parts]
    if not arrays:
        return pa.array([], pa.string())
    return pa.chunked_array(arrays, pa.string()).combine_chunks()


def _factorize(values: list[str]) -> tuple[list[str], np.ndarray]:
    """Distinct values in first-seen order and each value's code."""
    seen: dict[str, int] = {}
    codes = np.fromiter((seen.setdefault(v, len(seen)) for v in values), dtype=np.int64,
                        count=len(values))
    return list(seen), codes


def _table_combos(per_chunk: list[list], n: int) -> tuple[list[tuple[str, ...]], np.ndarray]:
    """Distinct table tuples and, per row, the code of its tuple (calls repeat few combos)."""
    seen: dict[tuple[str, ...], int] = {}
    codes = np.empty(n, dtype=np.int64)
    i = 0
    for tables in per_chunk:
        for t in tables:
            codes[i] = seen.setdefault(t if type(t) is tuple else tuple(t), len(seen))
            i += 1
    return list(seen), codes


def _membership(combos: list[tuple[str, ...]], row_combo: np.ndarray):
    """Flat (row, table code) pairs of the rows' table tuples, and the table names."""
    names, flat_codes = _factorize([name for combo in combos for name in combo])
    sizes = np.fromiter((len(c) for c in combos), dtype=np.int64, count=len(combos))
    starts = np.cumsum(sizes) - sizes
    counts = sizes[row_combo] if len(combos) else np.zeros(len(row_combo), dtype=np.int64)
    table_rows = np.repeat(np.arange(len(row_combo), dtype=np.int64), counts)
    first = np.repeat(starts[row_combo] if len(combos) else counts, counts)
    within = np.arange(len(table_rows)) - np.repeat(np.cumsum(counts) - counts, counts)
    table_codes = flat_codes[first + within] if len(table_rows) else np.empty(0, dtype=np.int64)
    used = np.unique(table_codes)  # names only of tables that kept rows reference
    remap = np.full(len(names), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return table_rows, remap[table_codes], [names[i] for i in used]
