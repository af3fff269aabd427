"""FlowTracker on hand-built segments: identity, orientation, handshake, teardown, bounds."""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capture.flows import Flow, FlowTracker
from capture.tcpstate import STATES
from tests.segmaker import Conv, make_segment, syn_options

RECORD_FIELDS = [
    *("ts", "uid", "orig_h", "orig_p", "resp_h", "resp_p", "duration", "orig_pkts", "resp_pkts"),
    *("orig_bytes", "resp_bytes", "orig_ip_bytes", "resp_ip_bytes", "conn_state", "history"),
    *("state_orig", "state_resp", "flags_orig", "flags_resp", "payload_orig", "payload_resp"),
    *("isn_orig", "isn_resp", "mss_orig", "mss_resp", "wscale_orig", "wscale_resp", "sack_perm"),
    *("timestamps", "irtt", "rtt_syn_synack", "rtt_synack_ack", "syn_retries", "syn_retry_gaps"),
    *("retrans_orig", "retrans_resp", "zero_window", "closed_by", "close_kind", "illegal_flags"),
    *("direction_inferred", "vlan", "pid_orig", "pid_resp", "proc_orig", "proc_resp"),
]


def feed(tracker: FlowTracker, segs: list[Any]) -> list[Flow]:
    """Ingest every segment; return the flow each one went to."""
    return [tracker.ingest(seg) for seg in segs]


def handshake(c: Conv, t0: float = 100.0) -> list[Any]:
    return [
        c.c("S", at=t0, opts=syn_options(mss=1460, wscale=7)),
        c.s("S.", at=t0 + 0.030, opts=syn_options(mss=1380, wscale=9, ts=False)),
        c.c(".", at=t0 + 0.031),
    ]


def test_handshake_record() -> None:
    """ISNs, options and the three handshake times, in the export record."""
    c = Conv(isn_c=111, isn_s=222)
    flow = feed(FlowTracker(), handshake(c) + [c.c("P.", 300), c.s(".")])[-1]
    rec = flow.record()
    assert (rec["isn_orig"], rec["isn_resp"]) == (111, 222)
    assert (rec["mss_orig"], rec["mss_resp"], rec["wscale_orig"], rec["wscale_resp"]) == (
        1460,
        1380,
        7,
        9,
    )
    assert rec["sack_perm"] is True and rec["timestamps"] is False  # server sent no TS option
    assert rec["rtt_syn_synack"] == pytest.approx(0.030, abs=1e-9)
    assert rec["rtt_synack_ack"] == pytest.approx(0.001, abs=1e-9)
    assert rec["irtt"] == pytest.approx(0.031, abs=1e-9)
    assert (rec["state_orig"], rec["state_resp"], rec["direction_inferred"]) == (
        "ESTABLISHED",
        "ESTABLISHED",
        False,
    )
    assert (rec["orig_pkts"], rec["resp_pkts"], rec["payload_orig"]) == (3, 2, 300)


def test_record_has_every_field_and_is_json() -> None:
    """record() gives exactly the agreed fields, JSON-serialisable, with a Zeek-style uid."""
    c = Conv()
    flow = feed(FlowTracker(), handshake(c))[-1]
    rec = flow.record()
    assert list(rec) == RECORD_FIELDS
    json.dumps(rec)
    assert re.fullmatch(r"C[0-9A-Za-z]{17}", rec["uid"])
    assert rec["uid"] == Flow.uid.fget(flow)  # type: ignore[attr-defined]
    assert FlowTracker().ingest(Conv().c("S")).uid == rec["uid"]  # same id, same uid


def test_counters_per_direction() -> None:
    """Packets, IP bytes, payload and per-flag counts are kept per direction."""
    c = Conv()
    segs = handshake(c) + [c.c("P.", 100), c.s("PE.", 50), c.c("F."), c.s("R")]
    flow = feed(FlowTracker(), segs)[-1]
    o, r = flow.orig, flow.resp
    assert (o.pkts, r.pkts) == (4, 3)
    assert o.ip_bytes == sum(s.ip_len for s in segs if s.sport == 40000)
    assert (o.payload, r.payload) == (100, 50)
    names = ("syn", "synack", "fin", "rst", "psh", "urg", "ece", "cwr", "ack")
    assert o.flags == dict(zip(names, (1, 0, 1, 0, 1, 0, 0, 0, 3), strict=True))
    assert r.flags == dict(zip(names, (0, 1, 0, 1, 1, 0, 1, 0, 2), strict=True))


