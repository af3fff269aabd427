"""Ladder rows from real flows, checked against tshark's view of the same captures."""

from __future__ import annotations

from captures import Tracked, keep_all, read_segments, tracked
from test_tui_flow import HTTP

from widgets.ladder import arrow, fmt_dt
from widgets.ladder_rows import build_rows, illegal_combinations

# tshark 4.0.17: frame, tcp.seq, tcp.ack (relative), tcp.len for the one HTTP flow
TSHARK_HTTP = [
    (1, 0, 0, 0), (2, 0, 1, 0), (3, 1, 1, 0), (4, 1, 1, 367), (5, 1, 368, 0),
    (6, 1, 368, 1380), (7, 1381, 368, 321), (8, 1702, 368, 1380), (9, 3082, 368, 468),
    (10, 3550, 368, 0), (11, 368, 1702, 0), (12, 368, 3550, 0), (13, 368, 3551, 0),
    (14, 368, 3551, 0), (15, 3551, 369, 0),
]  # fmt: skip


def rows_of(name: str, **kwargs) -> list:
    tracker = tracked(name, finish=False, **keep_all(**kwargs))
    return [row for flow in tracker.all_flows() for row in build_rows(flow)]


def test_relative_numbers_match_tshark():
    """Relative seq/ack (from each side's ISN) and lengths are tshark's, frame by frame."""
    rows = rows_of(HTTP)
    got = [(r.frame_no, r.rel_seq, r.rel_ack if r.frame_no > 1 else 0, r.length) for r in rows]
    assert got == TSHARK_HTTP


# tcpdump 4.99 -n on a capture that starts mid-stream: frame, seq, ack (relative; tcpdump
# prints the first line absolute, its relative seq is 0 and its ack 1). tshark 4.0.17 counts
# the first sender's numbers from 1 instead: (1, 1, 1), (2, 1, 2921) ... (6, 8761, 1).
TCPDUMP_ZERO_WINDOW = [
    (1, 0, 1), (2, 0, 2921), (3, 0, 5841), (4, 0, 8761), (5, 0, 8761), (6, 8761, 0),
    (7, 10221, 0),
]  # fmt: skip


def test_relative_numbers_without_a_handshake_match_tcpdump():
    """Mid-stream, numbers count from the base `--print` uses, tcpdump's (the peer's first ack
    - 1, else the direction's first sequence number): one rule for both views."""
    rows = rows_of("chrissanders_tcp_zerowindowrecovery.pcapng")
    assert [(r.frame_no, r.rel_seq, r.rel_ack) for r in rows] == TCPDUMP_ZERO_WINDOW


def test_absolute_numbers_are_the_segments_own():
    """Absolute seq/ack are the raw header values."""
    segs = read_segments(HTTP)
    rows = rows_of(HTTP)
    assert [(r.seq, r.ack) for r in rows] == [(s.seq, s.ack) for s in segs]
    assert rows[1].label(True).startswith(f"[S.] SYN ACK seq {segs[1].seq} ack {segs[1].ack}")


def test_retransmissions_match_tshark():
    """tshark marks frames 2-6 of this capture as retransmissions; so does the ladder."""
    rows = rows_of("chrissanders_tcp_retransmissions.pcapng")
    marked = [r.frame_no for r in rows if "[Retransmission]" in r.marks]
    assert marked == [2, 3, 4, 5, 6]


def test_zero_window_matches_tshark():
    """tshark 4.0.17: frame 4 is a zero window, frame 5 its window update."""
    rows = rows_of("chrissanders_tcp_zerowindowrecovery.pcapng")
    assert {r.frame_no: r.marks for r in rows if r.marks} == {
        4: ["[ZeroWindow]"],
        5: ["[Window Update]"],
    }


def test_dup_acks_and_fast_retransmission_match_tshark():
    """tshark 4.0.17's Info column: frames 3, 5, 7 `[TCP Dup ACK 1#1]` … `1#3`, frame 8
    `[TCP Fast Retransmission]`."""
    rows = rows_of("chrissanders_tcp_dupack.pcapng")
    assert {r.frame_no: r.marks for r in rows if r.marks} == {
        3: ["[Dup ACK #1]"],
        5: ["[Dup ACK #2]"],
        7: ["[Dup ACK #3]"],
        8: ["[Fast Retransmission]"],
    }


