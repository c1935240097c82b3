"""CloudTrail record -> event-table columns, per the rules of DESIGN §2.

`Record` holds only the fields the table needs, so msgspec skips the rest of each record
without building Python objects for it.  `normalise()` turns a batch of records into plain
column lists; derivations that repeat across records (principal per identity, table name
per ARN) are memoised because a trail log repeats the same few identities and tables.
"""
from __future__ import annotations

import re
from functools import lru_cache

import msgspec
import numpy as np
import pandas as pd
from msgspec import Raw, Struct

DYNAMODB = "dynamodb.amazonaws.com"

#: DynamoDB (and Streams) data APIs: the plane of old records that say neither
#: eventCategory nor managementEvent.
DATA_APIS = frozenset({
    "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan",
    "BatchGetItem", "BatchWriteItem", "TransactGetItems", "TransactWriteItems",
    "ExecuteStatement", "BatchExecuteStatement", "ExecuteTransaction",
    "GetRecords", "GetShardIterator",
})
NO_RAW = Raw(b"")


# gc=False: records hold no reference cycles, and untracked structs halve decode time
# (the cyclic collector otherwise runs over every freshly decoded record).
class SessionIssuer(Struct, gc=False):
    arn: str | None = None


class SessionContext(Struct, gc=False):
    sessionIssuer: SessionIssuer | None = None


class UserIdentity(Struct, gc=False):
    type: str | None = None
    principalId: str | None = None
    arn: str | None = None
    accountId: str | None = None
    accessKeyId: str | None = None
    invokedBy: str | None = None
    sessionContext: SessionContext | None = None


class Resource(Struct, gc=False):
    ARN: str | None = None  # the table is read from the ARN, whatever the resource type says


class RequestParameters(Struct, gc=False):
    # Shapes vary per API (dict keyed by table, list of entries, ...): kept raw and decoded
    # only for the few calls that carry them.
    tableName: str | None = None
    tableArn: str | None = None
    statement: str | None = None
    requestItems: Raw = NO_RAW
    transactItems: Raw = NO_RAW
    statements: Raw = NO_RAW


class Record(Struct, gc=False):
    eventTime: str | None = None
    eventSource: str | None = None
    eventName: str | None = None
    eventCategory: str | None = None
    managementEvent: bool | str | None = None
    readOnly: bool | str | None = None
    userIdentity: UserIdentity | None = None
    recipientAccountId: str | None = None
    awsRegion: str | None = None
    sourceIPAddress: str | None = None
    userAgent: str | None = None
    errorCode: str | None = None
    errorMessage: str | None = None
    eventID: str | None = None
    requestID: str | None = None
    vpcEndpointId: str | None = None
    resources: list[Resource] | None = None
    requestParameters: RequestParameters | None = None
    insightDetails: Raw = NO_RAW


record_decoder = msgspec.json.Decoder(Record)

#: Every string column of a Chunk built from records (time and read_only are separate).
STRING_COLUMNS = (
    "operation", "source", "plane", "principal", "principal_type", "session", "arn",
    "account", "access_key", "region", "ip", "user_agent", "error", "error_message",
    "event_id", "request_id", "vpc_endpoint",
)

# -- lenient fallback for records whose fields have unexpected JSON types ------------------
_FIELDS = {
    Record: {"managementEvent": "flag", "readOnly": "flag", "userIdentity": UserIdentity,
             "resources": [Resource], "requestParameters": RequestParameters,
             "insightDetails": Raw},
    UserIdentity: {"sessionContext": SessionContext},
    SessionContext: {"sessionIssuer": SessionIssuer},
    RequestParameters: {"requestItems": Raw, "transactItems": Raw, "statements": Raw},
}


