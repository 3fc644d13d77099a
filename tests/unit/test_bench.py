"""The benchmark's pure parts: percentiles, call counting, batch targets, BIND logs, the table."""

# ruff: noqa: E501 - the BIND log lines below are verbatim

from __future__ import annotations

import base64
import copy
import ipaddress
import json
import math
from pathlib import Path
from typing import Any

import pytest

from bench.onepass import ingress_address, ingress_host, ingress_object, zone_names
from bench.report import (
    SUMMARY_END,
    SUMMARY_START,
    render_markdown,
    render_summary,
    replace_summary,
    target_rows,
)
from bench.run import merge_results
from bench.servers import MotoRecording
from bench.stats import (
    ApiCall,
    change_batch_target,
    change_calls_per_zone,
    count_actions,
    parse_query_log_line,
    parse_recorded_call,
    percentile,
    queries_per_zone,
    record_set_cost,
    recorded_entries,
    summarize_latencies,
    zone_of,
)

# --- percentile ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([5.0], 50, 5.0),
        ([5.0], 99, 5.0),
        ([1.0, 2.0], 50, 1.5),
        ([3.0, 1.0, 2.0], 50, 2.0),  # order of the input does not matter
        ([1.0, 2.0, 3.0, 4.0], 0, 1.0),
        ([1.0, 2.0, 3.0, 4.0], 100, 4.0),
        ([1.0, 2.0, 3.0, 4.0], 50, 2.5),
        # numpy.percentile(range(1, 101), 99) == 99.01 (linear interpolation between ranks)
        ([float(x) for x in range(1, 101)], 99, 99.01),
        ([float(x) for x in range(1, 101)], 50, 50.5),
    ],
)
def test_percentile_interpolates_between_ranks(
    values: list[float], q: float, expected: float
) -> None:
    assert percentile(values, q) == pytest.approx(expected)


def test_percentile_does_not_sort_its_argument() -> None:
    values = [3.0, 1.0, 2.0]
    percentile(values, 50)
    assert values == [3.0, 1.0, 2.0]


@pytest.mark.parametrize(("values", "q"), [([], 50), ([1.0], -1), ([1.0], 100.5)])
def test_percentile_rejects_no_values_and_bad_q(values: list[float], q: float) -> None:
    with pytest.raises(ValueError, match="percentile"):
        percentile(values, q)


def test_summary_counts_missed_changes_apart() -> None:
    summary = summarize_latencies([0.5, None, 1.5, 1.0, None])
    assert (summary.count, summary.missed) == (3, 2)
    assert summary.p50 == 1.0
    assert summary.max == 1.5
    assert summary.p99 == pytest.approx(1.49)
    assert summary.as_dict() == {
        "count": 3,
        "missed": 2,
        "p50": 1.0,
        "p99": summary.p99,
        "max": 1.5,
    }


def test_summary_of_nothing_arrived_has_no_percentiles() -> None:
    summary = summarize_latencies([None, None])
    assert (summary.count, summary.missed, summary.p50, summary.p99) == (0, 2, None, None)


# --- call counting -------------------------------------------------------------------------------


def _entry(
    method: str, path: str, *, key: str, service: str = "route53", body: bytes = b""
) -> dict[str, Any]:
    auth = (
        f"AWS4-HMAC-SHA256 Credential={key}/20261121/us-east-1/{service}/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=abc"
    )
    return {
        "method": method,
        "url": f"http://127.0.0.1:5000{path}",
        "headers": {"Authorization": auth, "Content-Type": "text/xml"},
        "body": base64.b64encode(body).decode(),
        "body_encoded": True,
    }


def test_recorded_route53_calls_name_their_signer_action_and_zone() -> None:
    call = parse_recorded_call(
        _entry("POST", "/2013-04-01/hostedzone/Z123/rrset", key="EXTERNALDNS", body=b"<x/>")
    )
    assert call == ApiCall(
        access_key="EXTERNALDNS",
        service="route53",
        action="ChangeResourceRecordSets",
        path="/2013-04-01/hostedzone/Z123/rrset",
    )
    listing = parse_recorded_call(_entry("GET", "/2013-04-01/hostedzone", key="OURS"))
    assert (listing.access_key, listing.action) == ("OURS", "ListHostedZones")


