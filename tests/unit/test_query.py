"""The query language: what each term selects, exact error positions, and add_term round-trips."""
import random
import time
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest

from ddbtrail.events import COLUMNS, Chunk, EventTable, SourceInfo
from ddbtrail.query import FIELDS, QueryError, add_term, parse

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)
ROLE = "arn:aws-us-gov:iam::111122223333:role/"


def event(minute: float = 0, tables=("Orders",), **columns) -> dict:
    """One event-table row; columns not given are blank, like a record that lacks them."""
    row = {name: "" for name in COLUMNS if name not in ("tables", "origin")}
    row.update(time=pd.Timestamp(T0).value + int(minute * 60e9), read_only=-1, operation="GetItem",
               source="dynamodb.amazonaws.com", principal=ROLE + "App", _tables=tuple(tables))
    row.update(columns)
    return row


def table_of(events: list[dict]) -> EventTable:
    """An EventTable built through the real from_chunks, one chunk per call."""
    n = len(events)
    columns = {name: [e[name] for e in events] for name in COLUMNS if name not in ("tables", "origin")}
    columns["time"] = np.array(columns["time"], dtype=np.int64)
    columns["read_only"] = np.array(columns["read_only"], dtype=np.int8)
    chunk = Chunk(columns=columns, tables=[e["_tables"] for e in events],
                  origin=np.zeros(n, dtype=np.int64), position=np.arange(n), offset=np.zeros(n),
                  length=np.zeros(n), sources=[SourceInfo("test.json", "file")],
                  dedup_key=[f"row-{i}" for i in range(n)])
    return EventTable.from_chunks([chunk])


@pytest.fixture(scope="module")
def table() -> EventTable:
    return table_of([
        event(0, operation="Scan", principal=ROLE + "ReportingJob", ip="10.1.2.3", read_only=1,
              user_agent="aws-cli/2.15.0 Python/3.11", session="nightly", principal_type="AssumedRole",
              access_key="ASIAAAA", region="us-gov-west-1", event_id="e0", request_id="r0"),
        event(1, operation="Query", tables=("Customers",), ip="10.200.0.9", read_only=1,
              user_agent="Boto3/1.34", region="us-gov-west-1", event_id="e1", request_id="r1"),
        event(2, operation="PutItem", ip="198.51.100.7", read_only=0, error="AccessDenied",
              error_message="not authorized", principal=ROLE + "Intruder", region="us-gov-east-1",
              event_id="e2"),
        event(3, operation="BatchWriteItem", tables=("Orders", "Customers"), ip="2001:db8::5",
              read_only=0, error="ThrottlingException", event_id="e3", vpc_endpoint="vpce-1"),
        event(4, operation="DeleteTable", tables=("Audit",), ip="dynamodb.amazonaws.com",
              plane="control", principal="dynamodb.amazonaws.com", principal_type="AWSService",
              event_id="e4"),
        event(60, operation="ExecuteStatement", tables=(), ip="AWS Internal", event_id="e5",
              user_agent="[bold red]x[/] \x1b]52;c;AAAA\x07"),
    ])


def rows(table, text, now=None) -> list[int]:
    return np.flatnonzero(parse(text, now=now).mask(table)).tolist()


def test_empty_query_selects_every_row(table):
    assert rows(table, "") == rows(table, "   ") == list(range(6))
    assert parse("").terms == () and parse("").text == ""


