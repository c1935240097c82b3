"""End to end in a real terminal: `ddbtrail demo` in tmux, a typed query, the screen read back.

Pilot drives the app in-process; this drives the installed console script through a pty,
so terminal setup, key decoding and drawing are the ones a responder gets.  The expected
count is computed with the core on the same demo data, never written down by hand.
"""
from __future__ import annotations

import pytest

from ddbtrail.query import parse
from tests.ui.tmux import TmuxSession, private_demo, repo_root

pytestmark = pytest.mark.tmux

QUERY = "ip:198.51.100.23 op:Scan"


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[dict[str, str], int, int]:
    """(environment for the console, events the query matches, all events), per the core."""
    env, table = private_demo(tmp_path_factory.mktemp("cache"))
    matched = int(parse(QUERY).mask(table).sum())
    assert matched > 0, "the demo incident should contain the scan this test looks for"
    return env, matched, len(table)


@pytest.mark.parametrize("width,height", [(120, 40), (80, 24)])
def test_typed_query_shows_its_count_and_rows(demo, width, height):
    env, matched, total = demo
    with TmuxSession(".venv/bin/ddbtrail demo", width=width, height=height, cwd=repo_root(),
                     env=env) as term:
        term.wait_for(f"{total:,} of {total:,} events", timeout=300, what="the demo to load")
        term.send("/")
        term.wait_for("Back to table", what="the query line to take focus")
        term.type(QUERY)
        term.send("Enter")
        screen = term.wait_for(f"{matched:,} of {total:,} events", what="the query's count")
        assert QUERY in screen, "the query line shows the whole query"
        rows = [line for line in screen.splitlines() if "Scan" in line and QUERY not in line]
        assert rows, f"no Scan rows in the event table:\n{screen}"
        term.send("q")
        term.wait_for("[exited with status 0]", what="the console to quit cleanly")
