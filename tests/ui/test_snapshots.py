"""SVG snapshots of the main console states on the demo incident.

Regenerate after an intended change: `.venv/bin/pytest tests/ui/test_snapshots.py --snapshot-update`.
"""
from __future__ import annotations

import pytest

from loaders import LoadOptions, load
from loaders.demo import INCIDENT, demo_dir
from tui.app import DdbTrailApp

FILTERED = f"principal:{INCIDENT['attacker_role_arn']} ip:{INCIDENT['attacker_ip']}"


async def settle(pilot):
    """Let the footer pick up the focused pane's bindings before the shot is taken."""
    await pilot.pause(0.2)


@pytest.fixture(scope="module")
def demo_table():
    table, _ = load([str(demo_dir())], LoadOptions())
    return table


def test_overview(snap_compare, demo_table):
    assert snap_compare(DdbTrailApp(["demo"], table=demo_table), terminal_size=(160, 48),
                        run_before=settle)


def test_filtered_incident(snap_compare, demo_table):
    async def filter_to_attacker(pilot):
        pilot.app._set_query(FILTERED)
        await settle(pilot)

    assert snap_compare(DdbTrailApp(["demo"], table=demo_table), terminal_size=(160, 48),
                        run_before=filter_to_attacker)


def test_80x24(snap_compare, demo_table):
    assert snap_compare(DdbTrailApp(["demo"], table=demo_table), terminal_size=(80, 24),
                        run_before=settle)
