"""Which DynamoDB tables a trail's event selectors log, and the command that would log the rest.

An empty result only means "nothing happened" when the trail was logging those calls, so
before trusting the logs a responder needs to know, per table, whether reads and writes
are recorded at all.  This module works on the plain dicts DescribeTrails,
GetTrailStatus and GetEventSelectors return (fetched by `loaders.coverage`) and evaluates
the selectors the way CloudTrail does:

* basic `EventSelectors`: DataResources of type AWS::DynamoDB::Table, whose values are
  ARN prefixes (a table ARN, or e.g. `arn:aws:dynamodb` for every table), and
  ReadWriteType All / ReadOnly / WriteOnly;
* `AdvancedEventSelectors`: selectors are OR-ed, the field selectors of one selector are
  AND-ed, and within one field every operator present must hold — Equals / StartsWith /
  EndsWith match any of their values, NotEquals / NotStartsWith / NotEndsWith match none.

A selector that also filters on something only the event knows (eventName, errorCode,
userIdentity.arn...) logs just part of a table's calls; it counts as "partial", never as
covered.  ddbtrail never writes to AWS: the fix is printed, not run.
"""
from __future__ import annotations

import json
import shlex

from ddbtrail.text import printable
from ddbtrail.timeparse import format_time

TABLE_TYPE = "AWS::DynamoDB::Table"
DYNAMODB_SOURCE = "dynamodb.amazonaws.com"
KINDS = ("read", "write")
#: CloudTrail allows at most this many advanced event selectors per trail.
MAX_ADVANCED_SELECTORS = 5
_POSITIVE = ("Equals", "StartsWith", "EndsWith")
_NEGATIVE = ("NotEquals", "NotStartsWith", "NotEndsWith")


def _names_every_resource(value: str) -> bool:
    """Basic DataResources values like `arn:aws:dynamodb` or `arn:aws:s3:::` mean "every
    resource of the type" (nothing after the service)."""
    return len([part for part in value.split(":") if part]) <= 3


# -- evaluating one selector ----------------------------------------------------------
def _holds(operator: str, values: list[str], value: str) -> bool:
    if operator in ("Equals", "NotEquals"):
        hit = value in values
    elif operator in ("StartsWith", "NotStartsWith"):
        hit = any(value.startswith(v) for v in values)
    else:
        hit = any(value.endswith(v) for v in values)
    return hit if operator in _POSITIVE else not hit


def _field_matches(field_selector: dict, value: str) -> bool:
    return all(_holds(op, field_selector[op], value)
               for op in _POSITIVE + _NEGATIVE if field_selector.get(op) is not None)


def _advanced_match(selector: dict, table_arn: str, kind: str) -> str:
    """'full', 'partial' or 'none': how much of `kind` calls on the table this selector logs."""
    known = {"eventCategory": "Data", "resources.type": TABLE_TYPE, "resources.ARN": table_arn,
             "readOnly": "true" if kind == "read" else "false", "eventSource": DYNAMODB_SOURCE}
    fields = selector.get("FieldSelectors", [])
    if not any(f.get("Field") == "resources.type" for f in fields):
        return "none"       # data selectors always name their resource type
    narrowed = False
    for field_selector in fields:
        name = field_selector.get("Field")
        if name in known:
            if not _field_matches(field_selector, known[name]):
                return "none"
        else:
            narrowed = True   # eventName, errorCode, userIdentity.arn...: only some calls
    return "partial" if narrowed else "full"


def _basic_match(selector: dict, table_arn: str, kind: str) -> str:
    wanted = {"read": ("All", "ReadOnly"), "write": ("All", "WriteOnly")}[kind]
    if selector.get("ReadWriteType", "All") not in wanted:
        return "none"
    for resource in selector.get("DataResources", []):
        if resource.get("Type") == TABLE_TYPE and any(table_arn.startswith(v) for v in resource.get("Values", [])):
            return "full"
    return "none"


