"""Which AWS hosts ddbtrail's clients talk to in GovCloud, with and without --fips, decided
by botocore's own endpoint rules; nothing leaves the machine (requests are stopped just
before they are sent)."""
from __future__ import annotations

import pytest

from loaders import LoadOptions, aws
from loaders.coverage import table_arn


class Unsent(Exception):
    """Raised in place of sending: carries the URL botocore was about to call."""


@pytest.fixture(autouse=True)
def offline_credentials(monkeypatch):
    """Fake credentials (so requests get signed) and no user config or endpoint overrides."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_ENDPOINT_URL",
                 "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_CLOUDTRAIL", "AWS_USE_FIPS_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


def url_called(client, call) -> str:
    def stop(request, **_):
        raise Unsent(request.url)

    client.meta.events.register("before-send", stop)
    with pytest.raises(Unsent) as sent:
        call(client)
    return str(sent.value)


@pytest.mark.parametrize("region", ["us-gov-west-1", "us-gov-east-1"])
@pytest.mark.parametrize("fips, host", [(False, "s3.{region}.amazonaws.com"),
                                        (True, "s3-fips.{region}.amazonaws.com")])
def test_s3_hosts_in_govcloud(region, fips, host):
    s3 = aws.client("s3", LoadOptions(regions=[region], fips=fips))
    host = host.format(region=region)
    assert s3.meta.endpoint_url == f"https://{host}"
    listing = url_called(s3, lambda c: c.list_objects_v2(Bucket="agency-trail", Prefix="AWSLogs/"))
    assert listing.startswith(f"https://agency-trail.{host}/?list-type=2")


@pytest.mark.parametrize("region", ["us-gov-west-1", "us-gov-east-1"])
@pytest.mark.parametrize("fips", [False, True])
def test_cloudtrail_hosts_in_govcloud_are_the_fips_validated_ones_either_way(region, fips):
    cloudtrail = aws.client("cloudtrail", LoadOptions(regions=[region], fips=fips))
    assert cloudtrail.meta.endpoint_url == f"https://cloudtrail.{region}.amazonaws.com"
    assert url_called(cloudtrail, lambda c: c.describe_trails()) == \
        f"https://cloudtrail.{region}.amazonaws.com/"


def test_fips_in_a_commercial_region_switches_cloudtrail_to_its_fips_host():
    plain = aws.client("cloudtrail", LoadOptions(regions=["us-east-1"]))
    fips = aws.client("cloudtrail", LoadOptions(regions=["us-east-1"], fips=True))
    assert plain.meta.endpoint_url == "https://cloudtrail.us-east-1.amazonaws.com"
    assert fips.meta.endpoint_url == "https://cloudtrail-fips.us-east-1.amazonaws.com"


def test_endpoint_override_wins_so_local_servers_can_stand_in():
    s3 = aws.client("s3", LoadOptions(regions=["us-gov-west-1"], fips=True,
                                      endpoint_url="http://127.0.0.1:9"))
    assert s3.meta.endpoint_url == "http://127.0.0.1:9"


@pytest.mark.parametrize("region, partition", [("us-gov-west-1", "aws-us-gov"),
                                               ("us-gov-east-1", "aws-us-gov"),
                                               ("us-east-1", "aws"), ("cn-north-1", "aws-cn")])
def test_arns_follow_the_regions_partition(region, partition):
    assert aws.partition(region) == partition
    assert table_arn("Patients", region, "123456789012") == \
        f"arn:{partition}:dynamodb:{region}:123456789012:table/Patients"
