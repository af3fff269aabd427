"""tcpwatch against Zeek's own test-suite baselines (`tests/data/zeek/`, see its README).

Each capture goes through the real pipeline (the engine's `Tracker`: reader, decoder, tracker,
`Flow.record()`) and every TCP connection in Zeek's conn.log must come out with the same
`history`, `conn_state`, `orig_bytes` and `resp_bytes` (where the baseline has them). Zeek's
`-C` (do not verify checksums) is mirrored by the tracker's `verify_checksums`.

The tests that need Zeek's per-connection state itself (each endpoint's size and state, and
`ZeekState` driven with Zeek's own connection identity) are Rust tests over the same baselines:
capture/engine/tests/zeek_baselines.rs.

Known, justified differences are tested as such at the end: Zeek ends a connection on its
timers (an unanswered SYN after `tcp_attempt_delay`, 5 s; idleness after `tcp_inactivity_timeout`,
5 min) and logs the packets after that as a new connection; the tracker keeps one flow per
4-tuple until a new SYN.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from capture import _engine

DATA = Path(__file__).parent / "data"
BASE = DATA / "zeek"

# (capture, baseline, Zeek verified checksums: the btest ran without -C)
CONN_LOGS = [
    ("zeek_tcp_missing-syn.pcap", "core.tcp.missing-syn.conn.log", False),
    ("zeek_http_get.pcap", "core.tcp.reassembly-known-ports.conn.log", True),
    ("zeek_tcp_http-on-irc-port-missing-syn.pcapng", "core.tcp.flip-without-syn.conn.log", True),
    ("zeek_tcp_miss_end_data.pcap", "core.tcp.miss-end-data.conn.log", True),
    ("zeek_tcp_retransmit-fast009.pcap", "core.tcp.rxmit-history.conn-1.log", False),
    ("zeek_wikipedia.pcap", "core.tcp.rxmit-history.conn-2.log", False),
    ("zeek_mixed-vlan-mpls.pcap", "core.vlan-mpls.conn.log", False),
    ("zeek_ftp_ipv6.pcap", "scripts.base.protocols.ftp.ftp-ipv6.conn.log", True),
    ("zeek_tls_irc-starttls.pcap", "scripts.base.protocols.irc.starttls.conn.log", False),
    ("zeek_tcp-http-with-padding.pcap", "core.tcp-padding.conn.log", False),
    ("zeek_tcp_one-sided-2745.pcap", "core.conn-size-flip.conn.log.one-sided", False),
    ("zeek_tcp_ctu-64702-888.pcap", "core.conn-size-flip.conn.log.ctu", False),
]
COMPARED = ("history", "conn_state", "orig_bytes", "resp_bytes")


def run_pipeline(capture: str, verify: bool) -> list[Any]:
    """All flows of a capture, through the engine's reader, decoder and tracker."""
    tracker = _engine.Tracker(verify_checksums=verify)
    counters = tracker.read_file(str(DATA / capture))
    assert counters["error"] is None
    tracker.finish()
    return tracker.flows()


def read_log(name: str) -> list[dict[str, str]]:
    """Rows of a Zeek log baseline: full ASCII logs (#fields) or zeek-cut -m output."""
    lines = [ln for ln in (BASE / name).read_text().splitlines() if not ln.startswith("###")]
    fields: list[str] = []
    rows = []
    for line in lines:
        if line.startswith("#fields"):
            fields = line.split("\t")[1:]
        elif line.startswith("#"):
            continue
        elif not fields:
            fields = line.split("\t")
        else:
            rows.append(dict(zip(fields, line.split("\t"), strict=True)))
    return [r for r in rows if r.get("proto", "tcp") == "tcp"]


def _key(row: dict[str, str]) -> tuple[str, int, str, int]:
    return (row["id.orig_h"], int(row["id.orig_p"]), row["id.resp_h"], int(row["id.resp_p"]))


def _flows_by_key(flows: list[Any]) -> dict[tuple[str, int, str, int], list[dict[str, Any]]]:
    out: dict[tuple[str, int, str, int], list[dict[str, Any]]] = {}
    for flow in flows:
        rec = flow.record()
        out.setdefault((rec["orig_h"], rec["orig_p"], rec["resp_h"], rec["resp_p"]), []).append(rec)
    return out