@pytest.mark.parametrize("text, expected", [
    ("op:Scan", [0]),
    ("op:scan", [0]),                          # names are case-insensitive
    ("op:Scan,Query", [0, 1]),                 # OR within a field
    ("op:*Item", [2, 3]),
    ("op:*item", [2, 3]),
    ("-op:*Item", [0, 1, 4, 5]),
    ("principal:*ReportingJob*", [0]),
    ("-principal:*reportingjob*", [1, 2, 3, 4, 5]),
    ("type:AssumedRole", [0]),
    ("session:nightly", [0]),
    ("key:ASIAAAA", [0]),
    ("region:us-gov-east-1", [2]),
    ("plane:control", [4]),
    ("source:dynamodb.amazonaws.com", [0, 1, 2, 3, 4, 5]),
    ("ua:\"aws-cli/2 *\"", []),
    ("ua:aws-cli/2*", [0]),
    ("ua:\"boto3/*\"", [1]),
    ("id:e3", [3]),
    ("request:r1", [1]),
    ("vpce:vpce-1", [3]),
    ("ro:true", [0, 1]),
    ("ro:false", [2, 3]),
    ("ro:true,false", [0, 1, 2, 3]),          # unknown read_only matches neither
    ("error:*", [2, 3]),
    ("-error:*", [0, 1, 4, 5]),
    ("error:accessdenied", [2]),
    ("op:Scan,PutItem -error:*", [0]),
    ('session:""', [1, 2, 3, 4, 5]),           # absent value
])
def test_field_terms_select_the_right_rows(table, text, expected):
    assert rows(table, text) == expected


@pytest.mark.parametrize("text, expected", [
    ("table:Orders", [0, 2, 3]),
    ("table:Customers", [1, 3]),               # the batch call counts for every table it touches
    ("table:orders,audit", [0, 2, 3, 4]),
    ("-table:Orders", [1, 4, 5]),
    ("table:Cust*", [1, 3]),
    ('table:""', [5]),                         # events that name no table
])
def test_table_terms_see_every_table_of_multi_table_calls(table, text, expected):
    assert rows(table, text) == expected


@pytest.mark.parametrize("text, expected", [
    ("ip:10.1.2.3", [0]),
    ("ip:10.*", [0, 1]),
    ("ip:10.0.0.0/8", [0, 1]),
    ("ip:10.1.0.0/16", [0]),
    ("ip:198.51.100.0/24,2001:db8::/32", [2, 3]),
    ("ip:0.0.0.0/0", [0, 1, 2]),               # service names and "AWS Internal" are not in any CIDR
    ("ip:::/0", [3]),
    ("-ip:10.0.0.0/8", [2, 3, 4, 5]),
    ("ip:dynamodb.amazonaws.com", [4]),
    ("ip:\"AWS Internal\"", [5]),
])
def test_ip_exact_wildcard_and_cidr(table, text, expected):
    assert rows(table, text) == expected


@pytest.mark.parametrize("text, expected", [
    ("scan", [0]),                             # operation, case-insensitive substring
    ("reporting", [0]),                        # principal
    ("ustom", [1, 3]),                         # table name
    ("198.51", [2]),                           # ip
    ("boto", [1]),                             # user agent
    ("throttl", [3]),                          # error
    ("not authorized", []),                    # two words, AND-ed; error_message is not searched
    ("-intruder", [0, 1, 3, 4, 5]),
    ("put*item", [2]),
    ('"[bold red]x[/]"', [5]),                  # markup is plain text to the query
    ("2001:db8::5", [3]),                      # a bare IPv6 address is a word, not a field
])
def test_bare_words_search_principal_table_operation_ip_ua_and_error(table, text, expected):
    assert rows(table, text) == expected


def test_time_ranges_absolute_and_relative(table):
    assert rows(table, "after:2026-11-20T10:02") == [2, 3, 4, 5]     # inclusive
    assert rows(table, "before:2026-11-20T10:02") == [0, 1]          # exclusive
    assert rows(table, "after:2026-11-20T10:01 before:2026-11-20T10:03") == [1, 2]
    assert rows(table, "after:2026-11-20") == list(range(6))
    assert rows(table, "-after:2026-11-20T10:03") == [0, 1, 2]
    now = datetime(2026, 11, 20, 11, 0, 30, tzinfo=timezone.utc)
    assert rows(table, "after:-30m", now=now) == [5]
    assert rows(table, "after:-2h", now=now) == list(range(6))
    assert rows(table, "before:-7d", now=now) == []
    assert rows(table, 'after:"2026-11-20 10:03:00"') == [3, 4, 5]


def test_terms_are_anded(table):
    assert rows(table, "table:Orders ro:false error:*") == [2, 3]
    assert rows(table, "table:Orders ro:false -error:AccessDenied ip:2001:db8::/32") == [3]


