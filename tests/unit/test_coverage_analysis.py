"""Selector evaluation, the report and the put-event-selectors fix, on API-shaped dicts."""
from __future__ import annotations

import json
import shlex

import pytest

from ddbtrail.coverage import analyse, describe_trail, render_text, table_coverage

ACCOUNT = "123456789012"
PREFIX = f"arn:aws-us-gov:dynamodb:us-gov-west-1:{ACCOUNT}:table/"


def arn(name: str, region: str = "us-gov-west-1", account: str = ACCOUNT) -> str:
    return f"arn:aws-us-gov:dynamodb:{region}:{account}:table/{name}"


def data(*fields: dict, name: str = "") -> dict:
    return {"Name": name, "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Data"]},
                                             {"Field": "resources.type", "Equals": ["AWS::DynamoDB::Table"]},
                                             *fields]}


def advanced(*selectors: dict) -> dict:
    return {"AdvancedEventSelectors": list(selectors)}


def trail(name: str, region: str = "us-gov-west-1", multi: bool = False, org: bool = False,
          account: str = ACCOUNT) -> dict:
    return {"Name": name, "TrailARN": f"arn:aws-us-gov:cloudtrail:{region}:{account}:trail/{name}",
            "HomeRegion": region, "IsMultiRegionTrail": multi, "IsOrganizationTrail": org,
            "S3BucketName": "logs", "S3KeyPrefix": "p"}


def fetched(t: dict, selectors: dict, logging: bool = True) -> dict:
    return {"trail": t, "status": {"IsLogging": logging}, "selectors": selectors}


FULL, PART, NONE = "full", "partial", "none"


@pytest.mark.parametrize("selectors, table, expected", [
    # basic selectors: values are ARN prefixes, ReadWriteType picks the kind
    ({"EventSelectors": [{"ReadWriteType": "ReadOnly", "DataResources": [
        {"Type": "AWS::DynamoDB::Table", "Values": ["arn:aws-us-gov:dynamodb"]}]}]}, "Orders", (FULL, NONE)),
    ({"EventSelectors": [{"ReadWriteType": "All", "DataResources": [
        {"Type": "AWS::DynamoDB::Table", "Values": [arn("Orders")]}]}]}, "Orders", (FULL, FULL)),
    ({"EventSelectors": [{"ReadWriteType": "All", "DataResources": [
        {"Type": "AWS::DynamoDB::Table", "Values": [arn("Orders")]}]}]}, "Customers", (NONE, NONE)),
    ({"EventSelectors": [{"ReadWriteType": "All", "DataResources": [
        {"Type": "AWS::S3::Object", "Values": ["arn:aws-us-gov:s3"]}]}]}, "Orders", (NONE, NONE)),
    ({"EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": True}]}, "Orders", (NONE, NONE)),
    # the "aws" partition prefix does not reach GovCloud tables
    ({"EventSelectors": [{"ReadWriteType": "All", "DataResources": [
        {"Type": "AWS::DynamoDB::Table", "Values": ["arn:aws:dynamodb"]}]}]}, "Orders", (NONE, NONE)),
    # advanced: every table, readOnly narrowing
    (advanced(data()), "Orders", (FULL, FULL)),
    (advanced(data({"Field": "readOnly", "Equals": ["false"]})), "Orders", (NONE, FULL)),
    (advanced(data({"Field": "readOnly", "Equals": ["true"]})), "Orders", (FULL, NONE)),
    # advanced ARN operators, exclusions included
    (advanced(data({"Field": "resources.ARN", "Equals": [arn("Orders")]})), "Orders", (FULL, FULL)),
    (advanced(data({"Field": "resources.ARN", "Equals": [arn("Orders")]})), "OrdersArchive", (NONE, NONE)),
    (advanced(data({"Field": "resources.ARN", "StartsWith": [PREFIX + "Ord"]})), "OrdersArchive", (FULL, FULL)),
    (advanced(data({"Field": "resources.ARN", "EndsWith": ["-prod"]})), "Orders-prod", (FULL, FULL)),
    (advanced(data({"Field": "resources.ARN", "EndsWith": ["-prod"]})), "Orders-dev", (NONE, NONE)),
    (advanced(data({"Field": "resources.ARN", "NotEquals": [arn("Orders")]})), "Orders", (NONE, NONE)),
    (advanced(data({"Field": "resources.ARN", "NotEquals": [arn("Orders")]})), "Customers", (FULL, FULL)),
    (advanced(data({"Field": "resources.ARN", "NotStartsWith": [PREFIX + "tmp"]})), "tmp-1", (NONE, NONE)),
    (advanced(data({"Field": "resources.ARN", "NotEndsWith": ["-dev"]})), "Orders-dev", (NONE, NONE)),
    # operators within one field all hold: StartsWith a prefix but NotEquals one table
    (advanced(data({"Field": "resources.ARN", "StartsWith": [PREFIX], "NotEquals": [arn("Orders")]})),
     "Orders", (NONE, NONE)),
    (advanced(data({"Field": "resources.ARN", "StartsWith": [PREFIX], "NotEquals": [arn("Orders")]})),
     "Customers", (FULL, FULL)),
    # selectors are OR-ed: reads from one, writes from another
    (advanced(data({"Field": "readOnly", "Equals": ["true"]}),
              data({"Field": "readOnly", "Equals": ["false"]}, {"Field": "resources.ARN", "Equals": [arn("Orders")]})),
     "Orders", (FULL, FULL)),
    # filters on what only the event knows log part of the calls
    (advanced(data({"Field": "eventName", "Equals": ["DeleteItem"]})), "Orders", (PART, PART)),
    (advanced(data({"Field": "eventName", "NotEquals": ["Scan"]}), data({"Field": "readOnly", "Equals": ["true"]})),
     "Orders", (FULL, PART)),
    # management events and other resource types do not log table items
    (advanced({"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]}), "Orders", (NONE, NONE)),
    (advanced({"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Data"]},
                                  {"Field": "resources.type", "Equals": ["AWS::DynamoDB::Stream"]}]}),
     "Orders", (NONE, NONE)),
    ({}, "Orders", (NONE, NONE)),
])
def test_table_coverage(selectors, table, expected):
    assert table_coverage(selectors, arn(table)) == dict(zip(("read", "write"), expected))


