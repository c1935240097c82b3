"""Local files and folders through the public load()/iter_chunks() entry points."""
from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
from datetime import datetime, timezone

import pytest

from ddbtrail.events import EventTable
from loaders import LoadOptions, LoadReport, NothingLoaded, iter_chunks, load
from loaders.local import INLINE_FILES
from tests.records import record, write_tree

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_trail_tree_loads_and_skips_the_digest(trail_tree):
    root, written = trail_tree
    table, report = load([str(root)])
    assert len(table) == report.events == 7
    assert report.files_read == 2
    [(path, reason)] = report.skipped
    assert "CloudTrail-Digest" in path and reason.startswith("CloudTrail digest file")
    assert report.bytes_read == sum(p.stat().st_size for p in written)
    assert sorted(s.name for s in table.sources) == sorted(str(p) for p in written)
    # every row's raw text is a verbatim slice of its decompressed file
    for row in range(len(table)):
        source = table.sources[int(table.df["_source"].iat[row])]
        assert table.raw([row])[0] in gzip.decompress(open(source.name, "rb").read())


def test_bad_files_are_reported_and_good_ones_still_load(tmp_path):
    write_tree(tmp_path, {"good": [record(eventID="1"), record(eventID="2")]})
    (tmp_path / "corrupt.json.gz").write_bytes(b"\x1f\x8b\x08\x00" + b"\xff" * 40)
    (tmp_path / "empty.json").write_bytes(b"")
    (tmp_path / "package.json").write_text('{"name": "not-a-trail"}')
    (tmp_path / "mixed.jsonl").write_text(json.dumps(record(eventID="3")) + "\n{oops\n")
    table, report = load([str(tmp_path)])
    assert sorted(table.df["event_id"]) == ["1", "2", "3"]
    assert report.files_read == 2
    reasons = {path.rsplit("/", 1)[1]: reason for path, reason in report.skipped}
    assert reasons["corrupt.json.gz"].startswith("corrupt gzip")
    assert reasons["empty.json"] == "empty file"
    assert reasons["package.json"].startswith("not CloudTrail")
    assert reasons["mixed.jsonl"].startswith("line 2: not valid JSON")


def test_nothing_readable_raises_a_clear_error(tmp_path):
    (tmp_path / "a.json.gz").write_bytes(b"\x1f\x8b")
    with pytest.raises(NothingLoaded) as caught:
        load([str(tmp_path)])
    assert "a.json.gz: truncated gzip" in str(caught.value)
    assert caught.value.report.skipped


def test_missing_path_raises_a_clear_error(tmp_path):
    with pytest.raises(NothingLoaded, match="no such file or folder"):
        load([str(tmp_path / "nope")])


def test_time_window_filters_events_and_an_empty_result_is_not_an_error(tmp_path):
    write_tree(tmp_path, {"f": [record(eventID=str(h), eventTime=f"2026-11-20T{h:02d}:00:00Z")
                                for h in range(10)]})
    opts = LoadOptions(start=datetime(2026, 11, 20, 3, tzinfo=timezone.utc), end=datetime(2026, 11, 20, 5))
    table, _ = load([str(tmp_path)], opts)
    assert list(table.df["event_id"]) == ["3", "4", "5"]
    table, report = load([str(tmp_path)], LoadOptions(start=datetime(2030, 1, 1)))
    assert len(table) == 0 and report.files_read == 1


def test_all_sources_keeps_other_services(tmp_path):
    write_tree(tmp_path, {"f": [record(), record(eventID="s3", eventSource="s3.amazonaws.com")]})
    assert len(load([str(tmp_path)])[0]) == 1
    assert len(load([str(tmp_path)], LoadOptions(all_sources=True))[0]) == 2


def many_files(tmp_path, count: int) -> None:
    write_tree(tmp_path, {f"f{i:03d}": [record(eventID=f"{i}-{j}", eventTime=f"2026-11-20T{i % 24:02d}:{j:02d}:00Z")
                                        for j in range(20)] for i in range(count)})


def test_worker_processes_give_the_same_table(tmp_path):
    many_files(tmp_path, INLINE_FILES + 8)
    pooled, report = load([str(tmp_path)], LoadOptions(workers=2))
    inline, _ = load([str(tmp_path)], LoadOptions(workers=1))
    assert report.files_read == INLINE_FILES + 8 and len(pooled) == 20 * (INLINE_FILES + 8)
    assert pooled.df.drop(columns="_source").equals(inline.df.drop(columns="_source"))
    assert pooled.raw(range(0, len(pooled), 37)) == inline.raw(range(0, len(inline), 37))


def test_progress_reports_files_bytes_events_and_eta(tmp_path):
    many_files(tmp_path, 5)
    seen = []
    load([str(tmp_path)], progress=seen.append)
    done = [p["files_done"] for p in seen]
    assert done == sorted(done) and done[-1] == 5
    assert {p["files_total"] for p in seen} == {5}
    assert seen[-1]["events"] == 100 and seen[-1]["eta_s"] == 0
    assert set(seen[0]) >= {"stage", "files_done", "files_total", "bytes", "events", "eta_s"}


def test_cancel_stops_between_batches(tmp_path):
    many_files(tmp_path, INLINE_FILES + 100)
    cancel, report = threading.Event(), LoadReport()
    chunks = []
    for chunk in iter_chunks([str(tmp_path)], LoadOptions(workers=1), cancel=cancel, report=report):
        chunks.append(chunk)
        cancel.set()
    assert len(chunks) == 1 and report.cancelled and report.files_read == INLINE_FILES


def test_small_files_are_decoded_in_batches_that_keep_each_source(tmp_path):
    """CloudTrail delivers a file per 5 minutes and region: thousands of small files must
    not cost a chunk each, yet every record still reads back from its own file."""
    many_files(tmp_path, INLINE_FILES + 40)
    chunks = list(iter_chunks([str(tmp_path)], LoadOptions(workers=2)))
    assert len(chunks) < 5
    table = EventTable.from_chunks(chunks)
    assert len(table) == 20 * (INLINE_FILES + 40)
    assert len({s.name for s in table.sources}) == INLINE_FILES + 40
    for row in range(0, len(table), 53):
        source = table.sources[table.df["_source"].iat[row]]
        raw = json.loads(table.raw([row])[0])
        assert raw["eventID"] == table.df["event_id"].iat[row]
        assert raw["eventID"].split("-")[0] == str(int(os.path.basename(source.name)[1:4]))


def test_a_script_without_main_guard_still_loads_everything(tmp_path):
    """Worker processes re-import such a script and fail to start; the files they were
    given are then decoded in the main process instead of being lost."""
    many_files(tmp_path / "logs", INLINE_FILES + 20)
    script = tmp_path / "noguard.py"
    script.write_text("from loaders import load, LoadOptions\n"
                      f"table, report = load([{str(tmp_path / 'logs')!r}], LoadOptions(workers=2))\n"
                      "print('LOADED', len(table), report.files_read)\n")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                         cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT})
    assert f"LOADED {20 * (INLINE_FILES + 20)} {INLINE_FILES + 20}" in out.stdout.splitlines()