def test_both_directions_one_flow_and_loopback_same_address() -> None:
    """Both directions find one flow, also when both ends share the address (loopback)."""
    c = Conv(client=("127.0.0.1", 50000), server=("127.0.0.1", 8080))
    flows = feed(FlowTracker(), handshake(c) + [c.s("P.", 10)])
    assert len({f.id for f in flows}) == 1
    assert (flows[0].orig_port, flows[0].resp_port) == (50000, 8080)
    assert (flows[0].orig.pkts, flows[0].resp.pkts) == (2, 2)


def test_vlans_separate_flows() -> None:
    """The same 4-tuple on two VLAN stacks is two flows."""
    t = FlowTracker()
    a = t.ingest(Conv(vlan=(10,)).c("S"))
    b = t.ingest(Conv(vlan=(10, 20)).c("S"))
    c = t.ingest(Conv(vlan=(10,)).c("S"))
    assert a is c and a is not b
    assert b.record()["vlan"] == [10, 20]


SYN_RETRIES = [0.0, 1.0, 3.0, 7.0]


def test_syn_retry_gaps() -> None:
    """SYN retransmissions (same ISN) stay in the flow; their gaps are 1, 2, 4 s."""
    c = Conv()
    segs = [c.c("S", at=50.0 + t, seq=1000) for t in SYN_RETRIES]
    segs += [c.s("S.", at=57.2), c.c(".", at=57.25)]
    flows = feed(FlowTracker(), segs)
    flow = flows[-1]
    assert len({f.id for f in flows}) == 1
    assert flow.syn_retries == 3
    assert flow.syn_retry_gaps == [1.0, 2.0, 4.0]
    # Wireshark times the handshake from the most recent SYN.
    assert flow.rtt_syn_synack == pytest.approx(0.2)
    assert flow.irtt == pytest.approx(0.25)
    assert flow.orig.retrans == 3


def test_synack_retries() -> None:
    """The responder's retransmitted SYN/ACKs are counted with their gaps."""
    c = Conv()
    segs = [c.c("S", at=1.0), c.s("S.", at=1.1), c.s("S.", at=2.1, seq=5000)]
    flow = feed(FlowTracker(), segs)[-1]
    assert (flow.synack_retries, flow.synack_retry_gaps) == (1, [1.0])


def close(c: Conv, kind: str) -> list[Any]:
    """The teardown segments of each close kind, after a handshake."""
    kinds: dict[str, Callable[[], list[Any]]] = {
        "fin-4way": lambda: [c.c("F."), c.s("."), c.s("F."), c.c(".")],
        "fin-3way": lambda: [c.c("F."), c.s("F."), c.c(".")],
        "simultaneous": lambda: [c.c("F."), c.s("F.", ack=1001), c.c("."), c.s(".")],
        "rst": lambda: [c.s("R.")],
        "fin-then-rst": lambda: [c.c("F."), c.s("R.")],
        "half-closed": lambda: [c.c("F."), c.s("."), c.s("P.", 20)],
        "": lambda: [c.c("P.", 20)],
        "fin-4way-then-rst": lambda: [c.c("F."), c.s("."), c.s("F."), c.c("."), c.c("R")],
    }
    return kinds[kind]()


@pytest.mark.parametrize(
    ("kind", "expected", "closed_by", "time_wait_by", "closed"),
    [
        ("fin-4way", "fin-4way", "orig", "orig", True),
        ("fin-3way", "fin-3way", "orig", "orig", True),
        ("simultaneous", "simultaneous", "orig", "both", True),
        ("rst", "rst", "resp", "", True),
        ("fin-then-rst", "fin-then-rst", "orig", "", True),
        ("half-closed", "half-closed", "orig", "", False),
        ("", "", "", "", False),
        ("fin-4way-then-rst", "fin-4way", "orig", "orig", True),
    ],
)
def test_close_kinds(
    kind: str, expected: str, closed_by: str, time_wait_by: str, closed: bool
) -> None:
    """Each teardown pattern is named, with who closed first and who entered TIME_WAIT."""
    c = Conv()
    flow = feed(FlowTracker(), handshake(c) + close(c, kind))[-1]
    assert flow.close_kind == expected
    assert flow.closed_by == closed_by
    assert flow.time_wait_by == time_wait_by
    assert flow.closed is closed


