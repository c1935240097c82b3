"""Load benchmark: ddbtrail vs DuckDB read_json on the same synthetic trail files.

    .venv/bin/python bench/load.py [--events 500000] [--dir DIR] [--keep]

Writes N realistic CloudTrail records (data + management events, assumed roles, several
tables, errors, other services; ~1.2-2 kB each) as .json.gz trail files of 100-2000
records, then measures, each in a fresh process so peak RSS is its own:
  * ddbtrail `load()` (cold: nothing parsed before) -> events/s, peak RSS;
  * DuckDB `read_json` building the equivalent table (time, operation, principal, table,
    error, ip) from the same files -> events/s, peak RSS;
and prints their ratio.  The page cache is warm for both (the files were just written).
The box is shared, so the two are run alternately --repeat times and the best of each
is compared.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ACCOUNT = "123456789012"
REGIONS = ["us-east-1", "us-west-2"]
TABLES = ["Orders", "Customers", "Patients", "CaseFiles", "Sessions", "Inventory", "Audit"]
ROLES = [f"svc-{name}" for name in ("orders", "billing", "reports", "etl", "api", "search",
                                     "notifier", "archiver", "fraud", "ledger")]
USERS = ["alice", "bob", "carol"]
DATA_OPS = [("GetItem", True, 40), ("Query", True, 20), ("PutItem", False, 10),
            ("UpdateItem", False, 8), ("DeleteItem", False, 3), ("Scan", True, 3),
            ("BatchWriteItem", False, 3), ("BatchGetItem", True, 2),
            ("TransactWriteItems", False, 2), ("ExecuteStatement", True, 2)]
CONTROL_OPS = [("DescribeTable", True, 5), ("ListTables", True, 1), ("UpdateTable", False, 0.3),
               ("DescribeContinuousBackups", True, 0.5)]
OTHER = [("kms.amazonaws.com", "Decrypt"), ("sts.amazonaws.com", "AssumeRole")]
ERRORS = [("ConditionalCheckFailedException", "The conditional request failed"),
          ("AccessDenied", "User is not authorized to perform this action"),
          ("ProvisionedThroughputExceededException", "The level of configured provisioned throughput for the table was exceeded"),
          ("ThrottlingException", "Rate exceeded")]
AGENTS = ["aws-sdk-java/2.25.11 Linux/5.10.205-195.807.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.10+7-LTS Java/17.0.10 vendor/Amazon.com_Inc. exec-env/AWS_ECS_FARGATE io/sync http/Apache cfg/retry-mode/standard",
          "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#5.10.213 md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython exec-env/AWS_Lambda_python3.11 cfg/retry-mode#legacy Botocore/1.34.69",
          "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0-1016-aws exe/x86_64.ubuntu.22 prompt/off command/dynamodb.describe-table",
          "aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64 api/dynamodb#1.31.1"]


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def synthetic_record(rng: random.Random, when: float, region: str) -> dict:
    """One plausible record: mostly DynamoDB data events by role sessions, some noise."""
    kind = rng.random()
    table = rng.choice(TABLES)
    arn_table = f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{table}"
    if kind < 0.85:
        role = rng.choice(ROLES)
        session = f"{role}-{rng.randrange(400):04d}"
        identity = {"type": "AssumedRole", "principalId": f"AROA{role.upper()[:12]:X<12}EXAMPLE:{session}",
                    "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}", "accountId": ACCOUNT,
                    "accessKeyId": f"ASIA{zlib.crc32(session.encode()):016X}",
                    "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLEID",
                                                         "arn": f"arn:aws:iam::{ACCOUNT}:role/{role}",
                                                         "accountId": ACCOUNT, "userName": role},
                                       "attributes": {"creationDate": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when - 600)),
                                                      "mfaAuthenticated": "false"}}}
    elif kind < 0.95:
        user = rng.choice(USERS)
        identity = {"type": "IAMUser", "principalId": f"AIDA{user.upper():X<16}", "arn": f"arn:aws:iam::{ACCOUNT}:user/{user}",
                    "accountId": ACCOUNT, "accessKeyId": f"AKIA{user.upper():X<16}", "userName": user}
    else:
        identity = {"type": "AWSService", "invokedBy": "dynamodb.application-autoscaling.amazonaws.com"}
    source, category, management = "dynamodb.amazonaws.com", "Data", False
    roll = rng.random()
    if roll < 0.05:
        source, op = rng.choice(OTHER)
        read_only, category, management = True, "Management", True
    elif roll < 0.12:
        op, read_only, _ = rng.choices(CONTROL_OPS, weights=[w for *_, w in CONTROL_OPS])[0]
        category, management = "Management", True
    else:
        op, read_only, _ = rng.choices(DATA_OPS, weights=[w for *_, w in DATA_OPS])[0]
    params: dict = {"tableName": table}
    resources = [{"accountId": ACCOUNT, "type": "AWS::DynamoDB::Table", "ARN": arn_table}]
    if op in ("GetItem", "PutItem", "UpdateItem", "DeleteItem"):
        params["key"] = {"pk": f"{table.upper()}#{rng.randrange(10**6)}", "sk": f"v{rng.randrange(9)}"}
        if op != "GetItem":
            params["conditionExpression"] = "attribute_exists(pk)"
            params["returnValues"] = "NONE"
    elif op == "Query":
        params.update(keyConditionExpression="pk = :pk", indexName="ByCustomer", limit=100,
                      expressionAttributeValues={":pk": {"S": "<redacted>"}})
        resources[0]["ARN"] += "/index/ByCustomer"
    elif op in ("BatchWriteItem", "BatchGetItem", "TransactWriteItems"):
        other = rng.choice(TABLES)
        params = ({"requestItems": [{"tableName": table, "key": {}}, {"tableName": other, "key": {}}]}
                  if op == "BatchGetItem" else
                  {"requestItems": {table: [{"putRequest": {}}], other: [{"deleteRequest": {}}]}}
                  if op == "BatchWriteItem" else
                  {"transactItems": [{"put": {"tableName": table}}, {"update": {"tableName": other}}]})
        resources.append({"accountId": ACCOUNT, "type": "AWS::DynamoDB::Table",
                          "ARN": f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{other}"})
    elif op == "ExecuteStatement":
        params = {"statement": f'SELECT * FROM "{table}" WHERE pk = ?'}
    elif source != "dynamodb.amazonaws.com":
        params = {"roleArn": f"arn:aws:iam::{ACCOUNT}:role/x", "roleSessionName": "s"} if op == "AssumeRole" \
            else {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"}
        resources = [{"accountId": ACCOUNT, "type": "AWS::KMS::Key",
                      "ARN": f"arn:aws:kms:{region}:{ACCOUNT}:key/{_uuid(rng)}"}]
    rec = {
        "eventVersion": "1.09", "userIdentity": identity,
        "eventTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when)),
        "eventSource": source, "eventName": op, "awsRegion": region,
        "sourceIPAddress": f"10.{rng.randrange(4)}.{rng.randrange(16)}.{rng.randrange(1, 250)}",
        "userAgent": rng.choice(AGENTS), "requestParameters": params, "responseElements": None,
        "requestID": f"{rng.getrandbits(256):052X}"[:52], "eventID": _uuid(rng), "readOnly": read_only,
        "resources": resources, "eventType": "AwsApiCall", "managementEvent": management,
        "recipientAccountId": ACCOUNT, "eventCategory": category,
        "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                       "clientProvidedHostHeader": f"dynamodb.{region}.amazonaws.com"},
    }
    if rng.random() < 0.03:
        rec["errorCode"], rec["errorMessage"] = rng.choice(ERRORS)
    return rec


def write_tree(root: Path, events: int, seed: int = 7) -> tuple[int, int]:
    """Write `events` records as trail files; returns (files, bytes)."""
    from isal import igzip

    rng = random.Random(seed)
    start = time.mktime((2026, 11, 16, 0, 0, 0, 0, 0, 0)) - time.timezone
    written = files = nbytes = 0
    when = start
    while written < events:
        region = rng.choice(REGIONS)
        count = min(events - written, rng.randint(100, 2000))
        records = []
        for _ in range(count):
            when += rng.expovariate(1 / 0.5)
            records.append(synthetic_record(rng, when, region))
        day = time.strftime("%Y/%m/%d", time.gmtime(when))
        folder = root / "AWSLogs" / ACCOUNT / "CloudTrail" / region / day
        folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%MZ", time.gmtime(when))
        path = folder / f"{ACCOUNT}_CloudTrail_{region}_{stamp}_{files:06d}.json.gz"
        data = igzip.compress(json.dumps({"Records": records}, separators=(",", ":")).encode(), 3)
        path.write_bytes(data)
        written, files, nbytes = written + count, files + 1, nbytes + len(data)
    return files, nbytes


def measure_ddbtrail(root: str) -> dict:
    from loaders import LoadOptions, load

    sampler = _TreeRss()
    started = time.perf_counter()
    table, report = load([root], LoadOptions())
    seconds = time.perf_counter() - started
    sampler.stop()
    return {"events": len(table), "seconds": seconds, "files": report.files_read,
            "skipped": len(report.skipped), "duplicates": report.duplicates,
            "tables": len(table.table_names), **_rss(), "peak_tree_rss_mb": sampler.peak_mb}


DUCKDB_SQL = """
CREATE TABLE events AS
WITH records AS (
    SELECT unnest(Records) AS r
    FROM read_json(?, compression = 'gzip',
                   maximum_object_size = 268435456,
                   columns = {Records: 'STRUCT(
                       eventTime VARCHAR, eventSource VARCHAR, eventName VARCHAR,
                       sourceIPAddress VARCHAR, errorCode VARCHAR,
                       userIdentity STRUCT(type VARCHAR, arn VARCHAR, principalId VARCHAR,
                           invokedBy VARCHAR,
                           sessionContext STRUCT(sessionIssuer STRUCT(arn VARCHAR))),
                       resources STRUCT(ARN VARCHAR, type VARCHAR)[],
                       requestParameters STRUCT(tableName VARCHAR)
                   )[]'})
)
SELECT r.eventTime::TIMESTAMPTZ AS time,
       r.eventName AS operation,
       coalesce(CASE r.userIdentity.type
                    WHEN 'AssumedRole' THEN r.userIdentity.sessionContext.sessionIssuer.arn
                    WHEN 'AWSService' THEN r.userIdentity.invokedBy END,
                r.userIdentity.arn, r.userIdentity.principalId, 'unknown') AS principal,
       coalesce(nullif(regexp_extract(r.resources[1].ARN, ':table/([^/]+)', 1), ''),
                r.requestParameters.tableName, '') AS "table",
       coalesce(r.errorCode, '') AS error,
       r.sourceIPAddress AS ip
FROM records
WHERE r.eventSource = 'dynamodb.amazonaws.com'
"""


def measure_duckdb(root: str) -> dict:
    import duckdb

    con = duckdb.connect()
    started = time.perf_counter()
    con.execute(DUCKDB_SQL, [f"{root}/**/*.json.gz"])
    seconds = time.perf_counter() - started
    events = con.execute("SELECT count(*) FROM events").fetchone()[0]
    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    return {"events": events, "seconds": seconds, "threads": threads, **_rss()}


def _rss() -> dict:
    return {"peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


class _TreeRss:
    """Samples the summed RSS of this process and all its descendants (the decode workers
    are forkserver grandchildren, invisible to RUSAGE_CHILDREN) every 0.1 s."""

    def __init__(self) -> None:
        self.peak_mb = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._done.wait(0.1):
            self.peak_mb = max(self.peak_mb, round(sum(map(_rss_kb, _tree(os.getpid()))) / 1024))


def _tree(root: int) -> list[int]:
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parents[int(entry)] = int(stat.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
    found, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        found += frontier
    return found


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    except (OSError, StopIteration):
        return 0


def _in_fresh_process(which: str, root: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--measure", which, "--dir", str(root)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--dir", help="where to write the tree (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the tree afterwards")
    parser.add_argument("--reuse", action="store_true", help="use the tree already in --dir")
    parser.add_argument("--repeat", type=int, default=3,
                        help="alternate the two measurements this many times; report the best of each")
    parser.add_argument("--measure", choices=["ddbtrail", "duckdb"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps((measure_ddbtrail if args.measure == "ddbtrail" else measure_duckdb)(args.dir)))
        return
    root = Path(args.dir or tempfile.mkdtemp(prefix="ddbtrail-bench-"))
    try:
        if not args.reuse:
            started = time.perf_counter()
            files, nbytes = write_tree(root, args.events)
            print(f"wrote {args.events} records in {files} files, {nbytes / 1e6:.0f} MB gzip, "
                  f"{time.perf_counter() - started:.0f} s")
        print(f"load before: {os.getloadavg()[0]:.2f} (1-min average, {os.cpu_count()} cores)")
        runs: dict[str, list[dict]] = {"ddbtrail": [], "duckdb": []}
        for _ in range(args.repeat):  # alternated, so both see the same background load
            for name, results in runs.items():
                results.append(_in_fresh_process(name, root))
        print(f"load after:  {os.getloadavg()[0]:.2f}")
        for name, results in runs.items():
            print(f"{name} runs (s):", ", ".join(f"{r['seconds']:.2f}" for r in results))
        ours = min(runs["ddbtrail"], key=lambda r: r["seconds"])
        duck = min(runs["duckdb"], key=lambda r: r["seconds"])
        ours_rate = ours["events"] / ours["seconds"]
        duck_rate = duck["events"] / duck["seconds"]
        print(f"ddbtrail: {ours['events']} events in {ours['seconds']:.2f} s = {ours_rate:,.0f} events/s, "
              f"peak RSS {ours['peak_rss_mb']} MB (with decode workers: {ours['peak_tree_rss_mb']} MB)")
        print(f"duckdb:   {duck['events']} events in {duck['seconds']:.2f} s = {duck_rate:,.0f} events/s, "
              f"peak RSS {duck['peak_rss_mb']} MB, {duck['threads']} threads")
        print(f"ratio:    {ours_rate / duck_rate:.2f}x DuckDB's events/s (target >= 3x)")
    finally:
        if not args.keep and not args.dir:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
