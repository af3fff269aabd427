"""The live export of deliberate TCP endings, in a network namespace the test creates.

The real CLI captures the namespace's loopback (`-i lo --export jsonl -w`), tcpdump captures it
alongside, and `live_scenarios.py` makes the connections on 127.0.0.1 and ::1 from two
processes (server, client). The live export must hold exactly the scenario flows with the right
states and ends, equal the export of tcpdump's capture, and name the processes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from captures import pcap_records
from live_traffic import TCPWATCH, capturing, needs_root, needs_tcpdump, wait_until

from capture.pcapio import CaptureError

pytestmark = [pytest.mark.live, pytest.mark.netns, pytest.mark.slow, needs_root, needs_tcpdump]

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = str(Path(__file__).resolve().parent / "live_scenarios.py")
HOSTS = ("127.0.0.1", "::1")


def _frames(path: Path) -> list[bytes]:
    try:
        return [data for _ts, _wire, data, _lt in pcap_records(path)]
    except CaptureError:
        return []


def _both_settled(a: Path, b: Path) -> bool:
    first = (len(_frames(a)), len(_frames(b)))
    ok = wait_until(lambda: (len(_frames(a)), len(_frames(b))) != first, 1.2)
    return not ok and first[0] == first[1] > 0


class Run:
    """One capture of every scenario: the live records, tcpdump's records, the processes."""

    def __init__(self, ns: list[str], tmp: Path) -> None:
        self.live_pcap, self.ref_pcap = tmp / "live.pcap", tmp / "ref.pcap"
        cli = [*ns, *TCPWATCH, "-i", "lo", "--export", "jsonl", "-w", str(self.live_pcap)]
        tw = subprocess.Popen(cli, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        dump = subprocess.Popen(
            [*ns, "tcpdump", "-i", "lo", "-n", "-U", "-B", "65536", "-w", str(self.ref_pcap)],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        try:
            assert wait_until(lambda: capturing(tw.pid) or tw.poll() is not None, 15)
            assert tw.poll() is None, tw.communicate()
            assert dump.stderr is not None
            assert "listening on" in dump.stderr.readline()
            self._scenarios(ns)
            assert wait_until(lambda: _both_settled(self.live_pcap, self.ref_pcap), 15)
        finally:
            tw.send_signal(signal.SIGTERM)
            dump.send_signal(signal.SIGINT)
            out, err = tw.communicate(timeout=20)
            dump.communicate(timeout=20)
        assert tw.returncode == 0, err
        self.totals = err.decode().strip()
        self.live = [json.loads(line) for line in out.splitlines()]
        ref = subprocess.run(
            [*TCPWATCH, "-r", str(self.ref_pcap), "--export", "jsonl"],
            cwd=REPO, capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        self.ref = [json.loads(line) for line in ref.stdout.splitlines()]

    def _scenarios(self, ns: list[str]) -> None:
        py = [*ns, sys.executable, SCENARIOS]
        server = subprocess.Popen(
            [*py, "serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert server.stdout is not None and server.stdin is not None
        served = json.loads(server.stdout.readline())
        self.server_pid, self.ports = served["pid"], served["ports"]
        client = subprocess.run(
            [*py, "run", json.dumps(self.ports)], capture_output=True, text=True, timeout=60
        )
        server.stdin.close()
        server.wait(timeout=20)
        assert client.returncode == 0, client.stderr
        got = json.loads(client.stdout)
        self.client_pid, self.clients = got["pid"], got["clients"]

    def flow(self, host: str, scenario: str) -> dict[str, Any]:
        """The live record of one scenario's flow."""
        port = self.ports[host]["backlog" if scenario.startswith("backlog") else scenario]
        cport = self.clients[host][scenario]
        found = [
            r for r in self.live if (r["orig_h"], r["orig_p"], r["resp_p"]) == (host, cport, port)
        ]
        assert len(found) == 1, (scenario, host, self.live)
        return found[0]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """The scenarios, captured once for every test of this module."""
    name = f"tcpwatch-test-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        ns = ["ip", "netns", "exec", name]
        subprocess.run([*ns, "ip", "link", "set", "lo", "up"], check=True)
        yield Run(ns, tmp_path_factory.mktemp("flows"))
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


SCENARIO_NAMES = (
    "client_close",
    "server_close",
    "half_close",
    "rst",
    "refused",
    "backlog_filler",
    "backlog_syn",
    "simultaneous",
)


def test_export_holds_exactly_the_scenario_flows(run: Run) -> None:
    """Sixteen flows: each scenario once on 127.0.0.1 and once on ::1, nothing else."""
    assert len(run.live) == len(SCENARIO_NAMES) * len(HOSTS)
    for host in HOSTS:
        for name in SCENARIO_NAMES:
            run.flow(host, name)


def test_live_capture_equals_tcpdump_capture(run: Run) -> None:
    """Same frames as tcpdump, and the same records from its capture (lo counted once).

    Two packets sent at the same moment (an IPv4 and an IPv6 SYN of two scenarios) may reach
    two packet sockets in either order: frames are compared as a multiset, and records by
    connection (their uids follow the order in which flows were first seen)."""
    assert sorted(_frames(run.live_pcap)) == sorted(_frames(run.ref_pcap))
    assert len(run.live) == len(run.ref)
    by_conn = {_conn(r): r for r in run.ref}
    assert len(by_conn) == len(run.ref)
    for live in run.live:
        ref = by_conn[_conn(live)]
        assert _untimed(live) == _untimed(ref)
        # Times agree to within a millisecond: each packet socket stamps a packet as it gets its
        # own copy (seen up to 35 µs apart, and 115 µs once on a busy CI machine), and a pcap holds
        # µs where live has ns.
        for key in TIMED:
            assert _flat(live[key]) == pytest.approx(_flat(ref[key]), abs=1e-3), key
    assert f"{len(_frames(run.ref_pcap))} frames" in run.totals


def test_processes_are_named(run: Run) -> None:
    """Every flow to the server names the server's pid; long-lived clients name the client."""
    for r in run.live:
        if r["conn_state"] != "REJ":
            assert r["pid_resp"] == run.server_pid, r
            assert r["proc_resp"]
    for host in HOSTS:
        for name in ("client_close", "backlog_filler", "backlog_syn"):  # alive >= 2 s
            assert run.flow(host, name)["pid_orig"] == run.client_pid, name


TIMED = ("ts", "duration", "irtt", "rtt_syn_synack", "rtt_synack_ack", "syn_retry_gaps")
PROCS = ("pid_orig", "pid_resp", "proc_orig", "proc_resp")


def _untimed(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in TIMED + PROCS + ("uid",)}


def _conn(record: dict[str, Any]) -> tuple[Any, ...]:
    """One connection: its endpoints and the originator's ISN (port reuse makes a new one)."""
    return (
        record["orig_h"],
        record["orig_p"],
        record["resp_h"],
        record["resp_p"],
        record["isn_orig"],
    )


def _flat(value: Any) -> list[float]:
    if value is None:
        return []
    return [float(v) for v in value] if isinstance(value, list) else [float(value)]


# scenario: conn_state, history (retransmission letters aside), closed_by, close_kind,
# payload bytes each way (Zeek's orig_bytes, resp_bytes), end states
TW, CL, FIN = "TIME_WAIT", "CLOSED", ("fin-3way", "fin-4way")
EXPECTED = {
    "client_close": ("SF", "ShADadFf", "orig", FIN, 6, 6, TW, CL),
    "server_close": ("SF", "ShAdfFa", "resp", FIN, 0, 20, CL, TW),
    "half_close": ("SF", "ShADaFdf", "orig", ("fin-4way",), 11, 27, TW, CL),
    "rst": ("RSTO", "ShADaR", "orig", ("rst",), 1, 0, CL, CL),
    "refused": ("REJ", "Sr", "resp", ("rst",), 0, 0, CL, CL),
    "backlog_filler": ("RSTO", "ShAR", "orig", ("rst",), 0, 0, CL, CL),
    "backlog_syn": ("S0", "S", "", ("",), 0, 0, "SYN_SENT", "UNKNOWN"),
    "simultaneous": ("SF", "ShADaFf", "orig", ("simultaneous",), 6017, 0, TW, TW),
}  # fmt: skip


@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("scenario", SCENARIO_NAMES)
def test_each_ending_is_recognised(run: Run, scenario: str, host: str) -> None:
    """conn_state, history, who closed and how, payload sizes and end states per scenario."""
    r = run.flow(host, scenario)
    state, history, by, kinds, ob, rb, end_o, end_r = EXPECTED[scenario]
    assert (r["conn_state"], r["history"].replace("T", "").replace("t", "")) == (state, history)
    assert (r["closed_by"], r["orig_bytes"], r["resp_bytes"]) == (by, ob, rb)
    assert r["close_kind"] in kinds
    assert (r["state_orig"], r["state_resp"]) == (end_o, end_r)
    assert r["syn_retries"] == 0 or scenario == "backlog_syn"


def test_full_backlog_syn_retries_follow_the_kernel_schedule(run: Run) -> None:
    """A full accept queue drops the SYN; its retries come when `retry_schedule` says (1 s apart
    with linear timeouts), until the TCP_SYNCNT time budget runs out."""
    from capture.live.procs import retry_schedule

    schedule = retry_schedule(syn_retries=1)
    gaps = [b - a for a, b in pairwise([0.0, *schedule.retry_offsets()])]
    for host in HOSTS:
        r = run.flow(host, "backlog_syn")
        assert r["syn_retries"] == schedule.retries
        assert r["orig_pkts"] == 1 + schedule.retries and r["resp_pkts"] == 0
        assert r["syn_retry_gaps"] == pytest.approx(gaps, abs=0.25)
