"""The query language of DESIGN §3, shared by the console's query line and `--where`.

    table:Orders,Customers op:Scan,Query -principal:*ReportingJob* error:* after:-24h

Rules a responder can rely on:

- Terms are AND-ed; `-term` negates; `field:a,b` is OR within the field.
- `*` is the only wildcard and matches any run of characters, case-insensitively; a
  pattern never matches an absent value, so `error:*` is "any error" and `-error:*`
  "successes".  `field:""` selects rows where the field is absent.
- A value without `*` is compared exactly when some event has exactly that value,
  otherwise case-insensitively: `op:scan` finds `Scan`, while `table:Orders` does not also
  pick up a different table called `orders` (DynamoDB names are case-sensitive), which
  keeps every facet pick exact.
- Values may be quoted: `ua:"aws-cli/2 *"`.  Inside quotes `\\"`, `\\\\` and `\\*` are
  a literal quote, backslash and star, and `\\xNN`, `\\uNNNN`, `\\UNNNNNNNN` name any
  character, so a hostile value always has a printable, exact spelling (see `add_term`).
- A bare word is a case-insensitive substring search (with `*` wildcards) across
  principal, table, operation, ip, user agent and error.
- `ip:` takes an address, a wildcard or a CIDR (`ip:10.0.0.0/8`, `ip:2001:db8::/32`);
  names such as `dynamodb.amazonaws.com` never fall inside a CIDR.
- `after:` is inclusive and `before:` exclusive (so brushed ranges tile without overlap);
  both take ISO UTC or relative times (`-2h`, `-30m`, `-7d`) via `timeparse.parse_time`.

A syntax error raises `QueryError` with the character position and what was expected; a
query never silently matches nothing because it was misread.
"""
from __future__ import annotations

import difflib
import ipaddress
import re
import weakref
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from ddbtrail.events import NAT, EventTable
from ddbtrail.timeparse import parse_time

#: Query field -> event-table column (DESIGN §3).
FIELDS = {
    "principal": "principal", "type": "principal_type", "session": "session", "arn": "arn",
    "account": "account", "key": "access_key", "table": "tables", "op": "operation",
    "plane": "plane", "ro": "read_only", "source": "source", "region": "region", "ip": "ip",
    "ua": "user_agent", "error": "error", "id": "event_id", "request": "request_id",
    "vpce": "vpc_endpoint", "after": "time", "before": "time",
}
TIME_FIELDS = ("after", "before")
#: Column -> query field, so callers holding a column name (facets) can add terms too.
FIELD_OF_COLUMN = {column: name for name, column in FIELDS.items() if column != "time"}
#: Columns a bare word searches.
BARE_WORD_COLUMNS = ("principal", "tables", "operation", "ip", "user_agent", "error")

_FIELD = re.compile(r"([A-Za-z_]+):")


class QueryError(ValueError):
    """A query that cannot be read: where (0-based character position) and what would fit."""

    def __init__(self, message: str, position: int, expected: str = ""):
        self.message = message
        self.position = position
        self.expected = expected
        super().__init__(f"{message} at {position}" + (f"; expected {expected}" if expected else ""))


Pattern = tuple[str, ...]
"""One value: its literal pieces, joined by `*` wildcards (a plain value has one piece)."""


@dataclass(frozen=True)
class Term:
    field: str | None          # query field, None for a bare word
    values: tuple[Pattern, ...]
    negate: bool
    start: int                 # span of the term in the query text
    end: int
    when: datetime | None = None   # resolved time of after:/before:
    networks: tuple = ()       # ip: per value, the CIDR it names (unquoted a.b.c.d/n) or None

    @property
    def text(self) -> str:
        """Canonical spelling: parses back to the same term."""
        networks = self.networks or (None,) * len(self.values)
        values = ",".join(value[0] if network else _format_pattern(value, self.field)
                          for value, network in zip(self.values, networks))
        return ("-" if self.negate else "") + (f"{self.field}:" if self.field else "") + values


@dataclass(frozen=True)
class Query:
    terms: tuple[Term, ...]

    @property
    def text(self) -> str:
        return " ".join(term.text for term in self.terms)

    def mask(self, table: EventTable) -> np.ndarray:
        """Boolean array over the rows of `table`: True where every term holds."""
        mask = np.ones(len(table), dtype=bool)
        for term in self.terms:
            hit = _term_mask(term, table)
            mask &= ~hit if term.negate else hit
        return mask


