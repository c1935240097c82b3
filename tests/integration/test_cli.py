"""The real `ddbtrail` command in a subprocess on local trees: exit statuses, messages, exports."""
from __future__ import annotations

import csv
import gzip
import hashlib
import json
import os
import pty
import shutil
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import pyarrow.parquet as pq
import pytest

from ddbtrail.query import QueryError, parse
from tests.records import assumed_role, record, table_arn
from tests.servers.lookup_server import LookupServer, make_events
from tests.servers.moto_server import FAKE_CREDENTIALS

ACCOUNT = "111122223333"
APP = f"arn:aws-us-gov:iam::{ACCOUNT}:role/App"
HOSTILE_AGENT = "=cmd|' /C calc'!A0 [bold red]pwned[/] \x1b]52;c;ZXZpbA==\x07 \x1b[2J"


def event(i: int, op: str = "GetItem", table: str = "Orders", role: str = "App",
          agent: str = "aws-sdk-java/2.20", **fields) -> dict:
    """A GovCloud DynamoDB call number i (i seconds after 10:00), from tests.records."""
    return record(
        eventID=f"00000000-0000-0000-0000-{i:012d}", requestID=f"REQ{i:05d}",
        eventTime=f"2026-11-20T10:{i // 60:02d}:{i % 60:02d}Z", eventName=op,
        userIdentity=assumed_role(role, "worker", ACCOUNT, partition="aws-us-gov"),
        awsRegion="us-gov-west-1", sourceIPAddress="10.0.0.5", userAgent=agent,
        readOnly=op in ("GetItem", "Query", "Scan"),
        requestParameters={"tableName": table, "key": {"id": {"S": str(i)}}},
        resources=[{"accountId": ACCOUNT, "type": "AWS::DynamoDB::Table",
                    "ARN": table_arn(table, ACCOUNT, "us-gov-west-1", "aws-us-gov")}],
        **fields)


def texts(records: list[dict]) -> list[bytes]:
    return [json.dumps(r, separators=(",", ":")).encode() for r in records]


def cloudtrail_file(record_texts: list[bytes]) -> bytes:
    return b'{"Records":[' + b",".join(record_texts) + b"]}"


DENIED = {"errorCode": "AccessDeniedException", "errorMessage": "User is not authorized"}
GOOD_A = texts([event(i) for i in range(5)]
               + [event(5, "Scan", "Patients", "Scanner", agent=HOSTILE_AGENT),
                  event(6, "Scan", "Cases", "Scanner", **DENIED)])
# Hand-written: odd spacing, unicode escapes and raw UTF-8 inside a record.
GOOD_B = [
    json.dumps(event(7, "PutItem"), separators=(", ", " : "), ensure_ascii=True).encode().replace(
        b'"aws-sdk-java/2.20"', b'"caf\\u00e9 \\ud83d\\ude00 \\"agent\\""'),
    json.dumps(event(8, "DeleteItem", "Orders"), ensure_ascii=False).encode().replace(
        b"aws-sdk-java/2.20", "שלום\u200b".encode()),
]


@pytest.fixture
def mixed_tree(tmp_path) -> Path:
    """Two good files (one gzip named .json, one plain) beside corrupt and foreign ones."""
    root = tmp_path / "logs"
    (root / "sub").mkdir(parents=True)
    (root / "a.json").write_bytes(gzip.compress(cloudtrail_file(GOOD_A)))  # gzip found by magic
    (root / "sub" / "b.json").write_bytes(b'{"Records":[\n  ' + b",\n  ".join(GOOD_B) + b"\n]}\n")
    (root / "sub" / "broken.json.gz").write_bytes(gzip.compress(cloudtrail_file(GOOD_A))[:40])
    (root / "other.json").write_bytes(b'{"hello": "world"}')
    return root


@pytest.fixture
def bad_tree(tmp_path) -> Path:
    root = tmp_path / "bad"
    root.mkdir()
    (root / "broken.json.gz").write_bytes(b"\x1f\x8b\x08\x00 not really gzip")
    (root / "empty.json").write_bytes(b"")
    (root / "other.json").write_bytes(b'{"hello": "world"}')
    return root


def ddbtrail(*args, env=None) -> subprocess.CompletedProcess:
    """Run the installed console script, as a user would."""
    script = shutil.which("ddbtrail", path=os.path.dirname(sys.executable))
    assert script, "the ddbtrail console script is not installed in this environment"
    return subprocess.run([script, *map(str, args)], capture_output=True, env=env, timeout=120)