def test_rst_by_and_state() -> None:
    """Who sent the first RST, and in which state."""
    c = Conv()
    flow = feed(FlowTracker(), [c.c("S"), c.s("R.", ack=1001)])[-1]
    assert (flow.rst_by, flow.rst_state, flow.close_kind) == ("resp", "UNKNOWN", "rst")
    # tshark's iRTT runs to the first segment with ACK and without SYN, whatever it is.
    assert flow.irtt == pytest.approx(0.001)
    assert flow.conn_state and flow.history.startswith("S")


def reconnect(c: Conv, isn: int) -> Any:
    """The client's next SYN on the same 4-tuple, with ISN `isn`."""
    c.nxt["c"] = isn
    return c.c("S")


@pytest.mark.parametrize(
    ("before", "new_isn", "new_flow"),
    [
        ("fin-4way", 9_000_000, True),  # closed, client in TIME_WAIT: the port is reused
        ("fin-3way", 9_000_000, True),
        ("rst", 9_000_000, True),
        ("fin-4way", 1000, False),  # same ISN: a (late) retransmission of the first SYN
        ("", 9_000_000, True),  # an open flow: a new ISN is a new attempt, as in tcp.stream
    ],
)
def test_port_reuse(before: str, new_isn: int, new_flow: bool) -> None:
    """A SYN with a new ISN on the 4-tuple starts a new flow; the same ISN does not."""
    c = Conv(isn_c=1000)
    t = FlowTracker()
    first = feed(t, handshake(c) + close(c, before))[-1]
    nxt = t.ingest(reconnect(c, new_isn))
    assert (nxt is not first) is new_flow
    if new_flow:
        assert first.superseded and nxt.id == first.id + 1
        assert (nxt.orig.isn, nxt.orig.pkts, nxt.state_orig) == (new_isn, 1, "SYN_SENT")
        assert t.ingest(c.s("S.", seq=7777)) is nxt  # the new flow owns the 4-tuple now
        assert first.id in t.flows  # the old one stays until evicted


def test_sequence_wrap_is_not_a_retransmission() -> None:
    """Data crossing 2**32 advances the sequence space; re-sent data after the wrap is counted."""
    c = Conv(isn_c=2**32 - 100)
    segs = handshake(c) + [c.c("P.", 60), c.c("P.", 60), c.c("P.", 60)]
    flow = feed(FlowTracker(), segs)[-1]
    assert flow.orig.retrans == 0
    assert flow.orig.hi == (2**32 - 100 + 1 + 180) % 2**32
    tracker = FlowTracker()
    feed(tracker, segs)
    flow = tracker.ingest(c.c("P.", 60, seq=segs[-1].seq))  # the last segment again
    assert flow.orig.retrans == 1


def test_keepalive_is_not_a_retransmission() -> None:
    """A 1-byte keep-alive one below the next sequence number is not a retransmission."""
    c = Conv()
    segs = handshake(c) + [c.c("P.", 10), c.c(".", 1, seq=1010)]
    assert feed(FlowTracker(), segs)[-1].orig.retrans == 0


def test_zero_window() -> None:
    """Window 0 is counted per side; not on an RST (a stack's RST often says 0)."""
    c = Conv()
    segs = handshake(c) + [c.s(".", window=0), c.s(".", window=0), c.c("R.", window=0)]
    flow = feed(FlowTracker(), segs)[-1]
    assert (flow.resp.zero_window, flow.orig.zero_window, flow.record()["zero_window"]) == (2, 0, 2)


@pytest.mark.parametrize(
    ("flags", "names"),
    [
        ("SF", {"syn+fin": 1}),
        ("SR", {"syn+rst": 1}),
        ("FR.", {"fin+rst": 1}),
        ("none", {"null": 1}),
        ("FPU", {"xmas": 1}),
        ("SFRPU.", {"syn+fin": 1, "syn+rst": 1, "fin+rst": 1, "xmas": 1}),
        ("S", {}),
    ],
)
def test_illegal_flags(flags: str, names: dict[str, int]) -> None:
    """Illegal flag combinations are counted per flow."""
    seg = make_segment("10.0.0.9", 1234, "10.0.0.10", 22, flags, seq=5)
    flow = FlowTracker().ingest(seg)
    assert flow.record()["illegal_flags"] == names


