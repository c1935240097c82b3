"""The event table: one row per CloudTrail record, columns named as in DESIGN §2.

Loaders hand over `Chunk`s (columns, dictionary-encoded where cardinality is low);
`EventTable.from_chunks` merges them, drops duplicates and keeps the per-table
membership of multi-table calls in three flat arrays so filters and facet counts stay
vectorised.  Raw record bytes never live in the table: each row points at its source
(`origin` code, byte `offset`, `length`) and `EventTable.raw` reads them back.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Callable, NamedTuple, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa

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


def key_hashes(event_ids: list[str], digests: list[str]) -> np.ndarray:
    """CRC-32 of each row's de-duplication key (event_id, else the raw digest).

    Only a pre-filter: rows whose hashes collide are then compared in full.
    """
    return np.fromiter((zlib.crc32((event_id or digest).encode()) for event_id, digest in zip(event_ids, digests)),
                       dtype=np.uint32, count=len(event_ids))


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
    `tables` is a list of tuples of table names per row (or `Codes` of such tuples);
    `origin` an int array of
    indexes into `sources`; `position`, `offset`, `length` int arrays.
    `dedup_key` holds, for rows without event_id, a digest of the raw bytes;
    `key_hash` (optional, see `key_hashes`) lets decoders do that hashing in parallel.
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
    key_hash: np.ndarray | None = None
    rejected: list[tuple[int, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.origin)

    def values(self, name: str) -> list:
        """Plain Python values of one column (or "tables"), whatever its encoding."""
        column = self.tables if name == "tables" else self.columns[name]
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
                     key_hash=None if self.key_hash is None else self.key_hash[rows],
                     rejected=self.rejected)


#: How a missing time is stored in int64 nanoseconds.
NAT = np.iinfo(np.int64).min


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
    def from_chunks(cls, chunks) -> "EventTable":
        """Merge chunks (any iterable, consumed as it goes), drop duplicates on
        (event_id, time, operation), sort by time."""
        builder = TableBuilder()
        for chunk in chunks:
            builder.add(chunk)
        return builder.build(keep=False)

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
        """Names from the membership arrays (exact even when a name contains a comma)."""
        return [self.table_names[code] for code in self.table_codes[self.table_rows == row]]


ProgressCallback = Callable[[dict], None]

_NUMBERS = {"time": np.int64, "read_only": np.int8, "origin": np.int64, "position": np.int64,
            "offset": np.int64, "length": np.int64}
_STRING_CODES = tuple(name for name in CATEGORICAL if name not in ("tables", "origin"))


class TableBuilder:
    """Collects chunks as compact global codes, so a load holds no per-row Python objects.

    `add()` folds each chunk in as soon as it is decoded (its per-chunk strings are
    mapped to global codes and dropped); `build()` makes the EventTable and may be
    called again after more `add()`s (the console shows partial tables while loading).
    """

    def __init__(self) -> None:
        self.sources: list[SourceInfo] = []
        self.rows = 0
        self._seen: dict[str, dict] = {name: {} for name in (*_STRING_CODES, "tables")}
        self._codes: dict[str, list[np.ndarray]] = {name: [] for name in (*_STRING_CODES, "tables")}
        self._numbers: dict[str, list[np.ndarray]] = {name: [] for name in (*_NUMBERS, "key_hash")}
        self._strings: dict[str, list] = {name: [] for name in (*UNIQUE_STRINGS, "dedup")}

    def add(self, chunk: Chunk) -> None:
        base = len(self.sources)
        self.sources.extend(chunk.sources)
        if not len(chunk):
            return
        self.rows += len(chunk)
        for name in _STRING_CODES:
            self._codes[name].append(self._global(name, encode_strings(chunk.columns[name])))
        self._codes["tables"].append(self._global("tables", encode_tables(chunk.tables)))
        for name, dtype in _NUMBERS.items():
            values = getattr(chunk, name) if name not in chunk.columns else chunk.columns[name]
            self._numbers[name].append(np.asarray(values, dtype=dtype) + (base if name == "origin" else 0))
        for name in UNIQUE_STRINGS:
            self._strings[name].append(_arrow(chunk.columns[name]))
        digests = chunk.dedup_key or [""] * len(chunk)
        self._strings["dedup"].append(_arrow(digests))
        self._numbers["key_hash"].append(chunk.key_hash if chunk.key_hash is not None
                                         else key_hashes(chunk.values("event_id"), digests))

    def _global(self, name: str, column: Codes) -> np.ndarray:
        seen = self._seen[name]
        remap = np.fromiter((seen.setdefault(v, len(seen)) for v in column.values), dtype=np.int32,
                            count=len(column.values))
        return remap[column.codes] if len(remap) else np.zeros(len(column.codes), dtype=np.int32)

    def build(self, keep: bool = True) -> "EventTable":
        """The EventTable of everything added so far.

        With keep=False the builder's arrays are released as the table takes shape
        (a one-shot load then peaks at about one copy of the data, not two).
        """
        numbers = {name: _joined(self._numbers, name, dtype, keep) for name, dtype in _NUMBERS.items()}
        time = numbers["time"]
        strings = {name: pa.chunked_array(parts, pa.string()) for name, parts in self._strings.items()}
        operation = _joined(self._codes, "operation", np.int32, True)
        unique = _unique_events(_joined(self._numbers, "key_hash", np.uint32, keep), strings, time, operation)
        duplicates = int(self.rows - unique.sum())
        rows = np.flatnonzero(unique)
        del unique
        rows = rows[np.argsort(np.where(time[rows] == NAT, np.iinfo(np.int64).max, time[rows]),
                               kind="stable")]

        data: dict[str, object] = {"time": pd.Series(time[rows].view("datetime64[ns]")).dt.tz_localize("UTC")}
        read_only = numbers["read_only"][rows]
        data["read_only"] = pd.arrays.BooleanArray(read_only == 1, read_only == -1)
        for name in COLUMNS:
            if name in _STRING_CODES:
                codes = _joined(self._codes, name, np.int32, keep)[rows]
                data[name] = _categorical(Codes(codes, list(self._seen[name])))
            elif name in UNIQUE_STRINGS:
                data[name] = pd.arrays.ArrowStringArray(strings[name].take(pa.array(rows)))
        origin = numbers["origin"][rows]
        names, name_codes = _factorize([s.name for s in self.sources])
        data["origin"] = pd.Categorical.from_codes(name_codes[origin], categories=names)
        combos = list(self._seen["tables"])
        labels, label_codes = _factorize([",".join(t) for t in combos])
        row_combo = _joined(self._codes, "tables", np.int32, keep)[rows]
        data["tables"] = pd.Categorical.from_codes(label_codes[row_combo], categories=labels)
        for name in LOCATORS:
            data[name] = numbers[name][rows]
        data["_source"] = origin
        if not keep:
            self._strings = {name: [] for name in self._strings}
            del strings, numbers, time
        df = pd.DataFrame(data, columns=[*COLUMNS, *LOCATORS, "_source"])
        table_rows, table_codes, table_names = _membership(combos, row_combo)
        return EventTable(df, list(self.sources), table_rows, table_codes, table_names, duplicates)


def _joined(store: dict[str, list], name: str, dtype, keep: bool) -> np.ndarray:
    """Concatenate one column's parts; keep the result as its only part, or release it."""
    parts = store[name]
    joined = np.concatenate(parts) if parts else np.empty(0, dtype=dtype)
    parts[:] = [joined] if keep else []
    return joined