def test_summary_json_loads_good_files_and_reports_skipped(mixed_tree):
    run = ddbtrail("summary", mixed_tree, "--json")
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["events"] == 9
    assert result["time_range"] == ["2026-11-20T10:00:00Z", "2026-11-20T10:00:08Z"]
    assert result["by_operation"] == {"GetItem": 5, "Scan": 2, "DeleteItem": 1, "PutItem": 1}
    assert result["by_principal"] == {APP: 7, f"arn:aws-us-gov:iam::{ACCOUNT}:role/Scanner": 2}
    assert result["by_table"] == {"Orders": 7, "Cases": 1, "Patients": 1}
    assert result["by_error"] == {"AccessDeniedException": 1}
    assert result["files"]["read"] == 2
    skipped = {Path(s["path"]).name: s["reason"] for s in result["files"]["skipped"]}
    assert set(skipped) == {"broken.json.gz", "other.json"}
    assert all(reason for reason in skipped.values())


def test_summary_human_reports_skipped_and_prints_hostile_strings_literally(mixed_tree):
    run = ddbtrail("summary", mixed_tree, "--where", "principal:*Scanner*")
    assert run.returncode == 0, run.stderr
    out, err = run.stdout.decode(), run.stderr.decode()
    assert "broken.json.gz" in err and "other.json" in err and "skipped" in err
    assert "2 events" in out
    assert "Scanner" in out and "AccessDeniedException" in out
    assert not any(ch in out for ch in "\x1b\x07\r"), "a record string reached the terminal as control"


def test_summary_human_shows_hostile_record_strings_literally(tmp_path):
    hostile = texts([event(0, table="[bold red]Orders[/]", role="[link=http://x]r[/link]\x1b[2J\x07")])
    (tmp_path / "h.json").write_bytes(cloudtrail_file(hostile))
    run = ddbtrail("summary", tmp_path / "h.json")
    assert run.returncode == 0, run.stderr
    out = run.stdout.decode()
    assert "[bold red]Orders[/]" in out
    assert "[link=http://x]r[/link]\u241b[2J\u2407" in out  # ESC and BEL shown as ␛ and ␇
    assert "\x1b" not in out and "\x07" not in out
    as_json = ddbtrail("summary", tmp_path / "h.json", "--json")
    assert as_json.returncode == 0 and not any(byte < 0x20 or byte >= 0x7f for byte in as_json.stdout.rstrip(b"\n"))
    principal = f"arn:aws-us-gov:iam::{ACCOUNT}:role/[link=http://x]r[/link]\x1b[2J\x07"
    assert json.loads(as_json.stdout)["by_principal"] == {principal: 1}  # the data itself is kept exact


def test_nothing_readable_exits_2_with_a_message(bad_tree):
    run = ddbtrail("summary", bad_tree, "--json")
    assert run.returncode == 2
    assert run.stdout == b""
    err = run.stderr.decode()
    assert "nothing could be loaded" in err
    assert "Traceback" not in err


def test_missing_path_exits_2(tmp_path):
    run = ddbtrail("summary", tmp_path / "no-such-dir")
    assert run.returncode == 2
    assert "no-such-dir" in run.stderr.decode() and "Traceback" not in run.stderr.decode()


def test_where_syntax_error_exits_2_with_a_caret(mixed_tree):
    query = "table:Orders op:"
    with pytest.raises(QueryError) as expected:
        parse(query)
    assert expected.value.position >= query.index("op:")
    run = ddbtrail("summary", mixed_tree, "--where", query)
    assert run.returncode == 2
    err = run.stderr.decode().splitlines()
    shown = next(i for i, line in enumerate(err) if line.strip() == query)
    caret = err[shown + 1]
    assert caret.strip() == "^"
    assert caret.index("^") - err[shown].index(query) == expected.value.position


def test_bad_time_exits_2(mixed_tree):
    run = ddbtrail("summary", mixed_tree, "--start", "yesterday")
    assert run.returncode == 2
    assert "-24h" in run.stderr.decode()