def test_canonical_text_and_terms():
    query = parse('  OP:Scan,Query   -principal:*Job*  ua:"aws cli" after:-2h  word ')
    assert [t.field for t in query.terms] == ["op", "principal", "ua", "after", None]
    assert query.terms[1].negate and not query.terms[0].negate
    assert query.text == 'op:Scan,Query -principal:*Job* ua:"aws cli" after:-2h word'
    assert parse(query.text).text == query.text


def error_of(text) -> QueryError:
    with pytest.raises(QueryError) as info:
        parse(text)
    return info.value


def test_unknown_field_says_where_what_fits_and_did_you_mean():
    error = error_of("tabel:Orders")
    assert (error.position, error.message) == (0, 'unknown field "tabel" (did you mean "table"?)')
    assert error.expected.startswith("one of: principal, type, session")
    assert str(error).startswith('unknown field "tabel" (did you mean "table"?) at 0; expected one of:')
    error = error_of("op:Scan operation:Query")
    assert error.position == 8 and '(did you mean "op"?)' in error.message


@pytest.mark.parametrize("text, position, message, expected", [
    ("op:", 3, 'missing value after "op:"', "a value"),
    ("op: Scan", 3, 'missing value after "op:"', "a value"),
    ("op:Scan,", 8, 'missing value after ","', "a value"),
    ("op:,Scan", 3, 'missing value after "op:"', "a value"),
    ("after:2026-13-01", 6, 'bad time "2026-13-01"',
     "ISO UTC like 2026-11-20T10:00 or relative like -2h"),
    ("x before:yesterday", 9, 'bad time "yesterday"',
     "ISO UTC like 2026-11-20T10:00 or relative like -2h"),
    ("after:-2h,-3h", 9, "more than one time for after:", "a single time"),
    ("ip:10.0.0.0/33", 3, 'bad CIDR "10.0.0.0/33"', "a network like 10.0.0.0/8 or 2001:db8::/32"),
    ("ip:10.0.0.0/8,bogus/8", 14, 'bad CIDR "bogus/8"', "a network like 10.0.0.0/8 or 2001:db8::/32"),
    ('ua:"aws-cli', 3, "unbalanced quote", 'a closing "'),
    ('op:Scan "', 8, "unbalanced quote", 'a closing "'),
    ('ua:ab"c"', 5, "quote inside a value", 'quotes around the whole value, like ua:"aws-cli/2 *"'),
    ('ua:"a"b', 6, "text right after a closing quote", 'a space or "," after the quoted value'),
    ("op:Scan - x", 9, 'missing term after "-"', "a field:value or a word"),
    ("ro:maybe", 3, 'bad value "maybe" for ro:', "true or false"),
    ('""', 0, "empty word", "a word to search for"),
    ('ua:"\\q"', 4, 'unknown escape "\\q"', 'one of \\" \\\\ \\* \\xNN \\uNNNN \\UNNNNNNNN'),
    ('ua:"\\x4"', 4, 'bad escape "\\x4"', "\\x and 2 hex digits"),
    ('ua:"\\U00110000"', 4, 'bad escape "\\U00110000"', "\\U and 8 hex digits"),
    (",x", 0, 'unexpected ","', "a field:value or a word"),
    ("-,x", 1, 'unexpected ","', "a field:value or a word"),
    ("x,", 2, 'missing value after ","', "a value"),
])
def test_errors_point_at_the_problem(text, position, message, expected):
    error = error_of(text)
    assert (error.position, error.message, error.expected) == (position, message, expected)


# -- add_term -------------------------------------------------------------------------
def test_add_term_appends_quotes_and_keeps_the_line_as_typed():
    assert add_term("", "op", "Scan") == "op:Scan"
    assert add_term("  table:Orders  ", "principal", ROLE + "A B") == f'  table:Orders principal:"{ROLE}A B"'
    assert add_term("table:Orders", "operation", "Scan", negate=True) == "table:Orders -op:Scan"
    assert add_term("op:Scan", "op", "Scan") == "op:Scan"                   # already there
    assert add_term("x op:Scan y", "op", "Scan", negate=True) == "x -op:Scan y"   # replaces opposite
    assert add_term("x -op:Scan y", "op", "Scan") == "x op:Scan y"
    assert add_term("op:Scan,Query", "op", "Scan", negate=True) == "op:Scan,Query -op:Scan"
    assert add_term("", "error", "") == 'error:""'
    assert add_term("", "user_agent", "a*b") == 'ua:"a\\*b"'