def test_orientation_first_syn() -> None:
    """The first SYN's sender is the originator, not inferred."""
    c = Conv(client=("10.0.0.1", 80), server=("10.0.0.2", 40000))  # odd ports, SYN decides
    flow = FlowTracker().ingest(c.c("S"))
    assert (flow.orig_port, flow.direction_inferred) == (80, False)


def test_orientation_synack_first() -> None:
    """Without the SYN, a SYN/ACK's sender is the responder; Zeek's history shows the flip."""
    c = Conv()
    flows = feed(FlowTracker(), [c.s("S.", ack=1001), c.c("."), c.c("P.", 5)])
    flow = flows[-1]
    assert (flow.orig_port, flow.resp_port, flow.direction_inferred) == (40000, 80, True)
    assert flow.history.startswith("^")
    assert (flow.orig.pkts, flow.resp.pkts) == (2, 1)


def test_orientation_synack_before_syn() -> None:
    """A SYN/ACK captured before its SYN: the late SYN confirms the orientation."""
    c = Conv()
    t = FlowTracker()
    flows = [t.ingest(c.s("S.", ack=1001)), t.ingest(c.c("S")), t.ingest(c.c("."))]
    flow = flows[-1]
    assert len({f.id for f in flows}) == 1
    assert (flow.orig_port, flow.direction_inferred, flow.orig.isn) == (40000, False, 1000)


@pytest.mark.parametrize(
    ("first_from", "orig_port"),
    [
        ("c", 40000),  # data from the client to port 80: its sender is the originator
        ("s", 40000),  # data from port 80 first: Zeek flips (likely server port)
    ],
)
def test_orientation_mid_stream(first_from: str, orig_port: int) -> None:
    """Mid-stream flows: first packet's sender, unless Zeek's server-port heuristic flips it."""
    c = Conv()
    flow = FlowTracker().ingest(c.send(first_from, "P.", 100))
    assert (flow.orig_port, flow.direction_inferred) == (orig_port, True)
    assert flow.history.startswith("^") is (first_from == "s")


@pytest.mark.parametrize(
    "listen",
    [{7000}, {(bytes([10, 0, 0, 2]), 7000)}],
)
def test_orientation_listen_ports(listen: set[Any]) -> None:
    """Live mode: our listening endpoint is the responder, whoever spoke first."""
    c = Conv(client=("10.0.0.1", 50123), server=("10.0.0.2", 7000))
    t = FlowTracker()
    t.listen_ports = listen
    flow = t.ingest(c.s("P.", 10))
    assert (flow.orig_port, flow.resp_port, flow.direction_inferred) == (50123, 7000, True)


def test_tfo_cookie_and_syn_data() -> None:
    """TFO: the cookie and the data carried on the SYN are kept."""
    tfo = struct.pack("!BB", 34, 10) + b"\x01" * 8
    c = Conv()
    flow = FlowTracker().ingest(c.c("S", 120, opts=tfo))
    assert (flow.orig.tfo, flow.orig.syn_data) == (b"\x01" * 8, 120)


def test_eviction_closed_first_then_idle() -> None:
    """At the cap, closed flows go first, then the longest idle; on_evict sees each."""
    gone: list[int] = []
    t = FlowTracker(max_flows=3, on_evict=lambda f: gone.append(f.id))
    t.take_changed()  # a UI asks from the start, so it hears of evictions
    a, b, cc = (Conv(client=("10.0.0.1", 1000 + i), t0=10.0 * i) for i in range(3))
    feed(t, handshake(a, 1.0) + handshake(b, 2.0) + handshake(cc, 3.0))
    feed(t, [b.c("R.", at=4.0), a.c(".", at=5.0)])  # b closed; c idle longest among open
    d = Conv(client=("10.0.0.1", 2000))
    t.ingest(d.c("S", at=6.0))
    assert gone == [2] and t.evicted == 1
    e = Conv(client=("10.0.0.1", 2001))
    t.ingest(e.c("S", at=7.0))
    assert gone == [2, 3] and sorted(t.flows) == [1, 4, 5]
    assert {2, 3} <= t.take_changed()
    # An evicted 4-tuple starts afresh.
    assert t.ingest(b.c("P.", 10, at=8.0)).id == 6