def _run_export(tree, fmt, out, *extra):
    run = ddbtrail("export", tree, "--format", fmt, "-o", out, *extra)
    assert run.returncode == 0, run.stderr
    manifest = json.loads(Path(f"{out}.manifest.json").read_text(encoding="utf-8"))
    assert manifest["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert manifest["format"] == fmt
    return manifest


def test_export_jsonl_is_byte_exact_with_the_sources(mixed_tree, tmp_path):
    out = tmp_path / "out.jsonl"
    manifest = _run_export(mixed_tree, "jsonl", out)
    assert out.read_bytes() == b"".join(t + b"\n" for t in GOOD_A + GOOD_B)
    assert manifest["records"] == 9
    sources = {Path(s["name"]).name: s for s in manifest["sources"]}
    assert set(sources) == {"a.json", "b.json"}
    for path in (mixed_tree / "a.json", mixed_tree / "sub" / "b.json"):
        assert sources[path.name]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert sources[path.name]["size"] == path.stat().st_size


def test_export_where_selects_and_records_the_query(mixed_tree, tmp_path):
    out = tmp_path / "scans.jsonl"
    manifest = _run_export(mixed_tree, "jsonl", out, "--where", "op:Scan")
    assert out.read_bytes() == GOOD_A[5] + b"\n" + GOOD_A[6] + b"\n"
    assert manifest["query"] == "op:Scan" and manifest["records"] == 2
    assert [Path(s["name"]).name for s in manifest["sources"]] == ["a.json"]


def test_export_cloudtrail_reparses_to_the_records(mixed_tree, tmp_path):
    out = tmp_path / "out.json"
    _run_export(mixed_tree, "cloudtrail", out)
    assert json.loads(out.read_bytes())["Records"] == [json.loads(t) for t in GOOD_A + GOOD_B]
    # ...and ddbtrail reads its own export back.
    again = ddbtrail("summary", out, "--json")
    assert again.returncode == 0 and json.loads(again.stdout)["events"] == 9


def test_export_csv_is_safe_for_spreadsheets(mixed_tree, tmp_path):
    out = tmp_path / "out.csv"
    _run_export(mixed_tree, "csv", out)
    with open(out, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 9
    scan = next(r for r in rows if r["tables"] == "Patients")
    assert scan["user_agent"].startswith("'") and "pwned" in scan["user_agent"]
    assert [r["event_id"] for r in rows] == [json.loads(t)["eventID"] for t in GOOD_A + GOOD_B]


def test_export_parquet_has_the_event_table(mixed_tree, tmp_path):
    out = tmp_path / "out.parquet"
    _run_export(mixed_tree, "parquet", out)
    df = pq.read_table(out).to_pandas()
    assert len(df) == 9
    assert list(df["operation"]) == [json.loads(t)["eventName"] for t in GOOD_A + GOOD_B]
    assert str(df["time"].dt.tz) == "UTC"
    assert df["time"].iloc[0].isoformat() == "2026-11-20T10:00:00+00:00"


def test_module_entry_point_matches_console_script(mixed_tree):
    run = subprocess.run([sys.executable, "-m", "cli.main", "summary", str(mixed_tree), "--json"],
                         capture_output=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == json.loads(ddbtrail("summary", mixed_tree, "--json").stdout)


@pytest.fixture
def lookup_env():
    """(environment, summary arguments) for 60 events served by a local LookupEvents server."""
    newest = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=5)
    env = {**os.environ, **FAKE_CREDENTIALS, "AWS_CONFIG_FILE": "/dev/null",
           "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
    env.pop("AWS_PROFILE", None)
    with LookupServer() as server:
        server.add_events("us-gov-west-1", make_events("us-gov-west-1", 60, newest))
        yield env, ["summary", "lookup", "--region", "us-gov-west-1", "--endpoint-url", server.url, "--start", "-3h"]


def test_lookup_source_says_it_holds_management_events_only(lookup_env):
    """`lookup` against a local LookupEvents server: events arrive, and the limit is stated."""
    env, args = lookup_env
    as_json = ddbtrail(*args, "--json", env=env)
    human = ddbtrail(*args, env=env)
    assert as_json.returncode == 0, as_json.stderr
    result = json.loads(as_json.stdout)
    assert result["events"] == 60
    assert any("management events only" in note for note in result["notes"])
    assert human.returncode == 0, human.stderr
    assert "management events only" in human.stderr.decode()
    assert "60 events" in human.stdout.decode()


def test_summary_help_states_the_lookup_limit():
    run = ddbtrail("summary", "--help")
    assert run.returncode == 0
    assert "management events only" in " ".join(run.stdout.decode().split())


def test_values_starting_with_a_dash_are_values(mixed_tree):
    """`--where -error:*` and `--start -24h` as the docs write them, without `=`."""
    successes = ddbtrail("summary", mixed_tree, "--where", "-error:*", "--json")
    assert successes.returncode == 0, successes.stderr
    assert json.loads(successes.stdout)["events"] == 8
    recent = ddbtrail("summary", mixed_tree, "--start", "-24h", "--json")  # the tree is from 2026-11-20
    assert recent.returncode == 0, recent.stderr
    assert json.loads(recent.stdout)["events"] == 0


def test_start_and_end_bound_the_events(mixed_tree):
    run = ddbtrail("summary", mixed_tree, "--start", "2026-11-20T10:00:05", "--end", "2026-11-20T10:00:07Z", "--json")
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["events"] == 3
    assert result["time_range"] == ["2026-11-20T10:00:05Z", "2026-11-20T10:00:07Z"]


@pytest.fixture
def mgmt_only_trail(moto_endpoint):
    """A logging trail in us-gov-west-1 that records management events only."""
    name = f"mgmt-{uuid.uuid4().hex[:8]}"
    cloudtrail = boto3.client("cloudtrail", region_name="us-gov-west-1", endpoint_url=moto_endpoint)
    s3 = boto3.client("s3", region_name="us-gov-west-1", endpoint_url=moto_endpoint)
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "us-gov-west-1"})
    cloudtrail.create_trail(Name=name, S3BucketName=name)
    cloudtrail.start_logging(Name=name)
    cloudtrail.put_event_selectors(TrailName=name, EventSelectors=[
        {"ReadWriteType": "All", "IncludeManagementEvents": True}])
    return name


def test_coverage_names_unrecorded_tables_and_prints_the_fix(moto_endpoint, mgmt_only_trail, mixed_tree):
    common = ["--region", "us-gov-west-1", "--endpoint-url", moto_endpoint, "--trail", mgmt_only_trail]
    run = ddbtrail("coverage", *common, "--table", "Ledger", "--json")
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert [t["name"] for t in result["trails"]] == [mgmt_only_trail]
    assert [(u["table"], u["read"], u["write"]) for u in result["uncovered"]] == [("Ledger", True, True)]
    # Tables seen in loaded logs are checked too; the human text shows the command, not run.
    human = ddbtrail("coverage", mixed_tree, *common)
    assert human.returncode == 0, human.stderr
    out = human.stdout.decode()
    assert all(name in out for name in ("Orders", "Patients", "Cases"))
    assert "aws cloudtrail put-event-selectors" in out and "not run" in out


def test_export_never_replaces_evidence_without_force(mixed_tree, tmp_path):
    out = tmp_path / "evidence.jsonl"
    out.write_bytes(b"earlier evidence\n")
    refused = ddbtrail("export", mixed_tree, "--format", "jsonl", "-o", out)
    assert refused.returncode == 2 and b"--force" in refused.stderr
    assert out.read_bytes() == b"earlier evidence\n"
    forced = ddbtrail("export", mixed_tree, "--format", "jsonl", "-o", out, "--force")
    assert forced.returncode == 0, forced.stderr
    assert out.read_bytes() == b"".join(t + b"\n" for t in GOOD_A + GOOD_B)


def test_export_into_a_missing_folder_is_a_clear_error(mixed_tree, tmp_path):
    run = ddbtrail("export", mixed_tree, "--format", "csv", "-o", tmp_path / "nope" / "out.csv")
    assert run.returncode == 2
    err = run.stderr.decode()
    assert "cannot write" in err and "Traceback" not in err


def test_export_from_s3_names_each_object_and_its_hash(moto_endpoint, tmp_path):
    """Evidence from a bucket: verbatim records, and the manifest names the s3:// objects
    with the SHA-256 of their bytes as stored (the .json.gz)."""
    bucket = f"evidence-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client("s3", region_name="us-gov-west-1", endpoint_url=moto_endpoint)
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "us-gov-west-1"})
    prefix = f"AWSLogs/{ACCOUNT}/CloudTrail/us-gov-west-1/2026/11/20"
    objects = {f"{prefix}/{ACCOUNT}_CloudTrail_us-gov-west-1_20261120T1000Z_a.json.gz": GOOD_A,
               f"{prefix}/{ACCOUNT}_CloudTrail_us-gov-west-1_20261120T1005Z_b.json.gz": GOOD_B}
    stored = {key: gzip.compress(cloudtrail_file(texts)) for key, texts in objects.items()}
    for key, body in stored.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    out = tmp_path / "s3.jsonl"
    run = ddbtrail("export", f"s3://{bucket}", "--endpoint-url", moto_endpoint, "--region", "us-gov-west-1",
                   "--cache-dir", tmp_path / "cache", "--format", "jsonl", "-o", out)
    assert run.returncode == 0, run.stderr
    assert out.read_bytes() == b"".join(t + b"\n" for t in GOOD_A + GOOD_B)
    manifest = json.loads(Path(f"{out}.manifest.json").read_text(encoding="utf-8"))
    assert {s["name"]: (s["kind"], s["sha256"], s["size"]) for s in manifest["sources"]} == {
        f"s3://{bucket}/{key}": ("s3", hashlib.sha256(body).hexdigest(), len(body)) for key, body in stored.items()}