def test_add_term_moves_an_existing_time_range():
    line = "op:Scan after:2026-11-20T10:00 before:2026-11-20T11:00"
    line = add_term(line, "after", "2026-11-20T10:15")
    line = add_term(line, "before", "2026-11-20T10:30")
    assert line == "op:Scan after:2026-11-20T10:15 before:2026-11-20T10:30"


def test_add_term_rejects_unknown_fields_and_broken_lines():
    with pytest.raises(ValueError):
        add_term("", "colour", "red")
    with pytest.raises(QueryError):
        add_term('ua:"open', "op", "Scan")


NASTY = [
    "", " ", "a b", '"', '""', "\\", '\\"', "*", "a*b", "**", ",", "a,b", ":", "op:Scan", "-x", "-",
    "x:y:z", "[bold]x[/]", "\x1b]52;c;AAAA\x07", "\x00", "\t\n\r", "\u202eevil", "\u200b", "\ufeff",
    "é", "表", "שלום", "\U0001F600", "\x9b", "\u2028", "\u00a0", "a\\*b", '\\x41', "\\u0041",
    "café ☕, \"yes\"", "'", "`", "$(rm -rf /)", "%s%n", "A" * 500, "Orders", "orders",
]


def nasty_values(count: int, seed: int) -> list[str]:
    """Deterministic hostile strings: the fixed list plus random mixes of its pieces."""
    rng = random.Random(seed)
    pieces = NASTY + list(' ",\\*:-=+@\x1b\x07\u202e\u200b') + ["x", "Y"]
    return NASTY + ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 6))) for _ in range(count)]


@pytest.mark.parametrize("field, column", [("principal", "principal"), ("ua", "user_agent"),
                                           ("error", "error"), ("ip", "ip"), ("id", "event_id"),
                                           ("session", "session"), ("op", "operation")])
def test_add_term_round_trips_hostile_values(field, column):
    values = list(dict.fromkeys(nasty_values(300, seed=hash(field) % 1000)))
    table = table_of([event(i, **{column: v}) for i, v in enumerate(values)])
    actual = table.df[column].astype(object).tolist()
    for value in values:
        for negate in (False, True):
            text = add_term("", field, value, negate=negate)
            assert text.isprintable(), text
            mask = parse(text).mask(table)
            expected = np.array([a == value for a in actual]) != negate   # numpy's == drops trailing NULs
            assert (mask == expected).all(), (value, text)
            assert parse(text).text == text


def test_add_term_round_trips_table_names():
    values = [v for v in dict.fromkeys(nasty_values(100, seed=7)) if v]
    table = table_of([event(i, tables=(v, "Shared")) for i, v in enumerate(values)])
    for i, value in enumerate(values):
        assert np.flatnonzero(parse(add_term("", "table", value)).mask(table)).tolist() == [i]


def test_values_are_quoted_only_when_needed():
    assert add_term("", "op", "Scan") == "op:Scan"
    assert add_term("", "principal", ROLE + "App") == f"principal:{ROLE}App"
    assert add_term("", "ua", "a b") == 'ua:"a b"'
    assert add_term("", "ua", '"\\*,') == 'ua:"\\"\\\\\\*,"'
    assert add_term("", "ua", "\x1b[31m") == 'ua:"\\x1b[31m"'
    assert add_term("", "ua", "\u202e") == 'ua:"\\u202e"'


def test_bare_word_canonical_text_does_not_turn_into_a_field_or_negation(table):
    query = parse('"op:Scan" "-x"')
    assert query.text == '"op:Scan" "-x"'
    assert [t.field for t in query.terms] == [None, None]
    assert not any(t.negate for t in query.terms)