def test_frames_ring_and_kept_handshake() -> None:
    """The ring keeps the last N segments; handshake and teardown segments are kept too."""
    c = Conv()
    segs = handshake(c) + [c.c("P.", 10) for _ in range(20)] + [c.c("F.")]
    t = FlowTracker(frames_per_flow=4)
    flow = feed(t, segs)[-1]
    kept = [s.frame_no for s in flow.frames()]
    assert kept == [1, 2, 3, 21, 22, 23, 24]
    assert FlowTracker(frames_per_flow=0).ingest(Conv().c("S")).frames() == []


def test_take_changed() -> None:
    """take_changed gives the ids touched since the last call (the first call: all flows)."""
    t = FlowTracker()
    a, b, c = (Conv(client=("10.0.0.1", port)) for port in (1, 2, 3))
    feed(t, [a.c("S"), b.c("S")])
    assert t.take_changed() == {1, 2}
    assert t.take_changed() == set()
    feed(t, [b.s("S."), c.c("S")])
    assert t.take_changed() == {2, 3}


def test_finish_and_all_flows_in_id_order() -> None:
    """finish() marks the end; all_flows() lists the tracked flows by id."""
    t = FlowTracker()
    for i in range(5):
        t.ingest(Conv(client=("10.0.0.1", 100 - i)).c("S"))
    t.take_changed()
    t.finish()
    assert t.finished and [f.id for f in t.all_flows()] == [1, 2, 3, 4, 5]
    assert t.take_changed() == {1, 2, 3, 4, 5}


CLOSE_KINDS = {"", "half-closed", "fin-4way", "fin-3way", "simultaneous", "rst", "fin-then-rst"}


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["c", "s"]),
            st.integers(0, 0x1FF),
            st.integers(0, 3000),
            st.one_of(st.none(), st.integers(0, 2**32 - 1)),
            st.integers(0, 1),
        ),
        max_size=40,
    ),
    st.integers(0, 2**32 - 1),
)
def test_any_segment_sequence_keeps_invariants(steps: list[Any], isn: int) -> None:
    """Whatever segments come (any flags, seq, length), counts add up and states stay valid."""
    c = Conv(isn_c=isn, isn_s=isn ^ 0x5A5A5A5A)
    t = FlowTracker(max_flows=4, frames_per_flow=3)
    t.take_changed()
    for side, bits, length, seq, window in steps:
        seg = make_segment(
            *c.ends[side], *c.ends["s" if side == "c" else "c"], bits,
            seq=c.nxt[side] if seq is None else seq, ack=c.nxt["s" if side == "c" else "c"],
            payload_len=length, window=window,
        )  # fmt: skip
        flow = t.ingest(seg)
        rec = flow.record()
        assert rec["close_kind"] in CLOSE_KINDS
        assert {rec["state_orig"], rec["state_resp"]} <= set(STATES)
        assert all(tr.old in STATES and tr.new in STATES for tr in flow.transitions)
        json.dumps(rec)
    seen = t.all_flows()
    if not t.evicted:
        assert sum(f.orig.pkts + f.resp.pkts for f in seen) == len(steps)
    assert t.take_changed() <= {f.id for f in seen} | set(range(1, t.flow_count + 1))


def test_simultaneous_open_is_one_flow() -> None:
    """SYNs from both ends: one flow, the first SYN's sender is the originator, both ISNs kept."""
    c = Conv(client=("10.0.0.1", 5000), server=("10.0.0.2", 6000), isn_c=10, isn_s=20)
    segs = [c.c("S"), c.s("S"), c.c("S.", seq=10), c.s("S.", seq=20), c.c(".")]
    flows = feed(FlowTracker(), segs)
    flow = flows[-1]
    assert len({f.id for f in flows}) == 1
    assert (flow.orig_port, flow.direction_inferred) == (5000, False)
    assert (flow.orig.isn, flow.resp.isn, flow.state_orig, flow.state_resp) == (
        10,
        20,
        "ESTABLISHED",
        "ESTABLISHED",
    )
    assert (flow.orig.flags["syn"], flow.resp.flags["syn"], flow.resp.flags["synack"]) == (1, 1, 1)