def test_unsigned_requests_are_moto_api_without_a_signer() -> None:
    call = parse_recorded_call({"method": "POST", "url": "http://h/moto-api/reset", "headers": {}})
    assert (call.access_key, call.service) == ("", "moto-api")


def _calls() -> list[ApiCall]:
    entries = [
        _entry("GET", "/2013-04-01/hostedzone", key="OURS"),
        _entry("POST", "/2013-04-01/hostedzone/ZA/rrset", key="OURS"),
        _entry("POST", "/2013-04-01/hostedzone/ZA/rrset", key="OURS"),
        _entry("POST", "/2013-04-01/hostedzone/ZB/rrset", key="OURS"),
        _entry("POST", "/2013-04-01/hostedzone/ZB/rrset", key="PEER"),
        _entry("GET", "/2013-04-01/hostedzone/ZB/rrset", key="PEER"),
        _entry("GET", "/2013-04-01/hostedzone/ZB", key="OBSERVER"),
        _entry("POST", "/", key="OURS", service="elasticloadbalancing", body=b"Action=X"),
    ]
    return [parse_recorded_call(e) for e in entries]


def test_actions_are_counted_per_signer_and_service() -> None:
    calls = _calls()
    assert count_actions(calls, access_key="OURS", service="route53") == {
        "ListHostedZones": 1,
        "ChangeResourceRecordSets": 3,
    }
    assert count_actions(calls, access_key="PEER") == {
        "ChangeResourceRecordSets": 1,
        "ListResourceRecordSets": 1,
    }
    assert sum(count_actions(calls).values()) == len(calls)


def test_change_calls_are_counted_per_zone_name() -> None:
    zones = {"/hostedzone/ZA": "a.test", "ZB": "b.test"}
    assert change_calls_per_zone(_calls(), zones, access_key="OURS") == {"a.test": 2, "b.test": 1}
    assert change_calls_per_zone(_calls(), {"ZA": "a.test"}) == {"a.test": 2, "ZB": 2}


def test_recording_is_read_from_an_offset_and_ignores_a_half_written_line(tmp_path: Path) -> None:
    path = tmp_path / "requests.jsonl"
    first = json.dumps(_entry("GET", "/2013-04-01/hostedzone", key="A"))
    second = json.dumps(_entry("POST", "/2013-04-01/hostedzone/Z/rrset", key="B"))
    path.write_text(first + "\n")
    recording = MotoRecording(path)
    mark = recording.offset()
    assert [c.access_key for c in recording.calls_since(0)] == ["A"]
    with path.open("a") as handle:
        handle.write(second + "\n" + second[:20])
    assert [c.action for c in recording.calls_since(mark)] == ["ChangeResourceRecordSets"]
    assert MotoRecording(tmp_path / "missing").calls_since(0) == []


def test_interleaved_and_torn_entries_never_lose_the_others(tmp_path: Path) -> None:
    """moto writes an entry and its newline in two writes: two entries can share a line, a line
    can be empty, and an entry can be torn; every whole entry is still read, the rest counted."""
    path = tmp_path / "requests.jsonl"
    a = json.dumps(_entry("GET", "/2013-04-01/hostedzone", key="A"))
    b = json.dumps(_entry("POST", "/2013-04-01/hostedzone/Z/rrset", key="B"))
    c = json.dumps(_entry("GET", "/2013-04-01/hostedzone/Z/rrset", key="C"))
    path.write_text(a + b + "\n\n" + b[:30] + "\n" + c + "\n" + '{"method": 7}\n')
    recording = MotoRecording(path)
    calls = recording.calls_since(0)
    assert [c.access_key for c in calls] == ["A", "B", "C"]
    assert recording.unreadable == 2  # the torn entry, and the one that is no request
    entries, unreadable = recorded_entries("[1]" + a + "garbage" + b)
    assert (len(entries), unreadable) == (2, 2)
    assert recorded_entries("") == ([], 0)


# --- Route53 batch targets -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "chars", "expected"),
    [
        (0, 0, 0),
        (1, 10, 1),
        (1000, 10, 1),
        (1001, 10, 2),
        (10, 32000, 1),
        (10, 32001, 2),
        (2500, 50000, 3),  # values bound
        (2000, 100000, 4),  # characters bound
    ],
)
def test_change_batch_target(values: int, chars: int, expected: int) -> None:
    assert change_batch_target(values, chars) == expected
    assert expected == math.ceil(max(values / 1000, chars / 32000))


