"""The coverage screen asks moto's CloudTrail (127.0.0.1) in a worker and shows the core's
report text; a refused check is reported on screen, never a crash."""
from __future__ import annotations

import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from textual.app import App
from textual.widgets import Static

from ddbtrail.coverage import analyse, render_text
from loaders import LoadOptions
from loaders.coverage import fetch_coverage
from tests.servers.moto_server import FAKE_CREDENTIALS, MotoServer
from tui.app import DdbTrailApp
from tui.coverage_screen import CoverageScreen

REGION = "us-gov-west-1"


@pytest.fixture(scope="module")
def moto_endpoint():
    with pytest.MonkeyPatch.context() as env:
        for name, value in FAKE_CREDENTIALS.items():
            env.setenv(name, value)
        env.setenv("AWS_CONFIG_FILE", "/dev/null")
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        server = MotoServer().start()
        try:
            yield server.url
        finally:
            server.stop()


class Host(App):
    def __init__(self, opts: LoadOptions, tables: list[str]) -> None:
        super().__init__()
        self.screen_args = (opts, tables)

    def on_mount(self) -> None:
        self.push_screen(CoverageScreen(*self.screen_args))


async def report_shown(opts: LoadOptions, tables: list[str]) -> str:
    app = Host(opts, tables)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await app.screen.workers.wait_for_complete()
        await pilot.pause()
        shown = str(app.screen.query_one("#report", Static).render())
        await pilot.press("escape")
        assert not isinstance(app.screen, CoverageScreen)
    return shown


async def test_shows_the_core_report_for_the_loaded_tables(moto_endpoint):
    run = uuid.uuid4().hex[:8]
    trail, table = f"reads-{run}", f"PatientRecords-{run}"
    cloudtrail = boto3.client("cloudtrail", region_name=REGION, endpoint_url=moto_endpoint)
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=moto_endpoint)
    s3.create_bucket(Bucket=f"logs-{run}", CreateBucketConfiguration={"LocationConstraint": REGION})
    cloudtrail.create_trail(Name=trail, S3BucketName=f"logs-{run}")
    cloudtrail.start_logging(Name=trail)
    cloudtrail.put_event_selectors(TrailName=trail, EventSelectors=[
        {"ReadWriteType": "ReadOnly", "IncludeManagementEvents": True,
         "DataResources": [{"Type": "AWS::DynamoDB::Table", "Values": ["arn:aws-us-gov:dynamodb"]}]}])
    opts = LoadOptions(regions=[REGION], endpoint_url=moto_endpoint, accounts=["123456789012"])

    shown = await report_shown(opts, [table])
    expected = render_text(analyse(**fetch_coverage(opts, [table])))
    # moto moves a trail's "last delivery" time on every call; everything else must match.
    steady = lambda text: [line for line in text.splitlines() if "last delivery" not in line]
    assert trail in expected and steady(shown) == steady(expected)
    assert any("last delivery" in line for line in shown.splitlines())


class DenyEverything(BaseHTTPRequestHandler):
    """CloudTrail as a responder without cloudtrail:DescribeTrails permission sees it."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = b'{"__type":"AccessDeniedException","message":"not authorized: cloudtrail:DescribeTrails"}'
        self.send_response(400)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


async def test_a_refused_check_is_reported_on_screen(moto_endpoint):
    server = ThreadingHTTPServer(("127.0.0.1", 0), DenyEverything)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        opts = LoadOptions(regions=[REGION], endpoint_url=f"http://127.0.0.1:{server.server_port}",
                           accounts=["123456789012"])
        shown = await report_shown(opts, ["Orders"])
    finally:
        server.shutdown()
    assert shown.startswith("could not check coverage:") and "cloudtrail:DescribeTrails" in shown


async def test_palette_opens_coverage_for_the_loaded_tables(moto_endpoint, incident_table):
    opts = LoadOptions(regions=[REGION], endpoint_url=moto_endpoint, accounts=["123456789012"])
    app = DdbTrailApp([], opts, table=incident_table)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("ctrl+p", *"Logging coverage")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, CoverageScreen)
        assert sorted(screen.tables) == sorted(incident_table.table_names)
        await screen.workers.wait_for_complete()
        await pilot.pause()
        shown = str(screen.query_one("#report", Static).render())
        assert "PatientRecords" in shown
