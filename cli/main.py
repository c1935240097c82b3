"""`ddbtrail` command line: argparse in front of loaders, query, summary, export and console.

Thin on purpose: every answer is computed in the core; this module only turns arguments
into LoadOptions, errors into exit statuses, and results into text.  Exit status: 0 when
something was loaded (skipped files are reported, not fatal), 2 for unusable input
(nothing readable, bad --where, bad time), 130 when interrupted.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shlex
import sys

import numpy as np
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ddbtrail.export import FORMATS
from ddbtrail.text import printable
from ddbtrail.timeparse import parse_time
from loaders import LoadOptions

#: Rows per breakdown in the human summary; --json has them all.
TOP_ROWS = 10
#: Longest record string shown in a human table cell (the rest is counted, not hidden).
CELL_CHARS = 200
#: Skipped files listed one by one per reason on stderr; the rest are counted.
SKIPPED_LISTED = 5

NO_SOURCE = "no SOURCE given (a folder, a file, s3://bucket/prefix, lookup) and no --trail NAME"
SOURCES_HELP = ("local file or folder (.json.gz, .json, .jsonl, `aws cloudtrail lookup-events` "
                "output), s3://bucket[/prefix], or `lookup` (LookupEvents: management events only)")


def _time_arg(text: str, upper: bool = False):
    try:
        return parse_time(text, upper=upper)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _end_arg(text: str):
    """--end is inclusive: a bare date keeps that whole day."""
    return _time_arg(text, upper=True)


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    g = common.add_argument_group("source options")
    g.add_argument("--start", type=_time_arg, metavar="TIME",
                   help="first event time: ISO UTC (2026-11-20T10:00) or relative (-24h, -30m, -7d)")
    g.add_argument("--end", type=_end_arg, metavar="TIME",
                   help="last event time, same forms as --start (a bare date keeps that whole day)")
    g.add_argument("--region", action="append", default=[], metavar="REGION",
                   help="AWS region to read (repeatable; default: all found, or the profile's for lookup)")
    g.add_argument("--account", action="append", default=[], metavar="ID",
                   help="account id to read under AWSLogs/ (repeatable; default: all found)")
    g.add_argument("--profile", help="AWS profile for S3 and CloudTrail")
    g.add_argument("--endpoint-url", metavar="URL", help="S3/CloudTrail endpoint (e.g. a local test server)")
    g.add_argument("--fips", action="store_true", help="use FIPS endpoints")
    g.add_argument("--all-sources", action="store_true",
                   help="keep events of every service (default: dynamodb.amazonaws.com only)")
    g.add_argument("--trail", metavar="NAME", help="read the S3 logs of this trail (bucket, prefix, accounts)")
    g.add_argument("--cache-dir", metavar="DIR", help="S3 object cache (default ~/.cache/ddbtrail)")
    return common


def _selection_options() -> argparse.ArgumentParser:
    """SOURCE... and --where: what summary and export work on."""
    selection = argparse.ArgumentParser(add_help=False)
    selection.add_argument("sources", nargs="*", metavar="SOURCE", help=SOURCES_HELP)
    selection.add_argument("--where", metavar="QUERY", default="",
                           help="only events matching this query, e.g. 'table:Orders error:* after:-2h'")
    return selection


def build_parser() -> argparse.ArgumentParser:
    common = _common_options()
    selection = _selection_options()
    parser = argparse.ArgumentParser(
        prog="ddbtrail",
        description="Investigate DynamoDB activity recorded by AWS CloudTrail. Never writes to AWS.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", parents=[common], help="console on the built-in demo incident",
                          description="Write the demo incident (GovCloud, ~50k events) and open the console on it.")
    demo.set_defaults(run=run_demo)

    open_ = sub.add_parser("open", parents=[common], help="console on these sources",
                           description="Open the investigation console on these sources.")
    open_.add_argument("sources", nargs="*", metavar="SOURCE", help=SOURCES_HELP)
    open_.set_defaults(run=run_open)

    summary = sub.add_parser(
        "summary", parents=[selection, common], help="print what the sources hold",
        description="Print events, time range and counts by operation, principal, table and error. "
                    "Note: `lookup` (LookupEvents) holds management events only; item-level data "
                    "events (GetItem, PutItem, Query, Scan, ...) are only in the trail's S3 logs.")
    summary.add_argument("--json", action="store_true",
                         help="print one JSON object: events, time_range, by_operation, by_principal, "
                              "by_table, by_error, files, ...")
    summary.set_defaults(run=run_summary)

    export = sub.add_parser(
        "export", parents=[selection, common], help="write matching events to a file with a manifest",
        description="Write the matching events to OUT and OUT.manifest.json (query, source SHA-256s, "
                    "SHA-256 of OUT). jsonl/cloudtrail hold each record's exact source bytes.")
    export.add_argument("--format", required=True, choices=FORMATS,
                        help="jsonl: one verbatim record per line; cloudtrail: {\"Records\":[...]} of the same; "
                             "csv: event-table columns, formula cells neutralised; parquet: the event table")
    export.add_argument("-o", "--output", required=True, metavar="OUT", help="file to write")
    export.add_argument("--force", action="store_true", help="replace OUT if it exists (default: refuse)")
    export.set_defaults(run=run_export)

    coverage = sub.add_parser(
        "coverage", parents=[common], help="is DynamoDB data-event logging on, for what",
        description="Read the trails and their event selectors (DescribeTrails, GetTrailStatus, "
                    "GetEventSelectors) and say which tables are recorded for reads and writes. "
                    "Prints the put-event-selectors command that would close the gaps; never runs it.")
    coverage.add_argument("sources", nargs="*", metavar="SOURCE",
                          help="also check every table seen in these sources")
    coverage.add_argument("--table", action="append", default=[], metavar="TABLE",
                          help="table name or ARN to check (repeatable)")
    coverage.add_argument("--json", action="store_true",
                          help="print one JSON object: trails, uncovered, commands")
    coverage.set_defaults(run=run_coverage)

    serve = sub.add_parser(
        "serve", help="the console in a web browser (textual-serve)",
        description="Serve the console to a web browser, for when no terminal will do: "
                    "`ddbtrail serve demo` or `ddbtrail serve open SOURCE... [opts]`. Each browser "
                    "tab runs its own console. Binds 127.0.0.1 by default: the page shows the "
                    "evidence, so reach it through `ssh -L PORT:127.0.0.1:PORT` rather than "
                    "binding a public address.")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("console", nargs=argparse.REMAINDER, metavar="demo|open ...",
                       help="the console command line to serve")
    serve.set_defaults(run=run_serve)
    return parser


class UsageError(Exception):
    """Input we cannot work with: printed as is, exit status 2."""


def _load_options(args) -> LoadOptions:
    return LoadOptions(start=args.start, end=args.end, regions=args.region, accounts=args.account,
                       profile=args.profile, endpoint_url=args.endpoint_url, fips=args.fips,
                       all_sources=args.all_sources, trail=args.trail, cache_dir=args.cache_dir)


def _stderr_progress():
    """A one-line progress display on stderr, only when someone is watching it."""
    if not sys.stderr.isatty():
        return None

    def show(info: dict) -> None:
        eta, total = info.get("eta_s"), info.get("files_total")  # LookupEvents cannot know a total
        files = f"{info.get('files_done', 0):,}" + (f"/{total:,}" if total is not None else "")
        sys.stderr.write(f"\r{info.get('stage', '')}: {files} "
                         f"files, {info.get('events', 0):,} events, {info.get('bytes', 0) / 1e6:,.1f} MB"
                         + (f", about {eta:,.0f}s left" if eta is not None else "") + "\x1b[K")
        sys.stderr.flush()
    return show


def _load(args, opts: LoadOptions | None = None):
    """Load the sources; report skipped files on stderr; UsageError when nothing loaded."""
    from loaders import NothingLoaded, load

    if not args.sources and not args.trail:
        raise UsageError(NO_SOURCE)
    progress = _stderr_progress()
    try:
        table, report = load(args.sources, opts or _load_options(args), progress=progress)
    except NothingLoaded as error:
        raise UsageError(f"nothing could be loaded: {printable(str(error))}") from None
    finally:
        if progress:
            sys.stderr.write("\r\x1b[K")
    if not getattr(args, "json", False):
        _report_load_problems(report)
    return table, report


def _report_load_problems(report) -> None:
    """Skipped files on stderr, at most SKIPPED_LISTED per reason (digest files come by the hundred)."""
    err = sys.stderr
    by_reason: dict[str, list[str]] = {}
    for path, reason in report.skipped:
        by_reason.setdefault(str(reason), []).append(str(path))
    for reason, paths in by_reason.items():
        for path in paths[:SKIPPED_LISTED]:
            print(f"skipped {printable(path)}: {printable(reason)}", file=err)
        if len(paths) > SKIPPED_LISTED:
            print(f"skipped {len(paths) - SKIPPED_LISTED:,} more: {printable(reason)} (--json lists all)", file=err)
    for note in report.notes:
        print(f"note: {printable(note)}", file=err)
    for error in report.errors:
        print(f"error: {printable(error)}", file=err)


def _parse_where(where: str):
    """The parsed --where query (None when empty), checked before any slow loading.

    A syntax error is shown with a caret under the position the parser names.
    """
    if not where:
        return None
    from ddbtrail.query import QueryError, parse

    try:
        return parse(where)
    except QueryError as error:
        caret = " " * len(printable(where[:error.position])) + "^"
        raise UsageError(f"bad --where: {printable(str(error))}\n  {printable(where)}\n  {caret}") from None


def _mask(table, query):
    return np.ones(len(table), dtype=bool) if query is None else np.asarray(query.mask(table), dtype=bool)


# -- subcommands --------------------------------------------------------------------
def run_summary(args) -> int:
    from ddbtrail.summary import summary

    query = _parse_where(args.where)
    table, report = _load(args)
    result = summary(table, _mask(table, query), report)
    if args.json:
        print(json.dumps(result))  # ASCII: no record character can act on a terminal
    else:
        print_summary(result, Console(highlight=False, markup=False, emoji=False))
    return 0


def run_export(args) -> int:
    from ddbtrail.export import export, manifest_path  # pyarrow is only needed here

    if os.path.exists(args.output) and not args.force:  # evidence is never silently replaced
        raise UsageError(f"{printable(args.output)} exists; choose another name or add --force")
    query = _parse_where(args.where)
    table, report = _load(args)
    rows = np.flatnonzero(_mask(table, query))
    progress = None
    if sys.stderr.isatty():
        def progress(done, total):
            sys.stderr.write(f"\rexporting {done:,}/{total:,} events\x1b[K")
    try:
        manifest = export(table, rows, args.format, args.output, query=args.where, progress=progress)
    except OSError as error:
        raise UsageError(f"cannot write {printable(args.output)}: {printable(error.strerror or str(error))}") from None
    if progress:
        sys.stderr.write("\r\x1b[K")
    print(f"wrote {manifest['records']:,} events to {printable(args.output)} (sha256 {manifest['sha256']}); "
          f"manifest {printable(str(manifest_path(args.output)))}", file=sys.stderr)
    return 0


def _has_screen() -> bool:
    """A terminal, or textual-serve's web driver standing in for one."""
    return sys.stdout.isatty() or bool(os.environ.get("TEXTUAL_DRIVER"))