def test_change_batch_target_rejects_negative_counts() -> None:
    with pytest.raises(ValueError, match="negative"):
        change_batch_target(-1, 0)


def test_record_set_cost_counts_an_upsert_twice() -> None:
    txt = ['"heritage=external-dns,external-dns/owner=bench"']
    assert record_set_cost(["10.0.0.1"]) == (1, 8)
    assert record_set_cost(["10.0.0.1", "10.0.0.2"], upsert=True) == (4, 32)
    assert record_set_cost(txt) == (1, len(txt[0]))


# --- BIND's log ----------------------------------------------------------------------------------

LOG = """\
21-Nov-2026 06:11:09.368 client @0x7fa6e36d1c98 127.0.0.1#55110/key ddns-key: signer "ddns-key" approved
21-Nov-2026 06:11:09.368 client @0x7fa6e36d1c98 127.0.0.1#55110/key ddns-key: updating zone 'z0.bench.test/IN': adding an RR at 'a.z0.bench.test' A 1.2.3.4
21-Nov-2026 06:11:09.368 client @0x7fa6e36d1c98 127.0.0.1#55110/key ddns-key: updating zone 'z0.bench.test/IN': adding an RR at 'a.z0.bench.test' TXT "x"
21-Nov-2026 06:11:09.369 client @0x7fa6e36d0098 127.0.0.1#34436 (a.z0.bench.test): query: a.z0.bench.test IN A + (127.0.0.1)
21-Nov-2026 06:11:09.369 client @0x7fa6e36d1c98 127.0.0.1#55112/key ddns-key: updating zone 'z0.bench.test/IN': deleting rrset at 'b.z0.bench.test' A
21-Nov-2026 06:11:09.370 client @0x7fa6e36d0098 127.0.0.1#34437/key ddns-key (z0.bench.test): query: z0.bench.test IN SOA -SE(0)T (127.0.0.1)
21-Nov-2026 06:11:09.370 client @0x7fa6e36d0098 127.0.0.1#34438/key ddns-key (Z1.Bench.Test): query: Z1.Bench.Test IN SOA -SE(0)T (127.0.0.1)
21-Nov-2026 06:11:09.372 client @0x7fa6e36d3898 127.0.0.1#55118/key ddns-key (z0.bench.test): query: z0.bench.test IN AXFR +ST (127.0.0.1)
21-Nov-2026 06:11:09.372 client @0x7fa6e36d3898 127.0.0.1#55118/key ddns-key (z0.bench.test): transfer of 'z0.bench.test/IN': AXFR started: TSIG ddns-key (serial 2)
21-Nov-2026 06:11:09.373 client @0x7fa6e36d0098 127.0.0.1#34439 (other.test): query: other.test IN SOA + (127.0.0.1)
21-Nov-2026 06:11:09.380 general: notice: running
"""


def test_query_log_lines_are_parsed() -> None:
    lines = LOG.splitlines()
    assert parse_query_log_line(lines[0]) is None  # the signer line repeats nothing we count
    update = parse_query_log_line(lines[1])
    assert update is not None
    assert (update.name, update.kind) == ("z0.bench.test", "UPDATE")
    assert update.message == "@0x7fa6e36d1c98 127.0.0.1#55110"
    axfr = parse_query_log_line(lines[7])
    assert axfr is not None
    assert (axfr.name, axfr.kind) == ("z0.bench.test", "AXFR")
    assert parse_query_log_line(lines[8]) is None
    assert parse_query_log_line(lines[-1]) is None


def test_queries_are_counted_per_zone_and_one_update_message_once() -> None:
    counts = queries_per_zone(LOG.splitlines(), ["z0.bench.test", "z1.bench.test", "z2.bench.test"])
    assert counts == {
        "z0.bench.test": {"A": 1, "AXFR": 1, "SOA": 1, "UPDATE": 2},
        "z1.bench.test": {"SOA": 1},
        "z2.bench.test": {},
    }


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.z0.bench.test", "z0.bench.test"),
        ("z0.bench.test.", "z0.bench.test"),
        ("A.Deep.Z0.BENCH.test", "z0.bench.test"),
        ("bench.test", "bench.test"),
        ("xz0.bench.test", "bench.test"),  # a label boundary, not a string suffix
        ("other.test", None),
    ],
)
def test_zone_of_picks_the_longest_zone(name: str, expected: str | None) -> None:
    assert zone_of(name, ["bench.test", "z0.bench.test", "z1.bench.test"]) == expected


