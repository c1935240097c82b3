"""The demo incident is findable the way a responder would find it: load the demo tree
through the real pipeline and ask the query language the questions of the walkthrough."""
from __future__ import annotations

import time

import pandas as pd
import pytest

from ddbtrail.query import parse
from loaders import LoadOptions, load
from loaders.demo import INCIDENT, generate, write_demo

ROLE = f'principal:"{INCIDENT["attacker_role_arn"]}"'
IP = f'ip:{INCIDENT["attacker_ip"]}'


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = write_demo(tmp_path_factory.mktemp("demo") / "demo")
    started = time.perf_counter()
    table, report = load([str(root)], LoadOptions())
    print(f"\nload of the demo tree: {time.perf_counter() - started:.2f} s, {len(table)} events, "
          f"{report.files_read} files")
    return table, report


def rows(demo, query: str):
    table, _ = demo
    return table.df[parse(query).mask(table)]


def test_every_record_loads_and_only_digests_are_skipped(demo):
    table, report = demo
    assert report.events == len(table) == len(generate())
    assert report.errors == [] and report.duplicates == 0
    assert len(report.skipped) == 2
    assert all("CloudTrail-Digest" in path and "digest" in reason for path, reason in report.skipped)
    assert set(table.df["account"].unique()) == set(INCIDENT["accounts"])
    assert set(table.df["region"].unique()) == set(INCIDENT["regions"])


def test_the_new_ip_belongs_to_one_session_of_one_role(demo):
    from_ip = rows(demo, IP)
    assert len(from_ip) > 0
    assert set(from_ip["principal"]) == {INCIDENT["attacker_role_arn"]}
    assert set(from_ip["session"]) == {INCIDENT["attacker_session"]}
    assert set(from_ip["access_key"]) == {INCIDENT["attacker_access_key"]}
    assert len(rows(demo, f"{IP} -{ROLE}")) == 0
    assert from_ip["time"].min() >= pd.Timestamp(INCIDENT["recon_window"][0])   # never seen before
    legit = rows(demo, f"{ROLE} -{IP}")                 # the role's normal use, from inside the VPC
    assert len(legit) > 0 and legit["ip"].str.startswith("10.").all()
    assert len(rows(demo, 'ua:*kali*')) == len(from_ip) - INCIDENT["hostile_records"]


def test_paginated_scan_of_the_phi_table_at_night(demo):
    scans = rows(demo, f'{IP} op:Scan table:{INCIDENT["phi_table"]} -error:*')
    assert len(scans) == INCIDENT["scan_calls"]
    start, end = (pd.Timestamp(t) for t in INCIDENT["scan_window"])
    assert scans["time"].between(start, end).all()
    assert (scans["time"].dt.hour < 10).all()           # 02:00-05:00 in the agency's US Eastern time
    in_window = rows(demo, f'op:Scan table:{INCIDENT["phi_table"]} '
                           f'after:{INCIDENT["scan_window"][0]} before:{INCIDENT["scan_window"][1]}')
    assert set(in_window["ip"]) == {INCIDENT["attacker_ip"]}   # nobody else scans it then


def test_access_denied_burst_while_probing_other_tables(demo):
    table, _ = demo
    mask = parse(f'error:{INCIDENT["denied_error"]}').mask(table)
    denied = table.df[mask]
    assert len(denied) == INCIDENT["denied_calls"]
    assert set(denied["ip"]) == {INCIDENT["attacker_ip"]}
    start, end = (pd.Timestamp(t) for t in INCIDENT["denied_window"])
    assert denied["time"].between(start, end).all()
    touched = {table.table_names[c] for r, c in zip(table.table_rows, table.table_codes) if mask[r]}
    assert touched == set(INCIDENT["denied_tables"])
    assert denied["error_message"].str.contains("is not authorized to perform: dynamodb:").all()
    cjis = rows(demo, f'error:{INCIDENT["denied_error"]} table:{INCIDENT["cjis_table"]}')
    assert 0 < len(cjis) < len(denied)


def test_burst_of_deletes_after_point_in_time_recovery_is_switched_off(demo):
    deletes = rows(demo, f'{IP} op:DeleteItem,BatchWriteItem table:{INCIDENT["phi_table"]}')
    assert len(deletes) == INCIDENT["delete_calls"] and (deletes["error"] == "").all()
    start, end = (pd.Timestamp(t) for t in INCIDENT["delete_window"])
    assert deletes["time"].between(start, end).all()
    pitr = rows(demo, "op:UpdateContinuousBackups")
    assert len(pitr) == 1 and pitr["ip"].iat[0] == INCIDENT["attacker_ip"]
    assert pitr["time"].iat[0] == pd.Timestamp(INCIDENT["pitr_disabled_at"])
    assert pitr["plane"].iat[0] == "control"
    assert len(rows(demo, f"{IP} op:DeleteBackup")) == INCIDENT["backups_deleted"]
    assert len(rows(demo, f"op:DeleteItem,BatchWriteItem table:{INCIDENT['phi_table']}")) == len(deletes)


def test_throttling_episode_on_the_busy_table(demo):
    throttled = rows(demo, f'error:{INCIDENT["throttle_error"]}')
    assert len(throttled) == INCIDENT["throttle_errors"]
    assert set(throttled["principal"]) == {INCIDENT["throttle_role_arn"]}
    assert set(throttled["tables"]) == {INCIDENT["throttle_table"]}
    start, end = (pd.Timestamp(t) for t in INCIDENT["throttle_window"])
    assert throttled["time"].between(start, end).all()
    busiest = rows(demo, "")["tables"].value_counts().index[0]
    assert busiest == INCIDENT["throttle_table"]
    raised = rows(demo, f'op:UpdateTable table:{INCIDENT["throttle_table"]} '
                        f'after:{INCIDENT["throttle_window"][0]} before:{INCIDENT["throttle_window"][1]}')
    assert len(raised) == 2                       # autoscaling, then the DBA, raise capacity


def test_hostile_user_agents_stay_literal_down_to_the_raw_bytes(demo):
    table, _ = demo
    mask = parse("ua:*pwned*").mask(table)
    assert mask.sum() == INCIDENT["hostile_records"]
    assert set(table.df.loc[mask, "user_agent"]) == {INCIDENT["hostile_user_agent"]}
    for raw in table.raw(mask.nonzero()[0]):
        assert b"[bold red]" in raw and b"\\u001b]0;pwned\\u0007" in raw


def test_old_records_without_event_category_still_get_a_plane(demo):
    legacy = rows(demo, "principal:*legacy-monitor")
    assert len(legacy) > 0 and set(legacy["plane"]) == {"control"}