def run_open(args) -> int:
    if not args.sources and not args.trail:
        raise UsageError(NO_SOURCE)
    if not _has_screen():
        raise UsageError("the console needs a terminal; use `ddbtrail summary` or `ddbtrail export` in scripts")
    from tui.app import run_console  # here, so summary/export never import Textual

    run_console(args.sources, _load_options(args))
    return 0


def run_demo(args) -> int:
    """Write the demo tree, then open the console on it; without a terminal, print its summary."""
    from loaders.demo import demo_dir, write_demo

    try:
        args.sources = [str(write_demo(demo_dir()))]
    except FileExistsError as error:
        raise UsageError(printable(str(error))) from None
    if not _has_screen():
        args.where, args.json = "", False
        return run_summary(args)
    from tui.app import run_console

    run_console(args.sources, _load_options(args), demo=True)
    return 0


def run_serve(args) -> int:
    console = args.console[1:] if args.console[:1] == ["--"] else args.console
    if console[:1] not in (["demo"], ["open"]):
        raise UsageError("say what to serve: `ddbtrail serve demo` or `ddbtrail serve open SOURCE...`")
    try:
        from textual_serve.server import Server
    except ImportError:
        raise UsageError("`ddbtrail serve` needs textual-serve: pip install 'ddbtrail[web]'") from None
    command = shlex.join([sys.executable, "-m", "cli.main", *console])
    print(f"serving `ddbtrail {printable(shlex.join(console))}` on http://{args.host}:{args.port}/",
          file=sys.stderr)
    Server(command, host=args.host, port=args.port, title="ddbtrail").serve()
    return 0


