"""boto3 sessions and clients built the same way for every AWS-facing loader.

One place decides profile, region, endpoint override, FIPS endpoints, retries and
partition, so GovCloud (`aws-us-gov`) and FIPS behave identically for S3, CloudTrail
and LookupEvents.  ddbtrail only ever calls read APIs through these clients.
"""
from __future__ import annotations

import boto3
from botocore.config import Config

from loaders import LoadOptions

DEFAULT_REGION = "us-east-1"


def session(opts: LoadOptions) -> boto3.session.Session:
    return boto3.session.Session(profile_name=opts.profile) if opts.profile else boto3.session.Session()


def region_of(opts: LoadOptions, sess: boto3.session.Session | None = None) -> str:
    """First requested region, else the session's configured one, else us-east-1."""
    if opts.regions:
        return opts.regions[0]
    sess = sess or session(opts)
    return sess.region_name or DEFAULT_REGION


def partition(region: str) -> str:
    """ARN partition of a region: aws-us-gov for us-gov-*, aws-cn for cn-*, else aws."""
    return boto3.session.Session().get_partition_for_region(region)


def client(service: str, opts: LoadOptions, region: str | None = None,
           max_pool: int = 32, retries: int = 10):
    """A read-only-use client with adaptive retries, FIPS when asked, endpoint override."""
    sess = session(opts)
    config = Config(
        region_name=region or region_of(opts, sess),
        use_fips_endpoint=bool(opts.fips),
        retries={"mode": "adaptive", "max_attempts": retries},
        max_pool_connections=max_pool,
        user_agent_extra="ddbtrail",
    )
    return sess.client(service, config=config, endpoint_url=opts.endpoint_url)