def test_keep_alives_and_zero_windows_match_tshark():
    """tshark 4.0.17: the server's keep-alives (3, 5, 7) between the client's zero windows."""
    rows = rows_of("chrissanders_tcp_zerowindowdead.pcapng")
    marked = {r.frame_no: r.marks for r in rows if r.marks}
    assert marked == {2: ["[ZeroWindow]"]} | {
        n: ["[Keep-Alive]"] if n % 2 else ["[ZeroWindow]"] for n in range(3, 9)
    }


def test_a_retried_syn_says_retry_not_retransmission():
    """A SYN retry's row names the retry and its gap; the engine's retransmission mark is the
    same fact and is not repeated."""
    rows = rows_of("chrissanders_nowebaccess3.pcapng")
    assert [r.marks for r in rows] == [
        [], ["SYN retry #1 (+4.996ms)"], ["SYN retry #2 (+997.114ms)"],
    ]  # fmt: skip


def test_illegal_flags_match_tshark_and_the_tracker():
    """nmap's OS probes (null, FIN+PSH+URG, SYN+FIN+PSH+URG): the frames tshark finds with
    `tcp.flags==0 || (syn && fin) || (fin && push && urg)`."""
    tracker = tracked("chrissanders_activeosfingerprinting.pcapng", finish=False, **keep_all())
    rows = [row for flow in tracker.all_flows() for row in build_rows(flow)]
    marked = {r.frame_no: m for r in rows for m in r.marks if m.startswith("illegal")}
    assert sorted(marked) == [20, 21, 25, 27, 28, 32, 34, 35, 39, 41, 43, 47]
    assert marked[20] == "illegal null (no flags)"
    assert marked[21] == "illegal SYN+FIN, xmas (FIN+PSH+URG)"
    assert marked[25] == "illegal xmas (FIN+PSH+URG)"
    counted = sum(sum((f.illegal or {}).values()) for f in tracker.all_flows())
    assert counted == sum(m.count(",") + 1 for m in marked.values())


def test_syn_options_and_transitions_on_rows():
    """SYN rows carry their options; each side's transitions sit on the frame that caused them."""
    rows = rows_of(HTTP)
    assert rows[0].options == "mss 1460,wscale 8,sackOK"
    assert rows[1].options == "mss 1380,wscale 0,sackOK"
    assert rows[0].orig_states == ["SYN_SENT"] and rows[1].resp_states == ["SYN_RECEIVED"]
    assert [r.frame_no for r in rows if "TIME_WAIT" in r.resp_states] == [15]


def test_illegal_combinations():
    """The combinations RFC 9293 never produces, all of them named; legal ones left alone."""
    assert illegal_combinations(0x00) == ["null (no flags)"]
    assert illegal_combinations(0x29) == ["xmas (FIN+PSH+URG)"]
    assert illegal_combinations(0x2B) == ["SYN+FIN", "xmas (FIN+PSH+URG)"]
    assert illegal_combinations(0x03) == ["SYN+FIN"]
    assert illegal_combinations(0x06) == ["SYN+RST"]
    assert illegal_combinations(0x05) == ["FIN+RST"]
    assert illegal_combinations(0x12) == illegal_combinations(0x11) == []
    assert illegal_combinations(0x14) == illegal_combinations(0x100) == []


def test_label_drops_least_useful_parts_when_narrow():
    """A narrow lane keeps flags and sequence numbers, dropping options, words, window first."""
    row = rows_of(HTTP)[1]
    full = row.label(False)
    assert full == "[S.] SYN ACK seq 0 ack 1 len 0 win 4140 <mss 1380,wscale 0,sackOK>"
    assert row.label(False, 40) == "[S.] SYN ACK seq 0 ack 1 len 0 win 4140"
    assert row.label(False, 31) == "[S.] seq 0 ack 1 len 0 win 4140"
    assert row.label(False, 30) == "[S.] seq 0 ack 1 len 0"
    assert row.label(False, 10) == "[S.] seq 0"


def test_arrow_and_dt_formats():
    """Arrows are exactly as wide as the lane; Δt picks a readable unit."""
    assert arrow("x", 8, True) == "─x ────▶" and arrow("x", 8, False) == "◀──── x─"
    assert len(arrow("a long label that cannot fit", 12, True)) == 12
    assert [fmt_dt(v) for v in (0, 85e-6, 0.012345, 1.2041)] == [
        "+0", "+85µs", "+12.345ms", "+1.204s",
    ]  # fmt: skip