def run_coverage(args) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from ddbtrail.coverage import analyse, render_text
    from loaders.coverage import fetch_coverage

    tables = list(args.table)
    if args.sources:  # --trail here picks the trail to check, not logs to load
        table, _ = _load(args, dataclasses.replace(_load_options(args), trail=None))
        tables += [name for name in table.table_names if name not in tables]
    try:
        result = analyse(**fetch_coverage(_load_options(args), tables))
    except (BotoCoreError, ClientError) as error:
        raise UsageError(f"cannot read the trails: {printable(str(error))}") from None
    sys.stdout.write(json.dumps(result) + "\n" if args.json else render_text(result))
    return 0


# -- human output -------------------------------------------------------------------
def _counts_table(counts: dict[str, int]) -> Table:
    """Top rows of one breakdown; record strings as plain Text, so markup prints literally."""
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(overflow="fold")
    table.add_column(justify="right")
    for name, n in list(counts.items())[:TOP_ROWS]:
        table.add_row(Text(printable(name, max_len=CELL_CHARS)), f"{n:,}")
    if len(counts) > TOP_ROWS:
        rest = sum(list(counts.values())[TOP_ROWS:])
        table.add_row(Text(f"… {len(counts) - TOP_ROWS:,} more"), f"{rest:,}")
    return table