def coerce(cls, obj):
    """Build `cls` from a generic JSON value, dropping values of the wrong type.

    Used when the fast typed decode rejects a record (e.g. a number where a string
    belongs): the record still loads, with blanks where its fields made no sense.
    """
    if not isinstance(obj, dict):
        return None
    kinds = _FIELDS.get(cls, {})
    values = {}
    for name in cls.__struct_fields__:
        value = obj.get(name)
        kind = kinds.get(name, str)
        if value is None:
            continue
        if kind is str:
            value = _text(value)
        elif kind == "flag":
            value = value if isinstance(value, (bool, str)) else None
        elif kind is Raw:
            value = Raw(msgspec.json.encode(value))
        elif isinstance(kind, list):
            value = [coerce(kind[0], v) for v in value if isinstance(v, dict)] if isinstance(value, list) else None
        else:
            value = coerce(kind, value)
        if value is not None:
            values[name] = value
    return cls(**values)


def _text(value) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return None


# -- derivations ----------------------------------------------------------------------------
_ASSUMED_ROLE = re.compile(r"^arn:[^:]*:sts::[^:]*:assumed-role/")


@lru_cache(maxsize=65536)
def principal_of(kind: str, arn: str, principal_id: str, account: str, invoked_by: str,
                 issuer: str, region: str) -> tuple[str, str]:
    """(principal, session) of one identity: who owns the permissions, per DESIGN §2."""
    session = arn.rsplit("/", 1)[1] if _ASSUMED_ROLE.match(arn) and arn.count("/") >= 2 else ""
    if kind == "AssumedRole":
        principal = issuer or arn or principal_id
    elif kind == "Root":
        principal = arn or (f"arn:{_partition(region)}:iam::{account}:root" if account else principal_id)
    elif kind == "AWSService":
        principal = invoked_by or principal_id
    else:
        principal = arn or principal_id or invoked_by
    return principal or "unknown", session


def _partition(region: str) -> str:
    from loaders.aws import partition  # boto3 only for the rare Root record without an ARN
    return partition(region or "us-east-1")


@lru_cache(maxsize=65536)
def table_of_arn(arn: str) -> str:
    """Table name of a DynamoDB table, index or stream ARN; "" for any other ARN."""
    if ":dynamodb:" not in arn or ":table/" not in arn:
        return ""
    return arn.split(":table/", 1)[1].split("/", 1)[0]


def table_name(value) -> str:
    """A tableName parameter: a plain name, or a table ARN (DynamoDB accepts both)."""
    if not isinstance(value, str):
        return ""
    return table_of_arn(value) if value.startswith("arn:") else value


_PARTIQL_TABLE = re.compile(
    r'\b(?:FROM|INTO|UPDATE)\s+("(?:[^"]|"")+"|[A-Za-z0-9_.\-]+)', re.IGNORECASE)


@lru_cache(maxsize=4096)
def partiql_tables(statement: str) -> tuple[str, ...]:
    """Tables named after FROM / INTO / UPDATE (DELETE FROM is covered by FROM)."""
    names = []
    for match in _PARTIQL_TABLE.finditer(statement):
        name = match.group(1)
        if name.startswith('"'):
            name = name[1:-1].replace('""', '"')
        else:
            name = name.split(".", 1)[0]  # Table.Index
        names.append(name)
    return tuple(names)


def _generic(raw: Raw):
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return None


def tables_of(rec: Record) -> tuple[str, ...]:
    """Every table one call touches, in first-mention order, without repeats."""
    names = [table_of_arn(res.ARN) for res in rec.resources if res.ARN] if rec.resources else []
    params = rec.requestParameters
    if params is not None:
        if params.tableName:
            names.append(table_name(params.tableName))
        if params.tableArn:
            names.append(table_of_arn(params.tableArn))
        if params.statement or params.requestItems or params.transactItems or params.statements:
            names.extend(_tables_in_items(params))
    if len(names) == 1 or len(names) == 2 and names[0] == names[1]:  # the usual single-table call
        return (names[0],) if names[0] else ()
    return tuple(n for n in dict.fromkeys(names) if n)