def test_windows_show_their_scale_once_both_syns_offered_it():
    """RFC 7323: the client offered wscale 8 and the server 0; SYN windows are never scaled."""
    rows = rows_of(HTTP)
    assert "win 8192 " in rows[0].label(False) and "×" not in rows[0].label(False)
    assert rows[2].label(False).endswith("win 258×256")
    assert rows[4].label(False).endswith("win 4507")


def _shed_between(name: str, start: int, stop: int | None, ends: bool = False) -> Tracked:
    """Capture `name` fed to a tracker that keeps every frame, except segments start..stop-1
    (0-based; None: to the end), fed while it sheds kept frames as a live session does when
    tracking is behind (handshake and teardown segments are still kept, unless `ends`)."""
    segs = read_segments(name)
    run = Tracked(**keep_all())
    run.feed(segs[:start])
    run.tracker.set_shedding(True, ends)
    run.feed(segs[start:stop])
    run.tracker.set_shedding(False)
    if stop is not None:
        run.feed(segs[stop:])
    return run


def test_segments_shed_while_behind_show_as_a_counted_line_where_they_were():
    """Frames 6-9 of the HTTP flow (data, nothing that moves a state) are not kept: one line
    says 4 segments were not kept, between frames 5 and 10, and the frames around it are all
    there in order."""
    run = _shed_between(HTTP, 5, 9)
    assert run.tracker.counters()["shed"] == 4
    rows = [row for flow in run.all_flows() for row in build_rows(run.flow(flow.id))]
    got = [(r.kind, r.frame_no, r.skipped) for r in rows if r.kind != "state"]
    want = [("segment", n, 0) for n in range(1, 6)] + [("skip", 0, 4)]
    want += [("segment", n, 0) for n in range(10, 16)]
    assert got == want


def test_shed_runs_add_up_to_what_the_flow_did_not_keep():
    """Shedding from the capture's third frame to its end (flows with data and teardowns):
    every segment that moved an endpoint (or has SYN, FIN or RST) is kept, and the lines
    between them count the rest, each run where it lay (the places of the kept segments
    around it differ by the count + 1)."""
    run = _shed_between("chrissanders_http_espn_fail.pcapng", 2, None)
    lines = 0
    for snapshot in run.all_flows():
        flow = run.flow(snapshot.id)
        frames = sorted(flow.frames(), key=lambda s: s.frame_no)
        rows = [r for r in build_rows(flow) if r.kind != "state"]
        places = {s.frame_no: s.nth for s in frames}
        last = 0
        for i, row in enumerate(rows):
            if row.kind == "skip":
                after = rows[i + 1].frame_no if i + 1 < len(rows) else None
                upto = places[after] - 1 if after else flow.orig.pkts + flow.resp.pkts
                assert row.skipped == upto - last
                last = upto
                lines += 1
            else:
                assert places[row.frame_no] == last + 1, "a run not kept without its line"
                last += 1
        assert last == flow.orig.pkts + flow.resp.pkts
        assert sum(r.skipped for r in rows if r.kind == "skip") == last - len(frames)
    assert lines > 1
    assert run.tracker.counters()["shed"] > 0


def test_a_handshake_shed_too_leaves_its_state_changes_on_the_ladder():
    """Far behind, live tracking keeps no frames at all for a moment: the HTTP flow's first
    five segments, its handshake among them, are one `not kept` line, and the states the
    handshake moved the endpoints through are still on the ladder, as lines of their own."""
    run = _shed_between(HTTP, 0, 5, ends=True)
    assert run.tracker.counters()["shed"] == 5
    rows = build_rows(run.flow(1))
    kinds = [(r.kind, r.frame_no, r.skipped) for r in rows]
    assert kinds[0] == ("skip", 0, 5)
    assert [r.frame_no for r in rows if r.kind == "segment"] == list(range(6, 16))
    states = [r for r in rows if r.kind == "state"]
    assert [r.frame_no for r in states] == [1, 2, 3]
    assert "ESTABLISHED" in states[-1].orig_states + states[-1].resp_states
