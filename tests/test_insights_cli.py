"""`tcpwatch -r FILE --insights` as a user runs it: text lines, or JSON lines with --export."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from capture.insights import Thresholds, thresholds_from

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent


def tcpwatch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={"TZ": "UTC", "PATH": "/usr/bin:/bin"},
    )


def test_text_findings_name_the_scanner() -> None:
    """The nmap version scan: one alert line naming 192.168.1.71, exit 0."""
    run = tcpwatch("-r", str(DATA / "zeek_nmap-vsn.pcap"), "--insights")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("[alert] port_scan 192.168.1.71: ")
    assert "flows 1,2,3" in lines[0]


def test_jsonl_export_carries_flow_records_then_findings() -> None:
    """--export jsonl --insights: the flow records, then one JSON object per finding."""
    run = tcpwatch(
        "-r", str(DATA / "chrissanders_tcp_refuseconnection.pcapng"), "--export", "jsonl",
        "--insights",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    records = [json.loads(line) for line in run.stdout.splitlines()]
    flows = [r for r in records if r.get("type") != "finding"]
    found = [r for r in records if r.get("type") == "finding"]
    assert len(flows) == 1 and flows[0]["conn_state"] == "REJ"
    assert [(f["kind"], f["subject"]) for f in found] == [("refused", "192.168.100.1:80")]
    assert found[0]["uids"] == [flows[0]["uid"]]
    assert found[0]["frames"] == [2]


def test_csv_export_keeps_findings_off_the_records() -> None:
    """--export csv --insights: standard output is the CSV alone (a reader gets only flow
    rows); the findings go to standard error (issue 12 #10)."""
    import csv
    import io

    run = tcpwatch("-r", str(DATA / "zeek_nmap-vsn.pcap"), "--export", "csv", "--insights")
    assert run.returncode == 0, run.stderr
    rows = list(csv.DictReader(io.StringIO(run.stdout)))
    assert rows and all(row["uid"].startswith("C") for row in rows)
    assert "[alert] port_scan 192.168.1.71: " in run.stderr


def test_normal_session_prints_no_warning() -> None:
    """A clean HTTP GET: nothing above info."""
    run = tcpwatch("-r", str(DATA / "zeek_http_get.pcap"), "--insights")
    assert run.returncode == 0
    assert not [line for line in run.stdout.splitlines() if not line.startswith("[info]")]


def test_threshold_overrides() -> None:
    """`name=value` overrides for a CLI flag; bad items are one-line ValueErrors."""
    th = thresholds_from(["scan_min_flows=20", "slow-irtt=0.5"])
    assert th.scan_min_flows == 20 and th.slow_irtt == 0.5
    assert th.scan_min_targets == Thresholds().scan_min_targets
    for bad in ("nope=1", "scan_min_flows=x", "slow_irtt", "pending=-1"):
        with pytest.raises(ValueError) as err:
            thresholds_from([bad])
        assert "\n" not in str(err.value)
