"""Fetch what the coverage check needs: trails, their status and their event selectors.

Only read calls (DescribeTrails, GetTrailStatus, GetEventSelectors, and STS
GetCallerIdentity for the account of bare table names); the analysis itself lives in
`ddbtrail.coverage`, which never talks to AWS.
"""
from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from loaders import LoadOptions, aws


def table_arn(table: str, region: str, account: str) -> str:
    """ARN of a table given by name (or already as an ARN), in the region's partition."""
    if table.startswith("arn:"):
        return table
    return f"arn:{aws.partition(region)}:dynamodb:{region}:{account}:table/{table}"


def fetch_trails(opts: LoadOptions, regions: list[str]) -> list[dict]:
    """Every trail recording these regions (shadow and organization trails included), each
    with its status and selectors read in its home region; a trail whose details cannot be
    read keeps the error in `status["error"]` instead of failing the whole check."""
    trails: dict[str, dict] = {}
    for region in regions:
        listed = aws.client("cloudtrail", opts, region).describe_trails(includeShadowTrails=True)
        for trail in listed.get("trailList", []):
            if opts.trail in (None, trail.get("Name"), trail.get("TrailARN")):
                trails.setdefault(trail["TrailARN"], trail)
    fetched = []
    for arn, trail in trails.items():
        client = aws.client("cloudtrail", opts, trail.get("HomeRegion") or regions[0])
        try:
            status = client.get_trail_status(Name=arn)
            selectors = client.get_event_selectors(TrailName=arn)
        except (ClientError, BotoCoreError) as exc:
            status, selectors = {"error": str(exc)}, {}
        fetched.append({"trail": trail, "status": status, "selectors": selectors})
    return fetched


def fetch_coverage(opts: LoadOptions, tables: list[str]) -> dict:
    """What `ddbtrail.coverage.analyse(**this)` needs to judge `tables` in every region of
    `opts.regions` (default: the session's region): the trails as fetched, the table ARNs
    and the trail to fix.  Tables are names or ARNs; names are placed in
    `opts.accounts[0]`, else the caller's own account.  The loader only fetches; the core
    judges."""
    regions = opts.regions or [aws.region_of(opts)]
    fetched = fetch_trails(opts, regions)
    arns: list[str] = []
    if tables:
        account = opts.accounts[0] if opts.accounts else (
            aws.client("sts", opts, regions[0]).get_caller_identity()["Account"])
        arns = list(dict.fromkeys(table_arn(t, r, account) for r in regions for t in tables))
    return {"fetched": fetched, "table_arns": arns, "fix_trail": opts.trail}