BREAKDOWNS = (("by_operation", "Operations"), ("by_principal", "Principals"),
              ("by_table", "Tables (an event counts once for each table it touches)"),
              ("by_error", "Errors"), ("by_region", "Regions"), ("by_ip", "Source IPs"))


def print_summary(result: dict, console: Console) -> None:
    headline = f"{result['events']:,} events"
    if result["events"] != result["events_loaded"]:
        headline += f" matching (of {result['events_loaded']:,} loaded)"
    headline += f" from {result['files']['read']:,} files"
    if result["time_range"]:
        headline += ", {} to {}".format(*result["time_range"])
    if result["duplicates_dropped"]:
        headline += f" ({result['duplicates_dropped']:,} duplicates dropped)"
    console.print(Text(headline))
    for key, title in BREAKDOWNS:
        if result[key]:
            console.print()
            console.print(Text(title, style="bold"))
            console.print(_counts_table(result[key]))
    skipped = result["files"]["skipped"]
    if skipped:
        console.print()
        console.print(Text(f"{len(skipped):,} files skipped (listed on stderr)"))


#: Options whose values often start with "-" (`--start -24h`, `--where -error:*`).
DASH_VALUE_OPTIONS = ("--start", "--end", "--where")


def _attach_dash_values(argv: list[str]) -> list[str]:
    """Rewrite `--start -24h` as `--start=-24h`: argparse would read `-24h` as an option."""
    out: list[str] = []
    for arg in argv:
        if out and out[-1] in DASH_VALUE_OPTIONS and arg.startswith("-") and not arg.startswith("--"):
            out[-1] = f"{out[-1]}={arg}"
        else:
            out.append(arg)
    return out


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(_attach_dash_values(sys.argv[1:] if argv is None else argv))
    try:
        return args.run(args)
    except UsageError as error:
        print(f"ddbtrail: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ddbtrail: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
