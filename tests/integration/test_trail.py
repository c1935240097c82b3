"""`--trail NAME` against moto's CloudTrail and S3 servers in GovCloud: resolve a trail to
where its logs live, then load them through loaders.load()."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta

import boto3
import pytest

from loaders import LoadOptions, NothingLoaded, load
from loaders.trail import TrailError, resolve_trail
from tests.records import ROLE
from tests.servers.moto_server import (DELIVERIES, END, GOV_REGIONS, START, dynamodb_record,
                                       make_bucket, put_trail_logs)

MOTO_ACCOUNT = "123456789012"     # the account moto answers as: the trail's owner
OTHER_ACCOUNT = "444455556666"    # another account's logs in the same bucket
DAYS_18_19 = DELIVERIES[8:16]


def cloudtrail(endpoint: str, region: str = "us-gov-west-1"):
    return boto3.client("cloudtrail", endpoint_url=endpoint, region_name=region)


def expected_ids(accounts, regions, deliveries) -> set[str]:
    return {dynamodb_record(a, r, t - timedelta(minutes=2))["eventID"]
            for a in accounts for r in regions for t in deliveries}


@pytest.fixture(scope="module")
def audit_trail(moto_endpoint):
    """Multi-region trail `ddb-audit` in us-gov-west-1 delivering to gov-audit/audit/."""
    s3 = make_bucket(moto_endpoint, "gov-audit")
    put_trail_logs(s3, "gov-audit", "audit/AWSLogs/", [MOTO_ACCOUNT, OTHER_ACCOUNT],
                   GOV_REGIONS, DAYS_18_19)
    return cloudtrail(moto_endpoint).create_trail(
        Name="ddb-audit", S3BucketName="gov-audit", S3KeyPrefix="audit", IsMultiRegionTrail=True)


def test_trail_name_resolves_to_its_account_folder_in_govcloud(moto_endpoint, audit_trail):
    assert audit_trail["TrailARN"] == f"arn:aws-us-gov:cloudtrail:us-gov-west-1:{MOTO_ACCOUNT}:trail/ddb-audit"
    opts = LoadOptions(regions=["us-gov-west-1"], endpoint_url=moto_endpoint)
    assert resolve_trail("ddb-audit", opts) == [f"s3://gov-audit/audit/AWSLogs/{MOTO_ACCOUNT}/"]
    # The ARN names its own region, whatever --region says.
    assert resolve_trail(audit_trail["TrailARN"], LoadOptions(regions=["us-gov-east-1"],
                         endpoint_url=moto_endpoint)) == [f"s3://gov-audit/audit/AWSLogs/{MOTO_ACCOUNT}/"]


def test_load_by_trail_name_reads_only_that_trails_logs_in_range(moto_endpoint, audit_trail,
                                                                 tmp_path):
    table, report = load([], LoadOptions(trail=audit_trail["TrailARN"], start=START, end=END,
                                         endpoint_url=moto_endpoint, cache_dir=str(tmp_path)))
    # Files of the 18th and 19th in both regions; the owner's account only.
    assert report.errors == []
    assert report.files_read == report.objects_fetched == 2 * len(DAYS_18_19)
    assert set(table.df["event_id"]) == expected_ids([MOTO_ACCOUNT], GOV_REGIONS, DAYS_18_19)
    assert set(table.df["account"]) == {MOTO_ACCOUNT}
    assert set(table.df["region"]) == set(GOV_REGIONS)
    assert set(table.tables_of(0)) == {"Orders"}
    assert table.df["origin"].str.startswith(f"s3://gov-audit/audit/AWSLogs/{MOTO_ACCOUNT}/").all()


def test_organization_trail_resolves_to_the_organization_folder(moto_endpoint, tmp_path):
    s3 = make_bucket(moto_endpoint, "org-audit", "us-gov-east-1")
    put_trail_logs(s3, "org-audit", "AWSLogs/o-gov1234567/", [MOTO_ACCOUNT, OTHER_ACCOUNT],
                   ["us-gov-east-1"], DAYS_18_19)
    cloudtrail(moto_endpoint, "us-gov-east-1").create_trail(
        Name="org-ddb", S3BucketName="org-audit", IsMultiRegionTrail=True, IsOrganizationTrail=True)
    opts = LoadOptions(trail="org-ddb", regions=["us-gov-east-1"], accounts=[OTHER_ACCOUNT],
                       start=START, end=END, endpoint_url=moto_endpoint, cache_dir=str(tmp_path))
    assert resolve_trail("org-ddb", opts) == ["s3://org-audit/AWSLogs/o-gov1234567/"]

    table, report = load([], opts)
    assert set(table.df["event_id"]) == expected_ids([OTHER_ACCOUNT], ["us-gov-east-1"], DAYS_18_19)
    assert report.skipped == []   # --region given: digest folders are never even listed


def test_unknown_trail_is_a_clear_error(moto_endpoint, audit_trail, tmp_path):
    opts = LoadOptions(trail="no-such-trail", regions=["us-gov-west-1"],
                       endpoint_url=moto_endpoint, cache_dir=str(tmp_path))
    with pytest.raises(TrailError, match="no trail 'no-such-trail' in us-gov-west-1"):
        resolve_trail("no-such-trail", opts)
    with pytest.raises(NothingLoaded, match="--trail no-such-trail: no trail 'no-such-trail'"):
        load([], opts)


def test_cli_summary_by_trail_name_in_govcloud(moto_endpoint, audit_trail, tmp_path):
    """What a responder types: the console script, the trail's name, its region, a window."""
    command = [os.path.join(os.path.dirname(sys.executable), "ddbtrail"), "summary",
               "--trail", "ddb-audit", "--region", "us-gov-west-1",
               "--start", START.isoformat(), "--end", END.isoformat(),
               "--endpoint-url", moto_endpoint, "--cache-dir", str(tmp_path), "--json"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["events"] == len(DAYS_18_19)   # --region: the us-gov-west-1 folder only
    assert result["by_table"] == {"Orders": len(DAYS_18_19)}
    assert result["by_principal"] == {f"arn:aws-us-gov:iam::{MOTO_ACCOUNT}:role/{ROLE}":
                                      len(DAYS_18_19)}
    assert result["files"]["read"] == len(DAYS_18_19)