# -- parsing --------------------------------------------------------------------------
def parse(text: str, now: datetime | None = None) -> Query:
    """Read a query; relative times count back from `now` (default: the current time)."""
    terms = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i].isspace():
            i += 1
        if i == n:
            return Query(tuple(terms))
        start = i
        negate = text[i] == "-"
        if negate:
            i += 1
            if i == n or text[i].isspace():
                raise QueryError('missing term after "-"', i, "a field:value or a word")
        field = None
        named = _FIELD.match(text, i)
        if named and not _is_ip_word(text, i):
            field = named.group(1).lower()
            if field not in FIELDS:
                raise _unknown_field(named.group(1), i)
            i = named.end()
        values, positions, quoted, i = _read_values(text, i, field)
        terms.append(_checked_term(field, values, positions, quoted, negate, start, i, now))


def _unknown_field(name: str, position: int) -> QueryError:
    guess = FIELD_OF_COLUMN.get(name.lower()) or next(
        iter(difflib.get_close_matches(name.lower(), FIELDS, n=1)), None)
    hint = f' (did you mean "{guess}"?)' if guess else ""
    return QueryError(f'unknown field "{name}"{hint}', position, "one of: " + ", ".join(FIELDS))


def _is_ip_word(text: str, i: int) -> bool:
    """A bare IPv6 address such as `fe::1` is a word, not field `fe`."""
    word = re.match(r"\S*", text[i:]).group()
    try:
        ipaddress.ip_network(word, strict=False)
        return True
    except ValueError:
        return False


def _read_values(text: str, i: int, field: str | None):
    """Comma-separated values from `i`: patterns, their positions, which were quoted, end."""
    values, positions, quoted = [], [], []
    after = f"{field}:" if field else None
    while True:
        if after is None and text[i] == ",":
            raise QueryError('unexpected ","', i, "a field:value or a word")
        if i == len(text) or text[i].isspace() or text[i] == ",":
            raise QueryError(f'missing value after "{after}"', i, "a value")
        positions.append(i)
        quoted.append(text[i] == '"')
        if quoted[-1]:
            pattern, i = _read_quoted(text, i)
            if i < len(text) and not (text[i].isspace() or text[i] == ","):
                raise QueryError("text right after a closing quote", i, 'a space or "," after the quoted value')
        else:
            end = i
            while end < len(text) and not (text[end].isspace() or text[end] in ',"'):
                end += 1
            if end < len(text) and text[end] == '"':
                raise QueryError("quote inside a value", end, 'quotes around the whole value, like ua:"aws-cli/2 *"')
            pattern, i = tuple(text[i:end].split("*")), end
        values.append(pattern)
        if i < len(text) and text[i] == ",":
            i += 1
            after = ","
            continue
        return tuple(values), positions, quoted, i


_ESCAPE_DIGITS = {"x": 2, "u": 4, "U": 8}


def _read_quoted(text: str, start: int) -> tuple[Pattern, int]:
    pieces, piece = [], []
    i = start + 1
    while i < len(text):
        char = text[i]
        if char == '"':
            pieces.append("".join(piece))
            return tuple(pieces), i + 1
        if char == "*":
            pieces.append("".join(piece))
            piece = []
        elif char == "\\":
            code = text[i + 1:i + 2]
            if code in ('"', "\\", "*"):
                piece.append(code)
                i += 1
            elif code in _ESCAPE_DIGITS:
                digits = re.compile(r"[0-9a-fA-F]{0,%d}" % _ESCAPE_DIGITS[code]).match(text, i + 2).group()
                if len(digits) != _ESCAPE_DIGITS[code] or int(digits, 16) > 0x10FFFF:
                    raise QueryError(f'bad escape "\\{code}{digits}"', i,
                                     f"\\{code} and {_ESCAPE_DIGITS[code]} hex digits")
                piece.append(chr(int(digits, 16)))
                i += 1 + len(digits)
            else:
                raise QueryError(f'unknown escape "\\{code}"', i, 'one of \\" \\\\ \\* \\xNN \\uNNNN \\UNNNNNNNN')
        else:
            piece.append(char)
        i += 1
    raise QueryError("unbalanced quote", start, 'a closing "')