def table_coverage(selectors: dict, table_arn: str) -> dict[str, str]:
    """{'read': 'full'|'partial'|'none', 'write': ...} for one table under one trail's selectors.

    `selectors` is a GetEventSelectors response; advanced selectors win when present,
    as they do in CloudTrail.
    """
    advanced = selectors.get("AdvancedEventSelectors") or []
    match, items = (_advanced_match, advanced) if advanced else (_basic_match, selectors.get("EventSelectors") or [])
    result = {}
    for kind in KINDS:
        levels = {match(selector, table_arn, kind) for selector in items}
        result[kind] = "full" if "full" in levels else "partial" if "partial" in levels else "none"
    return result


# -- describing a trail ---------------------------------------------------------------
def _patterns(field_selector: dict | None) -> list[str]:
    """ARN conditions as patterns: `arn`, `prefix*`, `*suffix`, and `!` for exclusions."""
    if field_selector is None:
        return ["*"]
    shapes = {"Equals": "{}", "StartsWith": "{}*", "EndsWith": "*{}",
              "NotEquals": "!{}", "NotStartsWith": "!{}*", "NotEndsWith": "!*{}"}
    patterns = [shapes[op].format(v) for op in _POSITIVE + _NEGATIVE for v in field_selector.get(op) or []]
    if not any(field_selector.get(op) for op in _POSITIVE):
        patterns.insert(0, "*")     # only exclusions: every other table
    return patterns


def _dynamodb_selectors(selectors: dict) -> list[dict]:
    """Each selector that logs DynamoDB table data events: read/write, ARN patterns, filters."""
    found = []
    for selector in selectors.get("AdvancedEventSelectors") or []:
        fields = {f.get("Field"): f for f in selector.get("FieldSelectors", [])}
        kind_ok = {k: _field_matches(fields["readOnly"], "true" if k == "read" else "false")
                   if "readOnly" in fields else True for k in KINDS}
        if (_field_matches(fields.get("eventCategory", {}), "Data")
                and "resources.type" in fields and _field_matches(fields["resources.type"], TABLE_TYPE)
                and any(kind_ok.values())):
            found.append({"name": selector.get("Name", ""), **kind_ok,
                          "tables": _patterns(fields.get("resources.ARN")),
                          "filters": sorted(set(fields) - {"eventCategory", "resources.type",
                                                           "resources.ARN", "readOnly", "eventSource"})})
    if selectors.get("AdvancedEventSelectors"):
        return found
    for selector in selectors.get("EventSelectors") or []:
        values = [v for r in selector.get("DataResources", []) if r.get("Type") == TABLE_TYPE
                  for v in r.get("Values", [])]
        if values:
            rw = selector.get("ReadWriteType", "All")
            found.append({"name": "", "read": rw in ("All", "ReadOnly"), "write": rw in ("All", "WriteOnly"),
                          "tables": ["*" if _names_every_resource(v) else
                                     v if ":table/" in v and not v.endswith("/") else v + "*"
                                     for v in values],
                          "filters": []})
    return found


def _management_events(selectors: dict) -> bool:
    advanced = selectors.get("AdvancedEventSelectors") or []
    if advanced:
        return any(f.get("Field") == "eventCategory" and "Management" in (f.get("Equals") or [])
                   for s in advanced for f in s.get("FieldSelectors", []))
    return any(s.get("IncludeManagementEvents", False) for s in selectors.get("EventSelectors") or [])


