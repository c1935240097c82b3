"""`--trail NAME`: find where a trail delivers its logs, as s3:// URIs the S3 source walks.

Responders know the trail's name, rarely its bucket layout.  DescribeTrails (shadow trails
included, so a member account can name its organization's trail) gives bucket and prefix;
the account folder comes from the trail's ARN, or for an organization trail from the
`o-…` folder(s) found in the bucket.  Read-only calls only.
"""
from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from loaders import LoadOptions, aws
from loaders.s3 import list_folders


class TrailError(RuntimeError):
    """The trail cannot be found or described; the message says what to try."""


def resolve_trail(name_or_arn: str, opts: LoadOptions) -> list[str]:
    """`s3://bucket/[prefix/]AWSLogs/…/` URIs holding the logs of this trail.

    A trail ARN is looked up in its own region; a bare name in opts' region.
    """
    arn = name_or_arn if name_or_arn.startswith("arn:") else None
    region = arn.split(":")[3] if arn else aws.region_of(opts)
    trail = _describe(name_or_arn, region, opts)
    bucket, prefix = trail["S3BucketName"], (trail.get("S3KeyPrefix") or "").strip("/")
    logs = f"{prefix}/AWSLogs/" if prefix else "AWSLogs/"
    if trail.get("IsOrganizationTrail"):
        orgs = [name for name in list_folders(aws.client("s3", opts), bucket, logs)
                if name.startswith("o-")]
        return [f"s3://{bucket}/{logs}{org}/" for org in orgs] or [f"s3://{bucket}/{logs}"]
    account = trail["TrailARN"].split(":")[4]
    return [f"s3://{bucket}/{logs}{account}/"]


def _describe(name_or_arn: str, region: str, opts: LoadOptions) -> dict:
    cloudtrail = aws.client("cloudtrail", opts, region=region)
    try:
        trails = cloudtrail.describe_trails(trailNameList=[name_or_arn],
                                            includeShadowTrails=True)["trailList"]
    except ClientError as err:
        error = err.response.get("Error", {})
        raise TrailError(f"cannot describe trail {name_or_arn!r} in {region}: "
                         f"{error.get('Code', 'error')}: {error.get('Message', '')}") from err
    except BotoCoreError as err:
        raise TrailError(f"cannot describe trail {name_or_arn!r} in {region}: {err}") from err
    for trail in trails:
        if name_or_arn in (trail.get("Name"), trail.get("TrailARN")):
            if not trail.get("S3BucketName"):
                raise TrailError(f"trail {name_or_arn!r} has no S3 bucket to read logs from")
            return trail
    raise TrailError(f"no trail {name_or_arn!r} in {region}: pass --region with the trail's "
                     "home region, or its ARN")