# --- the workload --------------------------------------------------------------------------------


def test_hosts_spread_over_zones_with_distinct_addresses() -> None:
    zones = zone_names(4)
    assert zones == ("z0.bench.test", "z1.bench.test", "z2.bench.test", "z3.bench.test")
    hosts = [ingress_host(i, zones) for i in range(10000)]
    addresses = {ingress_address(i) for i in range(100_000)}
    assert len(set(hosts)) == 10000
    assert len(addresses) == 100_000
    assert all(not a.endswith(".0") for a in addresses)
    assert all(ipaddress.ip_address(a).version == 4 for a in addresses)
    assert ingress_address(9999) == "10.1.49.200"  # N <= 10,000: the addresses of earlier runs
    assert {h.split(".", 1)[1] for h in hosts[:4]} == set(zones)
    obj = ingress_object(7, zones, namespace="ns")
    assert obj["spec"]["rules"][0]["host"] == "h7.z3.bench.test"
    assert obj["status"]["loadBalancer"]["ingress"] == [{"ip": "10.1.0.8"}]
    assert "status" not in ingress_object(7, zones, namespace="ns", with_status=False)


# --- the table -----------------------------------------------------------------------------------


def _session(**overrides: Any) -> dict[str, Any]:
    session: dict[str, Any] = {
        "interval_seconds": 60.0,
        "converge_seconds": {"rfc2136": 3.0, "route53": 2.5},
        "cpu_seconds_to_converge": 1.2,
        "cpu_seconds_quiet_interval": 0.05,
        "peak_rss_mb": {"ingress-reconciler": 80.0},
        "route53_create_calls": {"ChangeResourceRecordSets": 2, "ListHostedZones": 1},
        "route53_quiet_calls_after_write": {},
        "route53_quiet_calls": {},
        "route53_zones": {
            "a.test": {
                "record_sets": 10,
                "values": 10,
                "chars": 200,
                "target": 1,
                "change_calls": 1,
            },
            "b.test": {
                "record_sets": 10,
                "values": 10,
                "chars": 200,
                "target": 1,
                "change_calls": 1,
            },
        },
        "rfc2136_quiet_queries_after_write": {
            "a.test": {"AXFR": 1, "SOA": 1},
            "b.test": {"SOA": 1},
        },
        "rfc2136_quiet_queries": {"a.test": {"SOA": 1}, "b.test": {"SOA": 1}},
        "latency": {"count": 3, "missed": 0, "p50": 0.6, "p99": 0.9, "max": 0.9},
        "latencies": [0.5, 0.6, 0.9],
    }
    session.update(overrides)
    return session


def _results() -> dict[str, Any]:
    peer = _session(
        route53_quiet_calls={"ListHostedZones": 1, "ListResourceRecordSets": 4},
        rfc2136_quiet_queries={"a.test": {"AXFR": 1}, "b.test": {"AXFR": 1}},
        latency={"count": 3, "missed": 0, "p50": 30.0, "p99": 59.5, "max": 60.0},
        cpu_seconds_to_converge=1.5,
        peak_rss_mb={"external-dns/aws": 140.0, "external-dns/rfc2136": 120.0},
    )
    events = _session(
        latency={"count": 3, "missed": 0, "p50": 1.2, "p99": 1.9, "max": 2.0},
        cpu_seconds_to_converge=1.6,
        peak_rss_mb={"external-dns/aws": 141.0, "external-dns/rfc2136": 121.0},
    )
    return {
        "started": "2026-11-21T06:00:00Z",
        "finished": "2026-11-21T06:20:00Z",
        "machine": {"cpus": 2, "loadavg_start": [1.0, 1.0, 1.0], "loadavg_end": [2.0, 1.5, 1.0]},
        "config": {
            "zones": ["a.test", "b.test"],
            "changes": 3,
            "change_spacing": 0.25,
            "external_dns_version": "v0.23.0",
        },
        "rounds": [
            {
                "ingresses": 1000,
                "programs": {
                    "ingress-reconciler": _session(
                        latency={"count": 3, "missed": 0, "p50": 0.03, "p99": 0.08, "max": 0.08}
                    ),
                    "external-dns": peer,
                    "external-dns-events": events,
                },
            }
        ],
        "onepass": {
            "ingresses": 10000,
            "passes": [
                {"pass": "create", "cpu_seconds": 1.5},
                {"pass": "quiet", "cpu_seconds": 1.1},
            ],
            "peak_rss_mb": 250.0,
        },
    }