def describe_trail(trail: dict, status: dict, selectors: dict) -> dict:
    """One entry of the report's "trails" list (the issue-4 JSON plus a few extras)."""
    dynamodb = _dynamodb_selectors(selectors)
    tables = sorted({p for s in dynamodb for p in s["tables"]})
    logging = bool(status.get("IsLogging"))
    error = status.get("LatestDeliveryError") or None
    warnings = []
    if not logging:
        warnings.append("logging is OFF: this trail records nothing now. If it was on, someone may have "
                        "called StopLogging to hide activity — look for StopLogging, DeleteTrail, "
                        "UpdateTrail and PutEventSelectors in the management events.")
    if error:
        warnings.append(f"delivery to S3 is failing ({error}): events may be missing from the bucket — "
                        "check the bucket policy and KMS key for recent changes.")
    if status.get("error"):
        warnings.append(f"could not read status/selectors: {status['error']}")
    return {
        "name": trail.get("Name", ""),
        "arn": trail.get("TrailARN", ""),
        "region": trail.get("HomeRegion", ""),
        "logging": logging,
        "s3_bucket": trail.get("S3BucketName"),
        "s3_prefix": trail.get("S3KeyPrefix") or "",
        "latest_delivery_error": error,
        "latest_delivery_time": format_time(status.get("LatestDeliveryTime")) or None,
        "management_events": _management_events(selectors),
        "dynamodb": {"read": any(s["read"] for s in dynamodb), "write": any(s["write"] for s in dynamodb),
                     "tables": tables},
        "multi_region": bool(trail.get("IsMultiRegionTrail")),
        "organization": bool(trail.get("IsOrganizationTrail")),
        "selectors": dynamodb,
        "warnings": warnings,
    }


# -- the report -----------------------------------------------------------------------
def _arn_parts(table_arn: str) -> tuple[str, str, str, str]:
    """(partition, region, account, table name) of a DynamoDB table ARN."""
    _, partition, _, region, account, resource = table_arn.split(":", 5)
    return partition, region, account, resource.removeprefix("table/")


def _trail_applies(trail: dict, table_arn: str) -> bool:
    """A trail records a table's region when it lives there or is multi-region, and its
    account when it is the trail's own or the trail is an organization trail."""
    _, region, account, _ = _arn_parts(table_arn)
    trail_account = trail.get("TrailARN", "::::").split(":")[4]
    return ((trail.get("IsMultiRegionTrail") or trail.get("HomeRegion") == region)
            and (trail.get("IsOrganizationTrail") or trail_account == account))


def analyse(fetched: list[dict], table_arns: list[str], fix_trail: str | None = None) -> dict:
    """The coverage report for these trails and tables.

    `fetched`: one {"trail", "status", "selectors"} per trail (API responses).
    `table_arns`: the tables the responder cares about.  A table is covered for reads
    (writes) when some trail that applies to it is logging and has a selector logging all
    of its reads (writes).  "uncovered" lists each table with `read` / `write` true where
    that kind of call is NOT fully recorded, plus what partly or would-be covers it.
    `commands` holds, per trail to change, the put-event-selectors command that adds the
    missing tables (`fix_trail` picks the trail by name or ARN; else see `_fix_target`).
    """
    trails = [describe_trail(f["trail"], f["status"], f["selectors"]) for f in fetched]
    uncovered, missing_by_trail, notes = [], {}, []
    for arn in table_arns:
        levels = {kind: [] for kind in KINDS}   # (level, trail entry, logging) per kind
        for entry, f in zip(trails, fetched):
            if _trail_applies(f["trail"], arn):
                coverage = table_coverage(f["selectors"], arn)
                for kind in KINDS:
                    levels[kind].append((coverage[kind], entry))
        missing = {kind: not any(level == "full" and e["logging"] for level, e in levels[kind])
                   for kind in KINDS}
        if not any(missing.values()):
            continue
        _, region, _, name = _arn_parts(arn)
        uncovered.append({
            "table": name, "read": missing["read"], "write": missing["write"], "arn": arn, "region": region,
            "partial": sorted({e["name"] for kind in KINDS if missing[kind]
                               for level, e in levels[kind] if level == "partial" and e["logging"]}),
            "not_logging": sorted({e["name"] for kind in KINDS if missing[kind]
                                   for level, e in levels[kind] if level != "none" and not e["logging"]}),
        })
        target = _fix_target(fetched, trails, arn, fix_trail)
        if target is None:
            notes.append(f"No trail{' named ' + fix_trail if fix_trail else ''} records {name} in {region}: "
                         "create or choose a trail that covers this region, then add the selectors.")
        else:
            missing_by_trail.setdefault(target, []).append((arn, missing["read"], missing["write"]))
    commands = []
    for index, missing in missing_by_trail.items():
        f, entry = fetched[index], trails[index]
        selectors = merged_selectors(f["selectors"], missing)
        commands.append({"trail": entry["name"], "region": entry["region"],
                         "tables": [arn for arn, _, _ in missing],
                         "selector_count": len(selectors),
                         "start_logging_first": not entry["logging"],
                         "command": put_selectors_command(entry["name"], entry["region"], selectors)})
    return {"trails": trails, "uncovered": uncovered, "checked": list(table_arns),
            "commands": commands, "notes": notes}


