"""The browser fallback: `ddbtrail serve demo` behind textual-serve, driven over its websocket.

A real server process on 127.0.0.1 and the same websocket protocol a browser speaks: the
console must start under the web driver (no tty), draw the demo, and take a typed query.
"""
from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request

import aiohttp

from ddbtrail.query import parse
from tests.ui.tmux import private_demo, repo_root

QUERY = "ip:198.51.100.23"
ANSI = re.compile(rb"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[()][0-9A-Za-z]")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


async def drive(port: int, steps: list[tuple[str, str]]) -> str:
    """Connect like a browser tab; for each (text, keys) step wait until `text` is drawn,
    then type `keys`.  Returns the screen text drawn since the last keys were typed."""
    seen = b""
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(f"http://127.0.0.1:{port}/ws?width=120&height=40") as ws:
            await ws.send_json(["resize", {"width": 120, "height": 40}])
            for text, keys in steps:
                deadline = time.monotonic() + 120
                while text.encode() not in ANSI.sub(b"", seen):
                    remaining = deadline - time.monotonic()
                    assert remaining > 0, f"never saw {text!r}; screen text: {ANSI.sub(b'', seen)[-2000:]!r}"
                    message = await ws.receive(timeout=remaining)
                    if message.type == aiohttp.WSMsgType.BINARY:
                        seen += message.data
                    elif message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                        raise AssertionError(f"the console closed early: {ANSI.sub(b'', seen)[-2000:]!r}")
                if keys:
                    seen = b""
                    await ws.send_json(["stdin", keys])
    return ANSI.sub(b"", seen).decode("utf-8", "replace")


def test_served_console_draws_the_demo_and_takes_a_query(tmp_path):
    env, table = private_demo(tmp_path / "cache")
    total, matched = len(table), int(parse(QUERY).mask(table).sum())
    port = free_port()
    log = open(tmp_path / "serve.log", "wb")  # a file, not a pipe nobody drains
    server = subprocess.Popen(
        [os.path.join(repo_root(), ".venv", "bin", "ddbtrail"), "serve", "--port", str(port), "demo"],
        cwd=repo_root(), env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)
    try:
        page = wait_http(f"http://127.0.0.1:{port}/")
        assert "ddbtrail" in page and "/ws" in page
        screen = asyncio.run(drive(port, [
            (f"{total:,} of {total:,} events", "/"),          # the demo is drawn: focus the query
            ("Back to table", QUERY + "\r"),                  # the query line has focus: type
            (f"{matched:,} of {total:,} events", ""),          # the served console applied it
        ]))
        assert QUERY in screen
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def test_serve_without_a_console_command_says_what_to_serve():
    out = subprocess.run([sys.executable, "-m", "cli.main", "serve"], capture_output=True, text=True,
                         cwd=repo_root(), timeout=60)
    assert out.returncode == 2 and "ddbtrail serve demo" in out.stderr