def test_every_target_met_is_marked_so() -> None:
    rows = target_rows(_results())
    assert [r.met for r in rows] == [True] * 7
    assert rows[0].peer == "5 (first interval after writes: 0)"
    assert rows[0].ours == "0"
    assert rows[2].ours == "p50 30 ms, p99 80 ms"
    assert rows[2].peer_events == "p50 1.20 s, p99 1.90 s"
    assert rows[3].ours == "SOA 1/zone (first interval after writes: AXFR 0-1/zone, SOA 1/zone)"
    assert rows[3].peer.startswith("AXFR 1/zone (first interval after writes: ")
    # the CPU ratio is judged against external-dns --events (1.2 / 1.6)
    assert (rows[4].ours, rows[4].peer, rows[4].peer_events) == ("1.20 s", "1.50 s", "1.60 s")
    assert rows[4].note == "ratio 0.75"
    assert rows[6].peer == "external-dns/aws 140 MB, external-dns/rfc2136 120 MB"


def test_missed_targets_say_by_how_much() -> None:
    results = _results()
    ours = results["rounds"][0]["programs"]["ingress-reconciler"]
    ours["route53_quiet_calls"] = {"ListResourceRecordSets": 2}
    ours["route53_zones"]["a.test"]["change_calls"] = 3
    ours["latency"] = {"count": 2, "missed": 1, "p50": 0.08, "p99": 2.5, "max": 3.0}
    ours["rfc2136_quiet_queries"] = {"a.test": {"SOA": 2}, "b.test": {"SOA": 1}}
    ours["cpu_seconds_to_converge"] = 3.2
    ours["cpu_seconds_quiet_interval"] = 0.35
    ours["peak_rss_mb"] = {"ingress-reconciler": 170.0}
    rows = target_rows(results)
    assert [r.met for r in rows] == [False] * 7
    assert rows[0].note == "2 calls over target"
    assert rows[1].note == "2 calls over target"
    assert rows[1].ours == "4 (target 2)"
    assert rows[2].note == "p50 30 ms over, p99 2.40 s over"
    assert "1 missed" in rows[2].ours
    assert rows[3].ours.startswith("SOA 1-2/zone")
    assert rows[4].note == "ratio 2.00"
    assert rows[5].note == "0.250 s over"
    assert rows[6].note == "20 MB over"


def test_markdown_holds_the_targets_processes_and_zones() -> None:
    results = _results()
    before = copy.deepcopy(results)
    text = render_markdown(results)
    assert results == before  # rendering does not touch its input
    lines = text.splitlines()
    assert lines[0] == "# Benchmark: ingress-reconciler vs external-dns v0.23.0"
    header = (
        "| target | N | ingress-reconciler | external-dns | external-dns --events | met (ours) "
        "| note |"
    )
    assert header in lines
    table = lines[lines.index(header) + 2 : lines.index(header) + 9]
    assert all(row.count(" | ") == 6 for row in table)
    assert (
        "| 3. status change -> answer in BIND (target p50 <= 50 ms, p99 <= 100 ms) | 1000 "
        "| p50 30 ms, p99 80 ms | p50 30.00 s, p99 59.50 s | p50 1.20 s, p99 1.90 s | yes |" in text
    )
    assert "| 1000 | external-dns | a.test | 10 | 10 | 200 | 1 | 1 |" in text
    assert "load average (1/5/15 min) at start [1.0, 1.0, 1.0]" in text
    assert "N=10000: create 1.50 CPU s, quiet 1.10 CPU s, peak RSS 250 MB." in text


