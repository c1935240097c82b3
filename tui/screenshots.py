"""Regenerate the README screenshots from the demo incident: `python -m tui.screenshots`.

The console is driven headless with the same keys a responder types (`/` query, Enter,
`l`, `e`), and each state is saved as an SVG by Textual itself, so the pictures cannot
drift from what the app really shows.  `--out DIR` writes elsewhere (the test uses it).
"""
from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from loaders import LoadOptions, load
from loaders.demo import INCIDENT, demo_dir, write_demo
from tui.app import DdbTrailApp
from tui.timeline import TimelinePane

SIZE = (120, 40)
#: What a responder narrows down to: everything from the address never seen before.
INCIDENT_QUERY = f"ip:{INCIDENT['attacker_ip']}"
NIGHT_QUERY = "after:2026-11-19T06:30 before:2026-11-19T08:30"


async def take(out: Path) -> list[Path]:
    """Drive the console through the main states; return the SVG paths written."""
    out.mkdir(parents=True, exist_ok=True)
    root = write_demo(demo_dir())
    table, _ = load([str(root)], LoadOptions())
    app = DdbTrailApp([str(root)], LoadOptions(), table=table)
    written = []

    def save(name: str) -> None:
        written.append(out / f"{name}.svg")
        app.save_screenshot(f"{name}.svg", str(out))

    async def query(pilot, text: str) -> None:
        await pilot.press("slash", "ctrl+a", "ctrl+k", *text, "enter")
        await pilot.pause()

    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        save("overview")
        await query(pilot, INCIDENT_QUERY)
        save("filtered-incident")
        await query(pilot, f"{INCIDENT_QUERY} op:Scan table:{INCIDENT['phi_table']}")
        await pilot.press("enter")           # the event table has focus after a query
        await pilot.pause()
        save("drilldown")
        await pilot.press("escape", "e")
        await pilot.pause()
        save("export-dialog")
        await pilot.press("escape")
        await query(pilot, NIGHT_QUERY)
        app.query_one(TimelinePane).focus()
        await pilot.press("l")
        save("timeline-lanes")
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "screenshots",
                        help="folder for the SVGs (default: the repository's screenshots/)")
    for path in asyncio.run(take(parser.parse_args().out)):
        print(path)


if __name__ == "__main__":
    main()