def _fix_target(fetched: list[dict], trails: list[dict], table_arn: str, fix_trail: str | None) -> int | None:
    """Index of the trail to extend for a table: the one asked for, else the applicable trail
    that is logging and already logs DynamoDB data, else logging, else any applicable one."""
    applicable = [i for i, f in enumerate(fetched) if _trail_applies(f["trail"], table_arn)]
    if fix_trail:
        named = [i for i in applicable if fix_trail in (trails[i]["name"], trails[i]["arn"])]
        return named[0] if named else None
    ranked = sorted(applicable, key=lambda i: (not trails[i]["logging"], not trails[i]["selectors"],
                                                not trails[i]["multi_region"], trails[i]["name"]))
    return ranked[0] if ranked else None


# -- the fix --------------------------------------------------------------------------
def _basic_as_advanced(selectors: list[dict]) -> list[dict]:
    """Basic event selectors rewritten as advanced ones that log the same events.

    put-event-selectors with advanced selectors replaces basic ones, so a fix that did not
    carry them over would silently switch off what the trail logs today.
    """
    converted = []
    for selector in selectors:
        rw = selector.get("ReadWriteType", "All")
        read_only = [] if rw == "All" else [{"Field": "readOnly", "Equals": ["true" if rw == "ReadOnly" else "false"]}]
        if selector.get("IncludeManagementEvents"):
            excluded = selector.get("ExcludeManagementEventSources") or []
            converted.append({"Name": "Management events", "FieldSelectors": [
                {"Field": "eventCategory", "Equals": ["Management"]}, *read_only,
                *([{"Field": "eventSource", "NotEquals": excluded}] if excluded else [])]})
        for resource in selector.get("DataResources") or []:
            values = resource.get("Values") or []
            arns = [] if any(_names_every_resource(v) for v in values) else [
                {"Field": "resources.ARN", "StartsWith": values}]
            converted.append({"Name": f"{resource['Type']} data events", "FieldSelectors": [
                {"Field": "eventCategory", "Equals": ["Data"]},
                {"Field": "resources.type", "Equals": [resource["Type"]]}, *arns, *read_only]})
    return converted


def merged_selectors(selectors: dict, missing: list[tuple[str, bool, bool]]) -> list[dict]:
    """The trail's current selectors (as advanced ones) plus selectors for the missing tables.

    `missing`: (table ARN, read missing, write missing).  Tables missing both kinds share
    one selector without a readOnly condition; read-only and write-only gaps get their own.
    """
    result = list(selectors.get("AdvancedEventSelectors") or []) or _basic_as_advanced(
        selectors.get("EventSelectors") or [])
    groups = {(True, True): ("read and write", []), (True, False): ("read", ["true"]),
              (False, True): ("write", ["false"])}
    for (read, write), (label, read_only) in groups.items():
        arns = [arn for arn, r, w in missing if (r, w) == (read, write)]
        if arns:
            fields = [{"Field": "eventCategory", "Equals": ["Data"]},
                      {"Field": "resources.type", "Equals": [TABLE_TYPE]},
                      {"Field": "resources.ARN", "Equals": arns}]
            if read_only:
                fields.append({"Field": "readOnly", "Equals": read_only})
            tables = f"{len(arns)} table" + ("s" if len(arns) > 1 else "")
            result.append({"Name": f"DynamoDB {label} data events (added for {tables} by ddbtrail)",
                           "FieldSelectors": fields})
    return result


