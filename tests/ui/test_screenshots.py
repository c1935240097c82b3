"""`python -m tui.screenshots` regenerates every README screenshot, each showing its state."""
from __future__ import annotations

import html
import os
import re
import subprocess
import sys

from loaders.demo import INCIDENT
from tests.ui.tmux import repo_root


def test_command_writes_the_main_states_as_svg(tmp_path):
    out = tmp_path / "shots"
    run = subprocess.run([sys.executable, "-m", "tui.screenshots", "--out", str(out)],
                         cwd=repo_root(), capture_output=True, text=True, timeout=600,
                         env=dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache")))
    assert run.returncode == 0, run.stderr
    expected = {
        "overview": r"([\d,]+) of \1 events",                       # everything loaded, unfiltered
        "filtered-incident": re.escape(INCIDENT["attacker_ip"]),
        "drilldown": "Related calls",
        "export-dialog": r"Export [\d,]+ events",
        "timeline-lanes": r"svc-analytics-etl(.|\n)*lanes  (.|\n)*buckets",
    }
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{n}.svg" for n in expected)
    for name, pattern in expected.items():
        svg = (out / f"{name}.svg").read_text()
        assert svg.lstrip().startswith("<svg"), name
        shown = "\n".join(html.unescape(t).replace("\xa0", " ") for t in re.findall(r">([^<>]+)</text>", svg))
        assert re.search(pattern, shown), f"{name}.svg does not show {pattern!r}"
        assert str(out / f"{name}.svg") in run.stdout