@pytest.mark.parametrize(("capture", "log", "verify"), CONN_LOGS, ids=[c[1] for c in CONN_LOGS])
def test_conn_log_matches_zeek(capture: str, log: str, verify: bool) -> None:
    """Every TCP connection of the baseline: same 4-tuple orientation, history, state, sizes."""
    # GIVEN Zeek's conn.log for the capture
    rows = read_log(log)
    assert rows
    # WHEN the capture runs through tcpwatch
    flows = _flows_by_key(run_pipeline(capture, verify))
    # THEN each connection is there, oriented as Zeek did, with Zeek's values
    for row in rows:
        recs = flows.get(_key(row))
        assert recs is not None, f"{_key(row)} missing; flows: {sorted(flows)}"
        expected = {k: row[k] for k in COMPARED if k in row and row[k] != "-"}
        got = {k: str(recs[0][k]) for k in expected}
        assert got == expected, _key(row)
    assert len(flows) == len(rows)


RST_BEHAVIOR = [
    "zeek_tcp_single-rst.pcap",
    "zeek_tcp_syn-then-rst.pcap",
    "zeek_tcp_syn-then-ack-then-rst.pcap",
    "zeek_tcp_syn-then-stuff-then-rst.pcap",
]


@pytest.mark.parametrize("line", range(4), ids=RST_BEHAVIOR)
def test_conn_state_rst_behavior(line: int) -> None:
    """scripts.base.protocols.conn.conn_state-RST-behavior: `history, conn_state` per capture."""
    out = (BASE / "scripts.base.protocols.conn.conn_state-RST-behavior.out").read_text()
    expected = [ln for ln in out.splitlines() if not ln.startswith("###")][line]
    (flow,) = run_pipeline(RST_BEHAVIOR[line], False)
    assert f"{flow.history}, {flow.conn_state}" == expected


def test_bad_checksum_syn() -> None:
    """core.tcp.bad-checksum-syn: checksums verified, the lone SYN is bad: history C, OTH."""
    (row,) = read_log("core.tcp.bad-checksum-syn.conn.log")
    (flow,) = run_pipeline("zeek_tcp_syn-bad.pcap", True)
    assert (flow.history, flow.conn_state) == (row["history"], row["conn_state"]) == ("C", "OTH")


def test_half_duplex_attempt_timer_difference() -> None:
    """Documented difference: Zeek's attempt timer splits an unanswered connection in two.

    In ssh.client-side-half-duplex only the client is visible. Zeek gives up on a SYN nobody
    answered after tcp_attempt_delay (5 s, TCPSessionAdapter::AttemptTimer) and logs it
    (`SAD`, S0); the client's later packets start a new connection without SYN (`DAF` or `ADF`,
    SH). tcpwatch keeps them in one flow: its history is the first part's plus the second's new
    letters, its sizes their sum, its state the final one. The connections Zeek did not split
    must match exactly.
    """
    rows = read_log("scripts.base.protocols.ssh.half-duplex-client.conn.log")
    flows = _flows_by_key(run_pipeline("zeek_ssh_ssh.client-side-half-duplex.pcap", False))
    by_key: dict[tuple[str, int, str, int], list[dict[str, str]]] = {}
    for row in rows:
        by_key.setdefault(_key(row), []).append(row)
    split = 0
    for key, parts in by_key.items():
        (rec,) = flows[key]
        if len(parts) == 1:
            assert [str(rec[k]) for k in COMPARED] == [parts[0][k] for k in COMPARED]
            continue
        split += 1
        first, second = parts
        assert (first["history"], first["conn_state"]) == ("SAD", "S0")
        assert rec["history"] == "SADF" and rec["conn_state"] == second["conn_state"] == "SH"
        assert rec["orig_bytes"] == int(first["orig_bytes"]) + int(second["orig_bytes"])
    assert split == 5 and len(flows) == len(by_key)


def test_inactivity_timeout_difference() -> None:
    """Documented difference: Zeek's inactivity timeout splits retransmit-timeout in two.

    The data segment, its ACK, and the same segment again 300 s later: Zeek's
    tcp_inactivity_timeout (5 min) has removed the connection (`Da`), so the resend opens a new
    one (`D`). tcpwatch keeps one flow and counts the resend as a retransmission (`T`).
    """
    rows = read_log("core.expire-all-timers.conn-all.log")
    assert [(r["history"], r["conn_state"]) for r in rows] == [("Da", "OTH"), ("D", "OTH")]
    (flow,) = run_pipeline("zeek_tcp_retransmit-timeout.pcapng", False)
    rec = flow.record()
    assert (rec["history"], rec["conn_state"], rec["orig_bytes"]) == ("DaT", "OTH", 18)
    assert rec["orig_bytes"] == int(rows[0]["orig_bytes"])