def test_end_as_a_bare_date_keeps_that_day(mixed_tree):
    run = ddbtrail("summary", mixed_tree, "--start", "2026-11-20", "--end", "2026-11-20", "--json")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["events"] == 9


def test_open_without_a_terminal_says_to_use_summary(mixed_tree):
    run = ddbtrail("open", mixed_tree)
    assert run.returncode == 2
    assert "needs a terminal" in run.stderr.decode() and "summary" in run.stderr.decode()


def test_demo_without_a_terminal_prints_the_incident_summary(tmp_path):
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    run = ddbtrail("demo", env=env)
    assert run.returncode == 0, run.stderr
    out = run.stdout.decode()
    assert out.split()[1] == "events" and int(out.split()[0].replace(",", "")) > 40_000
    assert "arn:aws-us-gov:" in out and "AccessDenied" in out
    assert (tmp_path / "cache" / "ddbtrail" / "demo" / "AWSLogs").is_dir()


def test_demo_refuses_to_overwrite_a_folder_that_is_not_its_own(tmp_path):
    foreign = tmp_path / "cache" / "ddbtrail" / "demo"
    foreign.mkdir(parents=True)
    (foreign / "notes.txt").write_text("mine")
    run = ddbtrail("demo", env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert run.returncode == 2
    assert "not a ddbtrail demo tree" in run.stderr.decode()
    assert (foreign / "notes.txt").read_text() == "mine"


def test_hostile_file_names_are_reported_literally(tmp_path):
    root = tmp_path / "names"
    root.mkdir()
    (root / "evil\x1b]52;c;ZXZpbA==\x07.json").write_bytes(b"not json")
    run = ddbtrail("summary", root)
    assert run.returncode == 2
    err = run.stderr.decode()
    assert "evil\u241b]52;c;ZXZpbA==\u2407.json" in err
    assert "\x1b" not in err and "\x07" not in err


def with_terminal_stderr(*args, env=None) -> tuple[int, bytes, bytes]:
    """Run ddbtrail with stderr on a pty (as a responder's terminal): (status, stdout, terminal)."""
    main_fd, terminal_fd = pty.openpty()
    script = shutil.which("ddbtrail", path=os.path.dirname(sys.executable))
    with subprocess.Popen([script, *map(str, args)], stdout=subprocess.PIPE, stderr=terminal_fd,
                          env=env) as proc:
        os.close(terminal_fd)
        out, _ = proc.communicate(timeout=120)
        seen = b""
        while True:
            try:
                block = os.read(main_fd, 4096)
            except OSError:  # the terminal closed with the process
                break
            if not block:
                break
            seen += block
    os.close(main_fd)
    return proc.returncode, out, seen


def test_progress_goes_to_stderr_when_it_is_a_terminal(mixed_tree):
    """Progress is drawn on a terminal's stderr; stdout (here a pipe) stays clean JSON."""
    status, out, seen = with_terminal_stderr("summary", mixed_tree, "--json")
    assert status == 0
    assert json.loads(out)["events"] == 9
    assert b"local: 4/4 files" in seen and b"events" in seen


def test_lookup_progress_on_a_terminal_has_no_file_total(lookup_env):
    """LookupEvents cannot know how many pages remain: progress counts pages without a total."""
    env, args = lookup_env
    status, out, seen = with_terminal_stderr(*args, "--json", env=env)
    assert status == 0, seen
    assert json.loads(out)["events"] == 60
    assert b"lookup: " in seen and b"/?" not in seen