def test_every_field_is_usable(table):
    for field in FIELDS:
        value = {"ro": "true", "after": "-1h", "before": "-1h", "ip": "10.0.0.0/8"}.get(field, "x*")
        assert parse(f"{field}:{value}").mask(table).dtype == bool


def test_a_million_rows_three_terms_in_a_few_milliseconds():
    rng = np.random.default_rng(1)
    n = 1_000_000

    def pick(values: list[str]) -> pd.Categorical:
        return pd.Categorical.from_codes(rng.integers(0, len(values), n), categories=values)

    columns = {name: pick([""]) for name in COLUMNS if name not in ("tables", "origin")}
    columns.update(time=pd.Timestamp(T0).value + np.arange(n, dtype=np.int64) * 1_000_000,
                   read_only=rng.integers(-1, 2, n).astype(np.int8),
                   operation=pick(["GetItem", "PutItem", "Query", "Scan", "DeleteItem", "BatchWriteItem"]),
                   principal=pick([f"{ROLE}Role{i}" for i in range(200)]),
                   event_id=np.arange(n).astype(str), request_id=[""] * n)
    names = [("Orders",), ("Customers",), ("PatientRecords",), ("Cases",), ("Orders", "Cases")]
    chunk = Chunk(columns=columns, tables=[names[i % 5] for i in range(n)],
                  origin=np.zeros(n, dtype=np.int64), position=np.arange(n), offset=np.zeros(n),
                  length=np.zeros(n), sources=[SourceInfo("big", "file")])
    big = EventTable.from_chunks([chunk])
    query = parse("table:Orders,Cases op:Scan,Query -principal:*Role1*")
    query.mask(big)                            # first use fills the per-table caches
    timings = []
    for _ in range(5):
        started = time.process_time()          # CPU time: the shared machine's load does not count
        mask = query.mask(big)
        timings.append(time.process_time() - started)
    df = big.df
    expected = (df["tables"].astype(str).isin(["Orders", "Cases", "Orders,Cases"])
                & df["operation"].isin(["Scan", "Query"])
                & ~df["principal"].astype(str).str.lower().str.contains("role1")).to_numpy()
    assert (mask == expected).all() and 0 < mask.sum() < n
    assert min(timings) < 0.03, timings        # ~5 ms measured; per-row Python would take seconds


def test_a_quoted_ip_value_is_literal_and_add_term_keeps_slashes_literal():
    odd = table_of([event(0, ip="10.0.0.0/8"), event(1, ip="10.1.1.1")])
    assert rows(odd, 'ip:"10.0.0.0/8"') == [0]
    assert rows(odd, "ip:10.0.0.0/8") == [1]
    assert add_term("", "ip", "10.0.0.0/8") == 'ip:"10.0.0.0/8"'
    assert add_term("ip:10.0.0.0/8", "ip", "10.0.0.0/8") == 'ip:10.0.0.0/8 ip:"10.0.0.0/8"'
    assert parse("ip:10.0.0.0/8").text == "ip:10.0.0.0/8"


def test_tables_whose_names_contain_commas_stay_apart():
    odd = table_of([event(0, tables=("a,b",)), event(1, tables=("a", "b")), event(2, tables=("a",))])
    assert list(odd.df["tables"]) == ["a,b", "a,b", "a"]      # same label, different tables
    assert rows(odd, "table:a") == [1, 2]
    assert rows(odd, 'table:"a,b"') == [0]
    assert rows(odd, "-table:b") == [0, 2]


def test_any_typed_text_parses_or_raises_a_query_error(table):
    """The query line is parsed on every keystroke: nothing may escape but QueryError, and
    what parses has a canonical text that means the same."""
    rng = random.Random(3)
    alphabet = list('abc:-,"\\* /0123456789.xuU') + ["op:", "ip:", "after:", "table:", "\u202e", "\x1b"]
    parsed = 0
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        try:
            query = parse(text, now=T0)
        except QueryError as error:
            assert 0 <= error.position <= len(text), (text, error)
            continue
        parsed += 1
        again = parse(query.text, now=T0)
        assert again.text == query.text, text
        assert (again.mask(table) == query.mask(table)).all(), text
    assert parsed > 300