def test_trail_entry_describes_selectors_as_patterns():
    entry = describe_trail(trail("t"), {"IsLogging": True, "LatestDeliveryError": "AccessDenied"}, advanced(
        {"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]},
        data({"Field": "resources.ARN", "StartsWith": [PREFIX + "Ord"], "NotEquals": [arn("OrdersTmp")]},
             {"Field": "readOnly", "Equals": ["false"]}),
        data({"Field": "resources.ARN", "NotEndsWith": ["-dev"]}, {"Field": "eventName", "Equals": ["Scan"]})))
    assert entry["management_events"] is True
    assert entry["dynamodb"] == {"read": True, "write": True, "tables": sorted(
        [PREFIX + "Ord*", "!" + arn("OrdersTmp"), "*", "!*-dev"])}
    assert [s["filters"] for s in entry["selectors"]] == [[], ["eventName"]]
    assert entry["latest_delivery_error"] == "AccessDenied"
    assert any("delivery to S3 is failing (AccessDenied)" in w for w in entry["warnings"])


def test_which_trails_apply_to_a_table():
    tables = [arn("Orders"), arn("Orders", region="us-gov-east-1"), arn("Orders", account="999999999999")]
    everything = advanced(data())
    single = analyse([fetched(trail("west"), everything)], tables)
    assert [u["arn"] for u in single["uncovered"]] == tables[1:]   # other region, other account
    multi = analyse([fetched(trail("west", multi=True), everything)], tables)
    assert [u["arn"] for u in multi["uncovered"]] == tables[2:]
    org = analyse([fetched(trail("west", multi=True, org=True), everything)], tables)
    assert org["uncovered"] == []


def test_a_trail_that_is_not_logging_covers_nothing_and_the_fix_starts_it():
    report = analyse([fetched(trail("quiet"), advanced(data({"Field": "readOnly", "Equals": ["true"]})),
                              logging=False)], [arn("Orders")])
    assert report["uncovered"] == [{"table": "Orders", "read": True, "write": True, "arn": arn("Orders"),
                                    "region": "us-gov-west-1", "partial": [], "not_logging": ["quiet"]}]
    [fix] = report["commands"]
    assert fix["start_logging_first"] is True
    assert "aws cloudtrail start-logging --name quiet --region us-gov-west-1" in render_text(report)


def selectors_of(command: str) -> list[dict]:
    argv = shlex.split(command)
    assert argv[:3] == ["aws", "cloudtrail", "put-event-selectors"]
    return json.loads(argv[argv.index("--advanced-event-selectors") + 1])


def test_fix_keeps_basic_selectors_by_converting_them_and_covers_the_gaps():
    basic = {"EventSelectors": [
        {"ReadWriteType": "ReadOnly", "IncludeManagementEvents": True, "ExcludeManagementEventSources": [
            "kms.amazonaws.com"], "DataResources": [
            {"Type": "AWS::DynamoDB::Table", "Values": ["arn:aws-us-gov:dynamodb"]},
            {"Type": "AWS::S3::Object", "Values": ["arn:aws-us-gov:s3:::evidence/"]}]},
        {"ReadWriteType": "All", "DataResources": [{"Type": "AWS::DynamoDB::Table", "Values": [arn("Orders")]}]}]}
    t = trail("main", multi=True)
    report = analyse([fetched(t, basic)], [arn("Orders"), arn("Customers"), arn("Cases")])
    assert {u["table"]: (u["read"], u["write"]) for u in report["uncovered"]} == {
        "Customers": (False, True), "Cases": (False, True)}
    [fix] = report["commands"]
    assert (fix["trail"], fix["region"], fix["start_logging_first"]) == ("main", "us-gov-west-1", False)
    selectors = selectors_of(fix["command"])
    assert selectors[0] == {"Name": "Management events", "FieldSelectors": [
        {"Field": "eventCategory", "Equals": ["Management"]}, {"Field": "readOnly", "Equals": ["true"]},
        {"Field": "eventSource", "NotEquals": ["kms.amazonaws.com"]}]}
    assert selectors[2]["FieldSelectors"][2] == {"Field": "resources.ARN", "StartsWith": ["arn:aws-us-gov:s3:::evidence/"]}
    assert selectors[-1]["FieldSelectors"][2:] == [
        {"Field": "resources.ARN", "Equals": [arn("Customers"), arn("Cases")]},
        {"Field": "readOnly", "Equals": ["false"]}]

    after = {"AdvancedEventSelectors": selectors}
    # Same coverage as before for a table nobody asked about, and the gaps closed.
    assert table_coverage(after, arn("Other")) == table_coverage(basic, arn("Other")) == {"read": FULL, "write": NONE}
    assert table_coverage(after, arn("Orders")) == {"read": FULL, "write": FULL}
    assert analyse([fetched(t, after)], [arn("Orders"), arn("Customers"), arn("Cases")])["uncovered"] == []


def test_fix_groups_tables_by_what_they_miss_and_prefers_the_trail_asked_for():
    existing = advanced(data({"Field": "resources.ARN", "Equals": [arn("Reads")]}, {"Field": "readOnly", "Equals": ["true"]}),
                        data({"Field": "resources.ARN", "Equals": [arn("Writes")]}, {"Field": "readOnly", "Equals": ["false"]}))
    trails = [fetched(trail("a-first"), {}), fetched(trail("b-ddb"), existing)]
    tables = [arn("Reads"), arn("Writes"), arn("Neither")]
    report = analyse(trails, tables)
    [fix] = report["commands"]
    assert fix["trail"] == "b-ddb"      # logging and already recording DynamoDB data
    selectors = selectors_of(fix["command"])
    assert selectors[:2] == existing["AdvancedEventSelectors"]
    assert [s["FieldSelectors"][2:] for s in selectors[2:]] == [
        [{"Field": "resources.ARN", "Equals": [arn("Neither")]}],
        [{"Field": "resources.ARN", "Equals": [arn("Writes")]}, {"Field": "readOnly", "Equals": ["true"]}],
        [{"Field": "resources.ARN", "Equals": [arn("Reads")]}, {"Field": "readOnly", "Equals": ["false"]}]]
    assert analyse([fetched(trail("b-ddb"), {"AdvancedEventSelectors": selectors})], tables)["uncovered"] == []

    chosen = analyse(trails, tables, fix_trail="a-first")
    assert [c["trail"] for c in chosen["commands"]] == ["a-first"]
    missing = analyse(trails, tables, fix_trail="nope")
    assert missing["commands"] == [] and "No trail named nope records Neither" in missing["notes"][2]


def test_render_text_shows_hostile_names_literally_and_quotes_the_command():
    name = "Orders\x1b]52;c;ZXZpbA==\x07\u202e"
    report = analyse([fetched(trail("it's"), {})], [arn(name)])
    text = render_text(report)
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "DynamoDB data events: none" in text and "Not fully recorded:" in text
    assert selectors_of(report["commands"][0]["command"])[0]["FieldSelectors"][2]["Equals"] == [arn(name)]
    assert shlex.split(report["commands"][0]["command"])[4] == "it's"


def test_no_trail_at_all_says_so():
    report = analyse([], [arn("Orders")])
    assert report["commands"] == [] and report["uncovered"][0]["read"] is True
    assert "No CloudTrail trail found" in render_text(report)