def _checked_term(field, values, positions, quoted, negate, start, end, now) -> Term:
    """The term, once its values make sense for its field."""
    when, networks = None, []
    if field is None and ("",) in values:
        raise QueryError("empty word", positions[values.index(("",))], "a word to search for")
    if field in TIME_FIELDS:
        if len(values) > 1:
            raise QueryError(f"more than one time for {field}:", positions[1] - 1, "a single time")
        spelled = "*".join(values[0])
        try:
            when = parse_time(spelled, now) if len(values[0]) == 1 else None
        except ValueError:
            when = None
        if when is None:
            raise QueryError(f'bad time "{spelled}"', positions[0],
                             "ISO UTC like 2026-11-20T10:00 or relative like -2h")
    for value, position, was_quoted in zip(values, positions, quoted):
        if field == "ro" and (len(value) > 1 or value[0].lower() not in ("true", "false")):
            raise QueryError(f'bad value "{"*".join(value)}" for ro:', position, "true or false")
        if field == "ip":
            networks.append(None if was_quoted or len(value) > 1 or "/" not in value[0]
                            else _network(value[0], position))
    return Term(field, values, negate, start, end, when, tuple(networks))


def _network(text: str, position: int):
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise QueryError(f'bad CIDR "{text}"', position, "a network like 10.0.0.0/8 or 2001:db8::/32") from None


# -- spelling values (add_term, canonical text) ---------------------------------------
def _needs_quotes(value: str, field: str | None) -> bool:
    """Quote what would otherwise read differently: separators, escapes, wildcards, a bare
    word that looks like a field or a negation, an ip value that looks like a CIDR."""
    return (value == "" or not value.isprintable() or any(c in value for c in ' ",\\*')
            or (field is None and (value.startswith("-") or ":" in value))
            or (field == "ip" and "/" in value))


def _escape(value: str) -> str:
    out = []
    for char in value:
        if char in '"\\*':
            out.append("\\" + char)
        elif char.isprintable():
            out.append(char)
        else:
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000
                       else f"\\U{code:08x}")
    return "".join(out)


def _format_pattern(pattern: Pattern, field: str | None) -> str:
    spelled = "*".join(pattern)
    if spelled and not any(_needs_quotes(piece, field) for piece in pattern if piece):
        return spelled
    return '"' + "*".join(_escape(piece) for piece in pattern) + '"'


def _field_name(field: str) -> str:
    name = field if field in FIELDS else FIELD_OF_COLUMN.get(field)
    if name is None:
        raise ValueError(f"not a query field: {field!r}")
    return name


def add_term(text: str, field: str, value: str, negate: bool = False) -> str:
    """`text` with `field:value` (or `-field:value`) added, as facet picks, brushes and
    drill-down values do.  An opposite term for the same value is replaced rather than
    contradicted; an existing `after:`/`before:` is replaced (a new brush moves the range);
    the rest of the line is kept as the responder typed it.  `field` may be a query field
    (`op`) or a column name (`operation`).
    """
    field = _field_name(field)
    new = Term(field, ((value,),), negate, 0, 0).text
    for term in parse(text).terms:
        same_value = term.values == ((value,),) and not any(term.networks)
        if term.field == field and (same_value or (field in TIME_FIELDS and not term.negate and not negate)):
            if term.negate == negate and same_value:
                return text
            return text[:term.start] + new + text[term.end:]
    return f"{text.rstrip()} {new}" if text.strip() else new


# -- matching -------------------------------------------------------------------------
_CACHE: "weakref.WeakKeyDictionary[EventTable, dict]" = weakref.WeakKeyDictionary()


def per_table(table: EventTable, key, compute):
    """`compute()` once per table and key: tables are immutable, so codes, category matches
    and sort keys can be kept for as long as the table lives (and no longer)."""
    store = _CACHE.setdefault(table, {})
    if key not in store:
        store[key] = compute()
    return store[key]


def column_codes(table: EventTable, column: str) -> tuple[np.ndarray, np.ndarray]:
    """(code per row, distinct values) of a string column, computed once per table.

    Categoricals give theirs directly; near-unique ids are factorised on first use.  A code
    of -1 marks a missing value.  Views reuse this for facets, sorting and related events.
    """
    def compute():
        series = table.df[column]
        if isinstance(series.dtype, pd.CategoricalDtype):
            return series.cat.codes.to_numpy(), series.cat.categories.to_numpy(dtype=object)
        codes, values = pd.factorize(series)
        return codes, np.asarray(values, dtype=object)
    return per_table(table, ("codes", column), compute)


def time_ns(table: EventTable) -> np.ndarray:
    """Event times as int64 nanoseconds since the epoch (NaT = int64 min), once per table."""
    return per_table(table, "time_ns",
                   lambda: table.df["time"].to_numpy(dtype="datetime64[ns]").view(np.int64))