def put_selectors_command(trail_name: str, region: str, selectors: list[dict]) -> str:
    """The exact AWS CLI command, shell-quoted; ddbtrail prints it and never runs it."""
    return shlex.join(["aws", "cloudtrail", "put-event-selectors", "--trail-name", trail_name,
                       "--region", region, "--advanced-event-selectors",
                       json.dumps(selectors, separators=(",", ":"))])


# -- text -----------------------------------------------------------------------------
def render_text(report: dict) -> str:
    """The report as a responder reads it in a terminal (the CLI prints this)."""
    lines = []
    if not report["trails"]:
        lines.append("No CloudTrail trail found for these regions.")
    for t in report["trails"]:
        scope = ", ".join(filter(None, ["multi-region" if t["multi_region"] else f"{t['region']} only",
                                        "organization" if t["organization"] else ""]))
        lines.append(f"Trail {t['name']} ({scope}) — {t['arn']}")
        lines.append(f"  logging: {'on' if t['logging'] else 'OFF'}    S3: s3://{t['s3_bucket'] or '?'}/"
                     f"{t['s3_prefix']}    last delivery: {t['latest_delivery_time'] or 'never'}")
        lines.append(f"  management events: {'yes' if t['management_events'] else 'no'}")
        ddb = t["dynamodb"]
        if not (ddb["read"] or ddb["write"]):
            lines.append("  DynamoDB data events: none (item-level calls such as GetItem, PutItem, Query, "
                         "Scan are NOT recorded)")
        else:
            kinds = "read and write" if ddb["read"] and ddb["write"] else "read only" if ddb["read"] else "write only"
            lines.append(f"  DynamoDB data events: {kinds}, tables: {', '.join(ddb['tables'])}")
            for s in t["selectors"]:
                if s["filters"]:
                    lines.append(f"    selector {s['name'] or '(unnamed)'} also filters on "
                                 f"{', '.join(s['filters'])}: only some calls are logged")
        lines.extend(f"  WARNING: {w}" for w in t["warnings"])
        lines.append("")
    uncovered = report["uncovered"]
    if uncovered:
        lines.append("Not fully recorded:")
        for u in uncovered:
            gaps = " and ".join(k for k in KINDS if u[k])
            extra = "".join([f"; partly by {', '.join(u['partial'])}" if u["partial"] else "",
                             f"; would be by {', '.join(u['not_logging'])} (not logging)" if u["not_logging"] else ""])
            lines.append(f"  {u['table']} ({u['region']}): {gaps} calls{extra}")
    elif report["checked"]:
        lines.append("Every table asked about is recorded for reads and writes.")
    for c in report["commands"]:
        lines.append("")
        lines.append(f"To record them in trail {c['trail']} (not run — ddbtrail never changes AWS):")
        if c["start_logging_first"]:
            lines.append(f"  aws cloudtrail start-logging --name {shlex.quote(c['trail'])} --region {c['region']}")
        if c["selector_count"] > MAX_ADVANCED_SELECTORS:
            lines.append(f"  note: {c['selector_count']} selectors exceed CloudTrail's limit of "
                         f"{MAX_ADVANCED_SELECTORS}; merge some before running this")
        lines.append(f"  {c['command']}")
    lines.extend(report["notes"])
    # Names, selector names and delivery errors come from AWS or the command line: each
    # line is made safe for the terminal as a whole.
    return "\n".join(printable(line) for line in lines).rstrip() + "\n"
