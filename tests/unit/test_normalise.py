"""Record -> event-table row, per DESIGN §2, through the real decoder."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ddbtrail.events import SourceInfo
from loaders.decode import chunk_from_records
from tests.records import (ACCOUNT, ROLE_ARN, SESSION, SESSION_ARN, assumed_role, aws_service,
                           iam_user, management_record, old_record, other_service, record,
                           root, table_arn)


def rows(*records, all_sources=False) -> list[dict]:
    chunk, bad = chunk_from_records([json.dumps(r).encode() for r in records],
                                    SourceInfo("test", "test"), all_sources)
    assert not bad
    columns = {name: chunk.values(name) for name in [*chunk.columns, "tables"]}
    return [{name: values[i] for name, values in columns.items()} for i in range(len(chunk))]


def row(rec: dict, **kwargs) -> dict:
    (only,) = rows(rec, **kwargs)
    return only


def ns(text: str) -> int:
    return pd.Timestamp(text).as_unit("ns").value


def test_data_event_fills_every_column():
    r = row(record())
    assert r["operation"] == "GetItem"
    assert r["source"] == "dynamodb.amazonaws.com"
    assert r["plane"] == "data"
    assert r["read_only"] == 1
    assert r["principal"] == ROLE_ARN
    assert r["principal_type"] == "AssumedRole"
    assert r["session"] == SESSION
    assert r["arn"] == SESSION_ARN
    assert r["account"] == ACCOUNT
    assert r["access_key"] == "ASIAEXAMPLEKEY000001"
    assert r["tables"] == ("Orders",)
    assert r["region"] == "us-east-1"
    assert r["ip"] == "10.20.30.40"
    assert r["user_agent"].startswith("aws-sdk-java/2.25.11")
    assert r["error"] == "" and r["error_message"] == ""
    assert r["event_id"] == "3c9e5f2a-1b4d-4c6e-9f0a-2b3c4d5e6f70"
    assert r["request_id"].startswith("8V0M1OKK")
    assert r["time"] == ns("2026-11-20T10:15:30Z")


@pytest.mark.parametrize("identity, principal, session", [
    (assumed_role(), ROLE_ARN, SESSION),
    (assumed_role(partition="aws-us-gov", role="Scanner", session="night"),
     f"arn:aws-us-gov:iam::{ACCOUNT}:role/Scanner", "night"),
    (iam_user("alice"), f"arn:aws:iam::{ACCOUNT}:user/alice", ""),
    (root(), f"arn:aws:iam::{ACCOUNT}:root", ""),
    (aws_service("dynamodb.application-autoscaling.amazonaws.com"),
     "dynamodb.application-autoscaling.amazonaws.com", ""),
    ({"type": "FederatedUser", "principalId": f"{ACCOUNT}:bob",
      "arn": f"arn:aws:sts::{ACCOUNT}:federated-user/bob", "accountId": ACCOUNT},
     f"arn:aws:sts::{ACCOUNT}:federated-user/bob", ""),
    ({"type": "WebIdentityUser", "principalId": "accounts.google.com:app:1234",
      "userName": "1234", "identityProvider": "accounts.google.com"},
     "accounts.google.com:app:1234", ""),
    ({"type": "SAMLUser", "principalId": "SAMLPrincipal:alice", "userName": "alice",
      "identityProvider": "arn:aws:iam::1:saml-provider/Okta"}, "SAMLPrincipal:alice", ""),
    ({"type": "IdentityCenterUser", "accountId": ACCOUNT,
      "onBehalfOf": {"userId": "u-1", "identityStoreArn": "arn:aws:identitystore::1:identitystore/d-1"},
      "credentialId": "c-1"}, "unknown", ""),
    ({"type": "AWSAccount", "principalId": "AIDAOTHERACCOUNT", "accountId": "210987654321"},
     "AIDAOTHERACCOUNT", ""),
    ({}, "unknown", ""),
])
def test_principal_is_who_owns_the_permissions(identity, principal, session):
    r = row(record(userIdentity=identity))
    assert (r["principal"], r["session"]) == (principal, session)
    assert r["principal_type"] == identity.get("type", "")


def test_root_without_arn_gets_the_account_root_arn_in_its_partition():
    r = row(record(userIdentity=root("111122223333", with_arn=False), awsRegion="us-gov-west-1"))
    assert r["principal"] == "arn:aws-us-gov:iam::111122223333:root"


def test_missing_user_identity_loads_with_blanks():
    r = row(record(userIdentity=None, recipientAccountId=None))
    assert (r["principal"], r["principal_type"], r["arn"], r["account"], r["access_key"]) == \
        ("unknown", "", "", "", "")


def test_account_falls_back_to_recipient_account():
    r = row(record(userIdentity=aws_service(), recipientAccountId="444455556666"))
    assert r["account"] == "444455556666"


def test_old_event_version_without_event_id_or_resources():
    r = row(old_record())
    assert r["event_id"] == "" and r["request_id"] == ""
    assert r["tables"] == ("Orders",)  # from requestParameters.tableName
    assert r["plane"] == "data"        # from the list of data APIs
    assert r["read_only"] == -1


@pytest.mark.parametrize("value, expected", [
    (True, 1), (False, 0), ("true", 1), ("false", 0), (None, -1), ("maybe", -1)])
def test_read_only_accepts_bool_and_lookup_events_strings(value, expected):
    assert row(record(readOnly=value))["read_only"] == expected


@pytest.mark.parametrize("fields, plane", [
    ({"eventCategory": "Data", "managementEvent": True}, "data"),
    ({"eventCategory": "Management"}, "control"),
    ({"eventCategory": None, "managementEvent": True}, "control"),
    ({"eventCategory": None, "managementEvent": "false"}, "data"),
    ({"eventCategory": None, "managementEvent": None, "eventName": "Scan"}, "data"),
    ({"eventCategory": None, "managementEvent": None, "eventName": "CreateBackup"}, "control"),
])
def test_plane(fields, plane):
    assert row(record(**fields))["plane"] == plane


def test_management_event_is_control_plane():
    assert row(management_record())["plane"] == "control"


@pytest.mark.parametrize("text, expected", [
    ("2026-11-20T10:15:30Z", "2026-11-20T10:15:30Z"),
    ("2026-11-20T10:15:30+0000", "2026-11-20T10:15:30Z"),
    ("2026-11-20T12:15:30+02:00", "2026-11-20T10:15:30Z"),
    ("2026-11-20 10:15:30.250", "2026-11-20T10:15:30.25Z"),
    ("2026-11-20T10:15:30.123456Z", "2026-11-20T10:15:30.123456Z"),
])
def test_lenient_timestamps(text, expected):
    assert row(record(eventTime=text))["time"] == ns(expected)


def test_unparseable_time_is_nat_for_that_record_only():
    bad, good = rows(record(eventTime="yesterday"), record())
    assert bad["time"] == np.iinfo(np.int64).min
    assert good["time"] == ns("2026-11-20T10:15:30Z")


@pytest.mark.parametrize("arn", [
    table_arn("Orders") + "/index/ByCustomer",
    table_arn("Orders") + "/stream/2026-11-20T10:00:00.000",
    table_arn("Orders", partition="aws-us-gov", region="us-gov-west-1"),
])
def test_table_from_index_stream_and_govcloud_arns(arn):
    r = row(record(resources=[{"type": "AWS::DynamoDB::Table", "ARN": arn}],
                   requestParameters={"key": {}}))
    assert r["tables"] == ("Orders",)


def test_batch_write_touches_every_table_once():
    r = row(record(eventName="BatchWriteItem", readOnly=False, resources=[
        {"type": "AWS::DynamoDB::Table", "ARN": table_arn("Orders")},
        {"type": "AWS::DynamoDB::Table", "ARN": table_arn("Customers")}],
        requestParameters={"requestItems": {"Orders": [{}], "Customers": [{}], "Audit": [{}]}}))
    assert r["tables"] == ("Orders", "Customers", "Audit")


def test_batch_get_with_list_of_entries():
    r = row(record(eventName="BatchGetItem", resources=None, requestParameters={
        "requestItems": [{"tableName": "Orders", "key": {}}, {"tableName": "Invoices", "key": {}}]}))
    assert r["tables"] == ("Orders", "Invoices")


def test_transact_write_items_tables():
    r = row(record(eventName="TransactWriteItems", resources=None, requestParameters={
        "transactItems": [{"put": {"tableName": "Orders"}}, {"update": {"tableName": "Stock"}},
                          {"conditionCheck": {"tableName": "Customers"}}, {"delete": {"tableName": "Carts"}}]}))
    assert r["tables"] == ("Orders", "Stock", "Customers", "Carts")


@pytest.mark.parametrize("statement, tables", [
    ('SELECT * FROM "Orders" WHERE pk = ?', ("Orders",)),
    ('select * from Orders.ByCustomer where x = ?', ("Orders",)),
    ('SELECT * FROM "Orders"."ByCustomer"', ("Orders",)),
    ('INSERT INTO "Audit" VALUE {\'pk\': ?}', ("Audit",)),
    ('UPDATE "Stock" SET qty = 1 WHERE pk = ?', ("Stock",)),
    ('DELETE FROM "Carts" WHERE pk = ?', ("Carts",)),
    ('SELECT * FROM "odd ""quoted"" name"', ('odd "quoted" name',)),
])
def test_partiql_statement_tables(statement, tables):
    r = row(record(eventName="ExecuteStatement", resources=None,
                   requestParameters={"statement": statement}))
    assert r["tables"] == tables


def test_batch_execute_statement_and_transaction_tables():
    for name in ("BatchExecuteStatement", "ExecuteTransaction"):
        r = row(record(eventName=name, resources=None, requestParameters={"statements": [
            {"statement": 'SELECT * FROM "Orders" WHERE pk=?'},
            {"statement": 'UPDATE "Stock" SET q=1 WHERE pk=?'}]}))
        assert r["tables"] == ("Orders", "Stock")


def test_table_arn_as_table_name_parameter():
    r = row(record(resources=None, requestParameters={"tableName": table_arn("Orders")}))
    assert r["tables"] == ("Orders",)


def test_failed_call_without_resources_keeps_error_and_table():
    r = row(record(resources=None, errorCode="AccessDenied",
                   errorMessage="User is not authorized to perform: dynamodb:Scan",
                   requestParameters={"tableName": "Patients"}, eventName="Scan"))
    assert (r["error"], r["tables"]) == ("AccessDenied", ("Patients",))
    assert r["error_message"].startswith("User is not authorized")


def test_record_without_request_parameters_or_resources_has_no_tables():
    assert row(record(requestParameters=None, resources=None))["tables"] == ()


def test_other_services_are_dropped_unless_all_sources():
    assert rows(other_service(), record()) == rows(record())
    kept = rows(other_service(), record(), all_sources=True)
    assert [r["source"] for r in kept] == ["s3.amazonaws.com", "dynamodb.amazonaws.com"]
    assert kept[0]["tables"] == ()


HOSTILE = [
    "[bold red]x[/]", "\x1b[31mred\x1b]0;title\x07", "nul\x00bell\x07", "A" * 10_000,
    "\u202eevil\u200b", "\U0001F4A5 \u0645\u0631\u062d\u0628\u0627",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_strings_are_kept_verbatim(text):
    r = row(record(userAgent=text, sourceIPAddress=text, errorMessage=text,
                   userIdentity=iam_user(text)))
    assert r["user_agent"] == text and r["ip"] == text and r["error_message"] == text
    assert r["principal"] == f"arn:aws:iam::{ACCOUNT}:user/{text}"


def test_fields_of_unexpected_types_load_with_blanks():
    r = row(record(eventName=42, readOnly=["x"], userIdentity="not an object",
                   resources={"ARN": 1}, sourceIPAddress={"ip": 1}))
    assert r["operation"] == "42"
    assert (r["read_only"], r["principal"], r["ip"]) == (-1, "unknown", "")
    assert r["tables"] == ("Orders",)


def test_missing_event_name_is_question_mark():
    assert row(record(eventName=None))["operation"] == "?"


def test_lone_surrogate_escape_and_bad_utf8_still_load():
    text = json.dumps(record(userAgent="x")).replace('"userAgent": "x"', '"userAgent": "a\\ud800b"').encode()
    chunk, bad = chunk_from_records([text, json.dumps(record()).encode()[:-1] + b', "z": "\xff"}'],
                                    SourceInfo("test", "test"), False)
    assert not bad and len(chunk) == 2
    assert chunk.values("user_agent")[0] == "a?b"
