"""The coverage check against moto's CloudTrail in us-gov-west-1 (GovCloud ARNs).

Trails as responders meet them: one logging management events only, one logging reads
of every table (basic selectors), one with a per-table advanced selector, one that would
log everything but is not logging, and a multi-region trail homed in us-gov-east-1 that
us-gov-west-1 sees only as a shadow trail.
"""
from __future__ import annotations

import json
import shlex
import uuid

import boto3
import pytest

from ddbtrail.coverage import analyse, render_text
from loaders import LoadOptions
from loaders.coverage import fetch_coverage

REGION = "us-gov-west-1"
ACCOUNT = "123456789012"     # moto's default account


def arn(table: str) -> str:
    return f"arn:aws-us-gov:dynamodb:{REGION}:{ACCOUNT}:table/{table}"


@pytest.fixture(scope="module")
def trails(moto_endpoint):
    """Create the trails once; names and tables are unique so other tests' trails
    in the shared moto server cannot match them."""
    run = uuid.uuid4().hex[:8]
    names = {k: f"{k}-{run}" for k in ("mgmt-only", "all-read", "per-table", "stopped", "east-multi")}
    tables = {k: f"{k}-{run}" for k in ("Orders", "Customers", "PatientRecords", "Shadowed")}
    cloudtrail = boto3.client("cloudtrail", region_name=REGION, endpoint_url=moto_endpoint)
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=moto_endpoint)
    bucket = f"trail-logs-{run}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    for key, name in names.items():
        if key == "east-multi":   # homed elsewhere, seen here as a shadow trail
            east = boto3.client("cloudtrail", region_name="us-gov-east-1", endpoint_url=moto_endpoint)
            east.create_trail(Name=name, S3BucketName=bucket, S3KeyPrefix="east/", IsMultiRegionTrail=True)
            east.start_logging(Name=name)
            east.put_event_selectors(TrailName=name, AdvancedEventSelectors=[{"FieldSelectors": [
                {"Field": "eventCategory", "Equals": ["Data"]},
                {"Field": "resources.type", "Equals": ["AWS::DynamoDB::Table"]},
                {"Field": "resources.ARN", "Equals": [arn(tables["Shadowed"])]},
                {"Field": "readOnly", "Equals": ["false"]}]}])
            continue
        cloudtrail.create_trail(Name=name, S3BucketName=bucket, S3KeyPrefix=f"{key}/")
        if key != "stopped":
            cloudtrail.start_logging(Name=name)
    cloudtrail.put_event_selectors(TrailName=names["mgmt-only"], EventSelectors=[
        {"ReadWriteType": "All", "IncludeManagementEvents": True}])
    cloudtrail.put_event_selectors(TrailName=names["all-read"], EventSelectors=[
        {"ReadWriteType": "ReadOnly", "IncludeManagementEvents": False,
         "DataResources": [{"Type": "AWS::DynamoDB::Table", "Values": ["arn:aws-us-gov:dynamodb"]}]}])
    cloudtrail.put_event_selectors(TrailName=names["per-table"], AdvancedEventSelectors=[
        {"Name": "Management", "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]},
        {"Name": "Orders items", "FieldSelectors": [
            {"Field": "eventCategory", "Equals": ["Data"]},
            {"Field": "resources.type", "Equals": ["AWS::DynamoDB::Table"]},
            {"Field": "resources.ARN", "Equals": [arn(tables["Orders"])]}]}])
    cloudtrail.put_event_selectors(TrailName=names["stopped"], AdvancedEventSelectors=[
        {"Name": "All tables", "FieldSelectors": [
            {"Field": "eventCategory", "Equals": ["Data"]},
            {"Field": "resources.type", "Equals": ["AWS::DynamoDB::Table"]}]}])
    return names, tables, bucket


def test_report_per_trail_and_uncovered_tables(moto_endpoint, trails):
    names, tables, bucket = trails
    report = analyse(**fetch_coverage(LoadOptions(regions=[REGION], endpoint_url=moto_endpoint), list(tables.values())))
    json.dumps(report)   # the --json output must serialise as is
    by_name = {t["name"]: t for t in report["trails"]}

    base = {"region": REGION, "s3_bucket": bucket, "latest_delivery_error": None}
    mgmt = by_name[names["mgmt-only"]]
    assert mgmt | base == mgmt
    assert mgmt["arn"] == f"arn:aws-us-gov:cloudtrail:{REGION}:{ACCOUNT}:trail/{names['mgmt-only']}"
    assert (mgmt["logging"], mgmt["s3_prefix"], mgmt["management_events"]) == (True, "mgmt-only/", True)
    assert mgmt["dynamodb"] == {"read": False, "write": False, "tables": []}

    assert by_name[names["all-read"]]["dynamodb"] == {"read": True, "write": False, "tables": ["*"]}
    assert by_name[names["all-read"]]["management_events"] is False
    assert by_name[names["per-table"]]["dynamodb"] == {"read": True, "write": True,
                                                       "tables": [arn(tables["Orders"])]}
    stopped = by_name[names["stopped"]]
    assert stopped["logging"] is False and stopped["dynamodb"]["tables"] == ["*"]
    assert any("StopLogging" in w for w in stopped["warnings"])
    assert not any(by_name[n]["warnings"] for n in (names["mgmt-only"], names["all-read"], names["per-table"]))

    shadow = by_name[names["east-multi"]]
    assert (shadow["region"], shadow["multi_region"], shadow["logging"]) == ("us-gov-east-1", True, True)
    assert shadow["dynamodb"] == {"read": False, "write": True, "tables": [arn(tables["Shadowed"])]}

    # Orders: read (all-read, per-table) and write (per-table) recorded.  Shadowed: writes
    # by the east trail, reads by all-read.  The others: reads only; their writes would be
    # recorded by the stopped trail, which is not logging.
    uncovered = {u["table"]: u for u in report["uncovered"]}
    assert set(uncovered) == {tables["Customers"], tables["PatientRecords"]}
    for name in uncovered:
        assert uncovered[name] | {"read": False, "write": True, "arn": arn(name)} == uncovered[name]
        assert uncovered[name]["not_logging"] == [names["stopped"]]

    text = render_text(report)
    assert f"Trail {names['stopped']}" in text and "logging: OFF" in text
    assert f"{tables['Customers']} ({REGION}): write calls" in text
    assert "never changes AWS" in text


def test_printed_command_parses_keeps_selectors_and_covers_the_tables(moto_endpoint, trails):
    names, tables, _ = trails
    opts = LoadOptions(regions=[REGION], endpoint_url=moto_endpoint, trail=names["per-table"])
    report = analyse(**fetch_coverage(opts, list(tables.values())))
    assert [t["name"] for t in report["trails"]] == [names["per-table"]]
    assert {u["table"]: (u["read"], u["write"]) for u in report["uncovered"]} == {
        tables["Customers"]: (True, True), tables["PatientRecords"]: (True, True),
        tables["Shadowed"]: (True, True)}

    [fix] = report["commands"]
    argv = shlex.split(fix["command"])
    assert argv[:3] == ["aws", "cloudtrail", "put-event-selectors"]
    assert argv[argv.index("--trail-name") + 1] == names["per-table"]
    assert argv[argv.index("--region") + 1] == REGION
    selectors = json.loads(argv[argv.index("--advanced-event-selectors") + 1])
    current = boto3.client("cloudtrail", region_name=REGION, endpoint_url=moto_endpoint).get_event_selectors(
        TrailName=names["per-table"])["AdvancedEventSelectors"]
    assert selectors[:len(current)] == current          # what the trail logs today is kept
    added = selectors[len(current):]
    assert {"Field": "resources.ARN", "Equals": [arn(tables["Customers"]), arn(tables["PatientRecords"]),
                                                arn(tables["Shadowed"])]} in added[0]["FieldSelectors"]

    # The trail as it would be after the command: nothing left uncovered.
    trail = next(t for t in boto3.client("cloudtrail", region_name=REGION, endpoint_url=moto_endpoint)
                 .describe_trails(trailNameList=[names["per-table"]])["trailList"])
    after = analyse([{"trail": trail, "status": {"IsLogging": True},
                      "selectors": {"AdvancedEventSelectors": selectors}}],
                    [arn(t) for t in tables.values()])
    assert after["uncovered"] == [] and after["commands"] == []