def read_only_codes(table: EventTable) -> np.ndarray:
    """read_only as int8 per row: 1 read, 0 write, -1 unknown (once per table)."""
    def compute():
        read_only = table.df["read_only"]
        return np.where(read_only.isna().to_numpy(), -1,
                        read_only.to_numpy(dtype=bool, na_value=False)).astype(np.int8)
    return per_table(table, "read_only", compute)


def distinct_values(table: EventTable, column: str) -> np.ndarray:
    """The distinct values of a string column; for `tables`, the table names."""
    if column == "tables":
        return np.asarray(table.table_names, dtype=object)
    return column_codes(table, column)[1]


def _matches(table: EventTable, column: str, term: Term) -> np.ndarray:
    """Which distinct values of `column` the term's values select (one bool each), cached.

    Comparisons are Python loops over the distinct values only (numpy's string compare
    drops trailing NULs, and hostile values must match exactly).
    """
    def compute():
        names = distinct_values(table, column)
        lowered = per_table(table, ("lower", column), lambda: [s.lower() for s in names])
        hits = np.zeros(len(names), dtype=bool)
        for pattern, network in zip(term.values, term.networks or (None,) * len(term.values)):
            if network is not None:
                addresses = per_table(table, "ip_addresses", lambda: [_ip(s) for s in names])
                found = [a is not None and a in network for a in addresses]
            elif term.field is None or len(pattern) > 1:
                regex = re.compile("(?s)" + ".*".join(re.escape(p.lower()) for p in pattern))
                find = regex.search if term.field is None else regex.fullmatch
                found = [s != "" and find(s) is not None for s in lowered]
            else:
                found = [s == pattern[0] for s in names]
                if not any(found):
                    found = [s == pattern[0].lower() for s in lowered]
            hits |= np.array(found, dtype=bool)
        return hits
    return per_table(table, ("match", column, term.field is None, term.values, term.networks), compute)


def _ip(text: str):
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def table_groups(table: EventTable) -> tuple[np.ndarray, np.ndarray] | None:
    """Which tables each distinct `tables` label stands for, as (label code, table code)
    pairs, so table filters and facets work per label (a few) instead of per membership
    entry (a million).  None when a label is ambiguous (a table name containing a comma):
    callers then use the membership arrays row by row.
    """
    def compute():
        labels, names = column_codes(table, "tables")
        width = max(len(table.table_names), 1)
        pairs = np.unique(labels[table.table_rows].astype(np.int64) * width + table.table_codes)
        pair_label, pair_table = np.divmod(pairs, width)
        same_tables = np.bincount(pair_label, minlength=len(names))[labels] == \
            np.bincount(table.table_rows, minlength=len(table))
        return (pair_label, pair_table) if (labels >= 0).all() and same_tables.all() else None
    return per_table(table, "table_groups", compute)


def _column_mask(table: EventTable, column: str, term: Term) -> np.ndarray:
    hits = _matches(table, column, term)
    if column == "tables":
        return _tables_mask(table, hits, no_table=("",) in term.values and term.field is not None)
    codes, _ = column_codes(table, column)
    return np.append(hits, False)[codes]          # code -1 (missing) lands on False


def _tables_mask(table: EventTable, hits: np.ndarray, no_table: bool) -> np.ndarray:
    """Rows that touch a table marked in `hits` (or, with `no_table`, that name none)."""
    groups = table_groups(table)
    if groups is None:                            # ambiguous labels: walk the membership
        mask = np.zeros(len(table), dtype=bool)
        mask[table.table_rows[hits[table.table_codes]]] = True
        if no_table:
            mask[np.setdiff1d(np.arange(len(table)), table.table_rows)] = True
        return mask
    labels, names = column_codes(table, "tables")
    pair_label, pair_table = groups
    label_hits = np.zeros(len(names), dtype=bool)
    label_hits[pair_label[hits[pair_table]]] = True
    if no_table:
        label_hits |= np.bincount(pair_label, minlength=len(names)) == 0
    return label_hits[labels]


def _term_mask(term: Term, table: EventTable) -> np.ndarray:
    if term.field is None:
        mask = np.zeros(len(table), dtype=bool)
        for column in BARE_WORD_COLUMNS:
            mask |= _column_mask(table, column, term)
        return mask
    if term.field in TIME_FIELDS:
        times, cut = time_ns(table), pd.Timestamp(term.when).value
        return times >= cut if term.field == "after" else (times < cut) & (times != NAT)
    if term.field == "ro":
        wanted = {value[0].lower() for value in term.values}
        by_code = np.array(["false" in wanted, "true" in wanted, False])   # index 0, 1, -1
        return by_code[read_only_codes(table)]
    return _column_mask(table, FIELDS[term.field], term)