def _unique_events(hashes: np.ndarray, strings: dict[str, pa.ChunkedArray], time: np.ndarray,
                   operation: np.ndarray) -> np.ndarray:
    """Mask of the rows to keep: the first of each (event_id, time, operation).

    A raw digest stands in for a missing event_id; rows with neither are all kept.  Only
    rows whose key hash occurs more than once are compared in full, so de-duplication
    costs a few bytes per row rather than a second copy of every id.
    """
    keep = np.ones(len(time), dtype=bool)
    _, inverse, counts = np.unique(hashes, return_inverse=True, return_counts=True)
    repeated = np.flatnonzero(counts[inverse] > 1)
    if len(repeated):
        at = pa.array(repeated)
        keys = [event_id or digest for event_id, digest in
                zip(strings["event_id"].take(at).to_pylist(), strings["dedup"].take(at).to_pylist())]
        candidates = pd.DataFrame({"k": keys, "t": time[repeated], "o": operation[repeated]})
        keep[repeated[candidates.duplicated().to_numpy() & (candidates["k"] != "").to_numpy()]] = False
    return keep


def encode_tables(tables) -> Codes:
    """Dictionary-encode per-row table tuples (calls repeat a few combinations)."""
    if isinstance(tables, Codes):
        return tables
    seen: dict[tuple[str, ...], int] = {}
    codes = np.fromiter((seen.setdefault(t if type(t) is tuple else tuple(t), len(seen)) for t in tables),
                        dtype=np.int32, count=len(tables))
    return Codes(codes, list(seen))


def _categorical(column: Codes) -> pd.Categorical:
    return pd.Categorical.from_codes(column.codes, categories=pd.Index(column.values, dtype=object),
                                     validate=False)


def _arrow(values) -> pa.Array:
    """A pyarrow string array (compact, cheap to pickle) from a list of str."""
    return values if isinstance(values, pa.Array) else pa.array(list(values), pa.string())


def _factorize(values: list[str]) -> tuple[list[str], np.ndarray]:
    """Distinct values in first-seen order and each value's code."""
    seen: dict[str, int] = {}
    codes = np.fromiter((seen.setdefault(v, len(seen)) for v in values), dtype=np.int64,
                        count=len(values))
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