def test_results_without_a_version_are_of_the_first_peer() -> None:
    results = _results()
    del results["config"]["external_dns_version"]
    assert render_markdown(results).startswith(
        "# Benchmark: ingress-reconciler vs external-dns v0.22.0"
    )


def test_markdown_without_a_peer_says_not_measured() -> None:
    results = _results()
    del results["rounds"][0]["programs"]["external-dns"]
    del results["rounds"][0]["programs"]["external-dns-events"]
    rows = target_rows(results)
    assert {r.peer for r in rows} == {"n/a"}
    assert {r.peer_events for r in rows} == {"n/a"}
    assert rows[4].met is None  # no ratio without the peer
    assert "**no**" not in render_markdown(results)


def test_a_failed_session_is_listed_and_its_numbers_are_not_available() -> None:
    results = _results()
    results["rounds"][0]["programs"]["external-dns"] = {
        "error": "external-dns/aws exited with 1:\nlog tail"
    }
    text = render_markdown(results)
    assert "- N=1000 external-dns: external-dns/aws exited with 1:" in text
    assert "log tail" not in text
    assert {r.peer for r in target_rows(results)} == {"n/a"}


def test_a_rerun_replaces_only_its_own_sessions() -> None:
    old = _results()
    rerun = {
        "started": "later",
        "rounds": [
            {"ingresses": 1000, "programs": {"ingress-reconciler": {"latencies": [0.1]}}},
            {"ingresses": 10, "programs": {"ingress-reconciler": {"latencies": [0.2]}}},
        ],
        "onepass": {"ingresses": 10000, "passes": [], "peak_rss_mb": 1.0},
    }
    before = copy.deepcopy(old)
    merged = merge_results(old, rerun)
    assert old == before
    assert [r["ingresses"] for r in merged["rounds"]] == [10, 1000]
    programs = merged["rounds"][1]["programs"]
    assert programs["ingress-reconciler"] == {"latencies": [0.1]}
    assert programs["external-dns"] == before["rounds"][0]["programs"]["external-dns"]
    assert merged["onepass"]["peak_rss_mb"] == 1.0
    assert merged["merged_runs"][0]["started"] == "later"


def test_notes_and_merged_runs_are_shown() -> None:
    results = _results()
    results["notes"] = ["p99 missed because a pass takes 2 s"]
    results["merged_runs"] = [{"started": "a", "finished": "b", "machine": {"loadavg_start": [1]}}]
    results["superseded"] = [
        {
            "ingresses": 10,
            "program": "ingress-reconciler",
            "reason": "why",
            "session": {"latency": {"p50": 1.0, "p99": 2.0, "missed": 0}},
        }
    ]
    text = render_markdown(results)
    assert "- p99 missed because a pass takes 2 s" in text
    assert "- re-run a .. b, load average at start [1]" in text
    assert "- superseded: N=10 ingress-reconciler (why): p50 1.00 s, p99 2.00 s" in text


def test_bench_readme_shows_exactly_the_recorded_results() -> None:
    """bench/README.md's "Latest results" is generated from results.json: it cannot drift."""
    root = Path(__file__).resolve().parents[2]
    results = json.loads((root / "bench" / "results" / "results.json").read_text())
    readme = (root / "bench" / "README.md").read_text()
    assert replace_summary(readme, results) == readme, (
        "bench/README.md is stale: run `python -m bench.run --render-only`"
    )
    assert render_summary(results) in readme
    # and results.md is what results.json renders to
    rendered = render_markdown(results)
    assert (root / "bench" / "results" / "results.md").read_text() == rendered


def test_the_summary_is_the_targets_table_of_the_run() -> None:
    results = {
        "started": "S",
        "finished": "F",
        "machine": {"cpus": 2, "loadavg_start": [1.0], "loadavg_end": [2.0]},
        "config": {"zones": ["z.test"], "changes": 3, "change_spacing": 1.0},
        "rounds": [],
    }
    summary = render_summary(results)
    assert "Run S .. F on 2 CPUs" in summary
    assert "| target | N |" in summary
    readme = f"intro\n{SUMMARY_START}\nold figures\n{SUMMARY_END}\ntail\n"
    replaced = replace_summary(readme, results)
    assert "old figures" not in replaced
    assert replaced.startswith(f"intro\n{SUMMARY_START}\n")
    assert replaced.endswith(f"{SUMMARY_END}\ntail\n")