def _tables_in_items(params: RequestParameters) -> list[str]:
    """Tables of multi-table calls: Batch*, Transact* and PartiQL statements."""
    names = list(partiql_tables(params.statement)) if params.statement else []
    if params.requestItems:
        items = _generic(params.requestItems)
        if isinstance(items, dict):  # BatchWriteItem: {table: [requests]}
            names.extend(table_name(k) for k in items)
        elif isinstance(items, list):  # BatchGetItem as CloudTrail records it: [{tableName, key}]
            names.extend(table_name(i if isinstance(i, str) else i.get("tableName"))
                         for i in items if isinstance(i, (str, dict)))
    if params.transactItems:
        items = _generic(params.transactItems)
        for item in items if isinstance(items, list) else ():
            for action in item.values() if isinstance(item, dict) else ():
                if isinstance(action, dict):
                    names.append(table_name(action.get("tableName")))
    if params.statements:
        items = _generic(params.statements)
        for item in items if isinstance(items, list) else ():
            if isinstance(item, dict) and isinstance(item.get("statement"), str):
                names.extend(partiql_tables(item["statement"]))
    return names


_FLAGS = {True: 1, False: 0, "true": 1, "false": 0, "True": 1, "False": 0, "TRUE": 1, "FALSE": 0}
_CATEGORY_PLANE = {"Data": "data", "Management": "control"}


def plane_of(rec: Record, operation: str) -> str:
    plane = _CATEGORY_PLANE.get(rec.eventCategory or "")
    if plane:
        return plane
    management = _FLAGS.get(rec.managementEvent, -1)
    if management != -1:
        return "control" if management else "data"
    return "data" if operation in DATA_APIS else "control"


def is_insight(rec: Record) -> bool:
    return bool(rec.insightDetails) or rec.eventCategory == "Insight"


def normalise(records: list[Record], all_sources: bool = False):
    """Columns for the records to keep: (strings, times, read_only, tables, kept indexes).

    `strings` maps each of STRING_COLUMNS to a list of str ("" when absent); `times` are
    the eventTime texts (parsed in bulk by the caller); `read_only` is 1, 0 or -1.
    Records from other services are left out unless `all_sources`.
    """
    rows, times, read_only, tables, kept = [], [], [], [], []
    no_identity = UserIdentity()
    no_issuer = SessionIssuer()
    for index, rec in enumerate(records):
        src = rec.eventSource or ""
        if src != DYNAMODB and not all_sources:
            continue
        kept.append(index)
        op = rec.eventName or "?"
        ui = rec.userIdentity or no_identity
        ctx = ui.sessionContext
        issuer = (ctx.sessionIssuer if ctx is not None else None) or no_issuer
        acct = ui.accountId or rec.recipientAccountId or ""
        kind = ui.type or ""
        who, sess = principal_of(kind, ui.arn or "", ui.principalId or "", acct,
                                 ui.invokedBy or "", issuer.arn or "", rec.awsRegion or "")
        times.append(rec.eventTime)
        read_only.append(_FLAGS.get(rec.readOnly, -1))
        tables.append(tables_of(rec))
        rows.append((op, src, plane_of(rec, op), who, kind, sess, ui.arn or "", acct,
                     ui.accessKeyId or "", rec.awsRegion or "", rec.sourceIPAddress or "",
                     rec.userAgent or "", rec.errorCode or "", rec.errorMessage or "",
                     rec.eventID or "", rec.requestID or "", rec.vpcEndpointId or ""))
    # One tuple per record, transposed once: cheaper than 17 appends per record.
    columns = zip(*rows) if rows else ([] for _ in STRING_COLUMNS)
    return dict(zip(STRING_COLUMNS, map(list, columns))), times, read_only, tables, kept


def parse_times(texts: list) -> "np.ndarray":
    """eventTime texts -> int64 ns UTC, NaT as int64 min.

    Lenient: `...Z`, `+0000`, `+hh:mm`, `YYYY-MM-DD HH:MM:SS.fff`, any fraction of a second;
    an unparseable time becomes NaT for that record only.
    """
    parsed = pd.to_datetime(pd.Series(texts, dtype=object), format="ISO8601", utc=True,
                            errors="coerce")
    return parsed.dt.as_unit("ns").to_numpy(dtype="datetime64[ns]").view(np.int64)
