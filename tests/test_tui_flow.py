"""The flow screen in a tiny host App over real captures: ladder, toggles, inspector, pcap save."""

from __future__ import annotations

import re
from pathlib import Path

from captures import Tracked, keep_all, pcap_records, read_segments, tracked, tracker_over
from rich.cells import cell_len
from textual.app import App

from capture.segment import endpoint
from tui.flow_screen import FlowScreen
from widgets.hexdump import HexDump
from widgets.inspector import Inspector
from widgets.key_bar import KeyBar
from widgets.ladder import Ladder
from widgets.units import duration

DATA = Path(__file__).parent / "data"
SIZE = (140, 45)
HTTP = "pcapplusplus_one_http_stream_fin.pcap"  # one HTTP flow: handshake, data, 4-way close


class Host(App[None]):
    """A bare App that opens one FlowScreen, as the main screen's `enter` does."""

    def __init__(
        self, tracker: Tracked, flow_id: int, save_dir: Path | None = None, **screen_kw
    ) -> None:
        super().__init__()
        self.tracker, self.flow_id, self.save_dir = tracker, flow_id, save_dir
        self.screen_kw = screen_kw

    def on_mount(self) -> None:
        screen = FlowScreen(self.tracker, self.flow_id, save_dir=self.save_dir, **self.screen_kw)
        self.push_screen(screen)


async def wait_for(pilot, condition, what: str, rounds: int = 200) -> None:
    """Let the app run until `condition()` holds (bounded; no fixed sleeps)."""
    for _ in range(rounds):
        if condition():
            return
        await pilot.pause(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def rendered(widget, y: int) -> str:
    """The text `render_line(y)` draws on screen."""
    return widget.render_line(y).text


async def open_screen(pilot) -> tuple[FlowScreen, Ladder]:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, FlowScreen), "the flow screen")
    screen = pilot.app.screen
    ladder = screen.query_one(Ladder)
    await wait_for(pilot, lambda: ladder.rows and ladder.size.height, "ladder rows")
    return screen, ladder


async def test_ladder_shows_handshake_at_top_with_states():
    """The first three lines are SYN, SYN/ACK, ACK with each end's state beside them."""
    app = Host(tracked(HTTP, finish=False, **keep_all()), 1)
    async with app.run_test(size=SIZE) as pilot:
        _, ladder = await open_screen(pilot)
        header = rendered(ladder, 0)
        assert "client 192.168.1.2:49486" in header and "server 77.67.44.206:80" in header
        syn, synack, ack = (rendered(ladder, y) for y in (1, 2, 3))
        assert "[S] SYN seq 0 len 0 win 8192 <mss 1460,wscale 8,sackOK>" in syn
        assert "SYN_SENT" in syn and syn.index("SYN_SENT") < syn.index("│─[S]")
        assert "▶│" in syn
        assert "◀" in synack and "[S.] SYN ACK seq 0 ack 1" in synack
        assert synack.rstrip().endswith("SYN_RECEIVED")
        assert "[.] ACK seq 1 ack 1" in ack and ack.rstrip().endswith("ESTABLISHED")
        assert len(ladder.rows) == 15


async def test_toggle_absolute_changes_sequence_numbers():
    """`a` shows absolute sequence numbers (the ISN) instead of relative ones, and back."""
    segs = read_segments(HTTP)
    app = Host(tracked(HTTP, finish=False, **keep_all()), 1)
    async with app.run_test(size=SIZE) as pilot:
        _, ladder = await open_screen(pilot)
        assert "seq 0 " in rendered(ladder, 1)
        await pilot.press("a")
        await wait_for(pilot, lambda: f"seq {segs[0].seq} " in rendered(ladder, 1), "absolute")
        assert f"ack {segs[1].ack}" in rendered(ladder, 2)
        await pilot.press("a")
        await wait_for(pilot, lambda: "seq 0 " in rendered(ladder, 1), "relative again")


async def test_select_segment_shows_inspector_fields_and_hexdump():
    """`enter` on the SYN/ACK line opens its fields (flag bits spelled out) and its bytes."""
    segs = read_segments(HTTP)
    app = Host(tracked(HTTP, finish=False, **keep_all()), 1)
    async with app.run_test(size=SIZE) as pilot:
        screen, ladder = await open_screen(pilot)
        await pilot.press("down", "enter")
        inspector = screen.query_one(Inspector)
        await wait_for(pilot, lambda: screen.inspected == 2, "frame 2 in the inspector")
        lines = [inspector.line_text(i) for i in range(len(inspector.lines))]
        assert "  number: 2" in lines
        assert "    ......1. = SYN: set" in lines and "    ...1.... = ACK: set" in lines
        assert "    .......0 = FIN: not set" in lines
        assert "  ttl: 240" in lines or any(line.startswith("  ttl: ") for line in lines)
        assert any(line.startswith("    MSS = 1380") for line in lines)
        hexdump = screen.query_one(HexDump)
        assert hexdump.data == segs[1].frame
        first = " ".join(f"{b:02x}" for b in segs[1].frame[:8])
        assert hexdump.line_text(0).startswith("0000  " + first)
        assert inspector.region.height > 0 and rendered(inspector, 0).startswith("▾ Frame")
        # escape closes the inspector first, then leaves the screen
        await pilot.press("escape")
        await wait_for(pilot, lambda: screen.inspected is None, "inspector closed")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, FlowScreen), "back")


async def test_save_writes_a_pcap_that_reads_back(tmp_path):
    """`w` writes the flow's kept frames; reading the file back gives the same frames."""
    tracker = tracked(HTTP, finish=False, **keep_all())
    app = Host(tracker, 1, save_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await open_screen(pilot)
        await pilot.press("w")
        path = tmp_path / "tcpwatch-flow-1.pcap"
        await wait_for(pilot, path.exists, "the pcap file")
    back = pcap_records(path)
    kept = tracker.flows[1].frames()
    assert len(back) == len(kept) == 15
    for (ts, wire_len, data, linktype), seg in zip(back, kept, strict=True):
        assert (data, wire_len, linktype) == (seg.frame, seg.wire_len, seg.linktype)
        assert abs(ts - seg.ts) < 1e-6


async def test_ladder_keeps_updating_while_the_flow_is_open():
    """Segments ingested after the screen opened appear in the ladder (its own timer)."""
    segs = read_segments(HTTP)
    tracker = tracker_over(segs[:3])
    app = Host(tracker, 1)
    async with app.run_test(size=SIZE) as pilot:
        _, ladder = await open_screen(pilot)
        assert len(ladder.rows) == 3
        tracker.feed(segs[3:])
        await wait_for(pilot, lambda: len(ladder.rows) == 15, "the new segments")
        assert "FIN_WAIT_1" in rendered(ladder, 10)


async def test_syn_retries_are_marked_with_their_gaps():
    """A SYN sent four times: the retries carry their number and the gap since the last one."""
    segs = read_segments("zeek_tcp_option-sack.pcap")
    app = Host(tracked("zeek_tcp_option-sack.pcap", finish=False, **keep_all()), 1)
    async with app.run_test(size=SIZE) as pilot:
        _, ladder = await open_screen(pilot)
        assert "retry" not in ladder.row_text(0)
        gap = segs[1].ts - segs[0].ts
        want = f"SYN retry #1 (+{duration(gap)})"
        assert want in ladder.row_text(1)
        assert "SYN retry #3" in ladder.row_text(3)


async def test_retransmissions_and_skipped_frames():
    """Retransmitted data is marked; frames the ring did not keep show as one counted line."""
    tracker = tracked("chrissanders_tcp_retransmissions.pcapng", finish=False, frames_per_flow=4)
    flow = tracker.flows[1]
    app = Host(tracker, 1)
    async with app.run_test(size=SIZE) as pilot:
        _, ladder = await open_screen(pilot)
        texts = [ladder.row_text(i) for i in range(len(ladder.rows))]
        missing = flow.orig.pkts + flow.resp.pkts - len(flow.frames())
        assert missing > 0
        plural = "s" if missing != 1 else ""
        assert sum(f"⋯ {missing} segment{plural} not kept ⋯" in t for t in texts) == 1
        assert any("[Retransmission]" in t for t in texts)


async def test_dup_acks_and_fast_retransmission_are_tagged_as_wireshark_does():
    """tshark marks frames 3, 5, 7 of this capture as Dup ACKs #1-#3 of frame 1 and frame 8 as
    a fast retransmission: the ladder tags those lines, the inspector explains them, the
    summary counts them per side."""
    app = Host(tracked("chrissanders_tcp_dupack.pcapng", finish=False, **keep_all()), 1)
    async with app.run_test(size=SIZE) as pilot:
        screen, ladder = await open_screen(pilot)
        lines = {row.frame_no: rendered(ladder, i + 1) for i, row in enumerate(ladder.rows)}
        for frame, n in ((3, 1), (5, 2), (7, 3)):
            assert lines[frame].rstrip().endswith(f"⚠ [Dup ACK #{n}]")
        assert lines[8].rstrip().endswith("⚠ [Fast Retransmission]")
        assert not any("⚠" in lines[f] for f in (1, 2, 4, 6, 9))
        summary = str(screen.query_one("#flow-summary").render())
        assert "TCP analysis: client dup ACK 3; server fast retrans 1" in summary
        await pilot.press("down", "down", "down", "down", "enter")
        await wait_for(pilot, lambda: screen.inspected == 5, "frame 5 in the inspector")
        inspector = screen.query_one(Inspector)
        lines = [inspector.line_text(i) for i in range(len(inspector.lines))]
        assert "▾ TCP analysis  no bytes" in lines
        want = "  [Dup ACK #2]: duplicate ACK #2: the same ACK, window and sequence as frame 1"
        assert want in lines


async def test_teaching_notes_toggle_under_handshake_and_teardown():
    """`t` adds a note line under the SYN (client ISN), the FINs, and the TIME_WAIT entry."""
    segs = read_segments(HTTP)
    app = Host(tracked(HTTP, finish=False, **keep_all()), 1)
    async with app.run_test(size=SIZE) as pilot:
        _, ladder = await open_screen(pilot)
        assert "✎" not in rendered(ladder, 2)
        await pilot.press("t")
        await wait_for(pilot, lambda: "✎" in rendered(ladder, 2), "the notes")
        assert f"client ISN {segs[0].seq}; a SYN consumes one sequence number" in rendered(
            ladder, 2
        )
        assert f"server ISN {segs[1].seq}; ack = client ISN+1" in rendered(ladder, 4)
        lines = [rendered(ladder, y) for y in range(1, len(ladder.line_map) + 1)]
        assert sum("a FIN consumes one sequence number" in line for line in lines) == 2
        assert any("server enters TIME_WAIT" in line for line in lines)
        await pilot.press("t")
        await wait_for(pilot, lambda: len(ladder.line_map) == len(ladder.rows), "notes off")


async def test_the_ladder_scrolls_as_wide_as_its_widest_line_notes_and_all():
    """The ladder's scroll width is its widest line's: wider with the notes on, and back."""
    app = Host(tracked(HTTP, finish=False, **keep_all()), 1)
    async with app.run_test(size=(100, 45)) as pilot:
        _, ladder = await open_screen(pilot)

        def widest() -> int:
            widths = [cell_len(ladder.row_text(i)) for i in range(len(ladder.rows))]
            if ladder.notes:
                widths += [cell_len(ladder.note_text(i)) for i, r in enumerate(ladder.rows)
                           if r.note]  # fmt: skip
            return max(widths)

        plain = ladder.virtual_size.width
        assert plain == widest()
        await pilot.press("t")
        await wait_for(pilot, lambda: ladder.virtual_size.width != plain, "notes' width")
        assert ladder.virtual_size.width == widest() > plain
        await pilot.press("t")
        await wait_for(pilot, lambda: ladder.virtual_size.width == plain, "back to rows' width")


async def test_summary_panel_names_isns_options_close_and_conn_state_frames():
    """The summary shows both ISNs, the negotiated options, who closed, and deciding frames."""
    segs = read_segments(HTTP)
    tracker = tracked(HTTP, finish=False, **keep_all())
    app = Host(tracker, 1)
    async with app.run_test(size=SIZE) as pilot:
        screen, _ = await open_screen(pilot)
        text = str(screen.query_one("#flow-summary").render())
        flow = tracker.flows[1]
        assert f"ISN {segs[0].seq}" in text and f"ISN {segs[1].seq}" in text
        assert "negotiated: MSS 1460/1380, wscale 8/0, SACK, no TS" in text
        assert "closed by the server (fin-4way), TIME_WAIT on the server" in text
        assert f"conn_state {flow.conn_state} decided by SYN client #1, SYN/ACK server #2" in text
        assert "FIN server #10, FIN client #14" in text
        assert f"history {flow.history}" in text


async def test_click_on_a_ladder_line_inspects_it_and_layers_mark_their_bytes():
    """A click opens that segment; moving the inspector cursor marks its layer in the hex dump."""
    segs = read_segments(HTTP)
    app = Host(tracked(HTTP, finish=False, **keep_all()), 1)
    async with app.run_test(size=SIZE) as pilot:
        screen, ladder = await open_screen(pilot)
        await pilot.click(Ladder, offset=(40, 4))  # line 4 under the header: frame 4
        await wait_for(pilot, lambda: screen.inspected == 4, "frame 4 in the inspector")
        assert ladder.cursor == 3
        hexdump, inspector = screen.query_one(HexDump), screen.query_one(Inspector)
        seg = segs[3]
        tcp_end = seg.tcp_off + 4 * (seg.frame[seg.tcp_off + 12] >> 4)
        assert hexdump.highlight == (seg.tcp_off, tcp_end)  # the TCP header, as our decoder saw it
        inspector.focus()
        ipv4 = next(i for i, line in enumerate(inspector.lines) if line[2] == "IPv4")
        await pilot.press(*["down"] * ipv4)
        want = (seg.ip_off, seg.tcp_off)
        await wait_for(pilot, lambda: hexdump.highlight == want, "IPv4 bytes marked")
        payload = [inspector.line_text(i) for i in range(len(inspector.lines))]
        assert f"▾ Payload  bytes {tcp_end}-{tcp_end + seg.payload_len - 1}" in payload
        assert (
            "  text: GET /softw/90/update/avg9infoavi.ctf HTTP/1.1..User-Agent: AVGIN…" in payload
        )


async def test_save_failure_is_a_notification_not_a_crash(tmp_path):
    """Saving into a directory that does not exist reports the error and keeps running."""
    app = Host(tracked(HTTP, finish=False, **keep_all()), 1, save_dir=tmp_path / "missing")
    async with app.run_test(size=SIZE) as pilot:
        screen, _ = await open_screen(pilot)
        await pilot.press("w")
        await wait_for(pilot, lambda: app._notifications, "a notification")
        note = next(iter(app._notifications))
        assert note.severity == "error" and "missing" in note.message
        assert app.screen is screen


async def test_at_80x24_the_inspector_fits():
    """At 80×24 the hex dump shows 8 bytes a line and the summary yields to the inspector."""
    segs = read_segments(HTTP)
    app = Host(tracked(HTTP, finish=False, **keep_all()), 1)
    async with app.run_test(size=(80, 24)) as pilot:
        screen, _ = await open_screen(pilot)
        summary = screen.query_one("#flow-summary")
        assert summary.display and summary.region.height > 0
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.inspected == 1, "frame 1 in the inspector")
        hexdump = screen.query_one(HexDump)
        await wait_for(pilot, lambda: hexdump.region.width > 0, "the hex dump laid out")
        assert hexdump.per_line == 8
        assert hexdump.line_text(1).startswith(
            "0008  " + " ".join(f"{b:02x}" for b in segs[0].frame[8:12])
        )
        assert summary.region.height == 0
        await pilot.press("escape")
        await wait_for(pilot, lambda: summary.region.height > 0, "the summary back")


async def test_unknown_flow_says_so_and_saves_nothing(tmp_path):
    """A flow id the tracker does not hold: a one-line notice, no crash, no empty pcap."""
    app = Host(tracked(HTTP, finish=False, **keep_all()), 99, save_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, FlowScreen), "the flow screen")
        screen = app.screen
        await wait_for(pilot, lambda: "99" in str(screen.query_one("#flow-summary").render()), "")
        assert str(screen.query_one("#flow-summary").render()) == "flow 99 is not tracked"
        await pilot.press("w", "enter", "a")
        await wait_for(pilot, lambda: app._notifications, "a notification")
        assert next(iter(app._notifications)).severity == "warning"
        assert not list(tmp_path.iterdir())


async def test_select_frame_opens_the_inspector_without_keys():
    """`FlowScreen(..., select_frame=N)` (the snapshot tests' way in) shows frame N at once."""
    app = Host(tracked(HTTP, finish=False, **keep_all()), 1, select_frame=10)
    async with app.run_test(size=SIZE) as pilot:
        screen, _ = await open_screen(pilot)
        await wait_for(pilot, lambda: screen.inspected == 10, "frame 10 in the inspector")
        lines = screen.query_one(Inspector).lines
        assert ("    .......1 = FIN: set") in [
            screen.query_one(Inspector).line_text(i) for i in range(len(lines))
        ]


async def test_flow_evicted_while_open_stays_on_screen():
    """The tracker evicting the open flow (capacity reached) leaves its ladder where it was."""
    tracker = tracked(HTTP, finish=False, **keep_all(max_flows=1))
    app = Host(tracker, 1)
    async with app.run_test(size=SIZE) as pilot:
        screen, ladder = await open_screen(pilot)
        tracker.read("zeek_tcp_options.pcap")
        assert 1 not in tracker.flows and tracker.evicted == 1
        screen.refresh_flow()  # what the screen's 10 Hz timer calls
        await pilot.pause()
        assert screen.flow is not None and len(ladder.rows) == 15
        assert "[S] SYN seq 0" in rendered(ladder, 1)


def _server_closes_first() -> Tracked:
    """The server's FIN, answered by the client's FIN/ACK: the client moves twice on one line."""
    from segmaker import Conv

    conv = Conv()
    for send, flags in ((conv.c, "S"), (conv.s, "S."), (conv.c, "."), (conv.s, "F.")):
        send(flags)
    conv.c("F.")
    conv.s(".")
    return tracker_over(conv.sent, **keep_all())


async def test_two_moves_on_one_line_are_shown_whole_when_there_is_room():
    app = Host(_server_closes_first(), 1)
    async with app.run_test(size=SIZE) as pilot:
        _, ladder = await open_screen(pilot)
        fin_ack = rendered(ladder, 5)
        assert "[F.] FIN ACK" in fin_ack
        assert fin_ack.split("│")[0].split()[-1] == "CLOSE_WAIT→LAST_ACK"
        assert fin_ack.rstrip().endswith("│ FIN_WAIT_2")
        # The header's server label still lines up with the right-hand state column.
        assert rendered(ladder, 0).rstrip().endswith("server 10.0.0.2:80")


async def test_two_moves_are_cut_from_the_left_when_the_lane_needs_the_room():
    app = Host(_server_closes_first(), 1)
    async with app.run_test(size=(80, 30)) as pilot:
        _, ladder = await open_screen(pilot)
        fin_ack = rendered(ladder, 5)
        assert "…" in fin_ack.split("│")[0] and "LAST_ACK" in fin_ack
        assert "─[F.] seq 1 ack 2 len 0 ─" in fin_ack  # the lane keeps its room


# -- the inspector follows the ladder, marks one field, counts as the ladder does --------------


def inspector_lines(inspector: Inspector) -> list[str]:
    return [inspector.line_text(i) for i in range(len(inspector.lines))]


def line_index(inspector: Inspector, layer: str, label: str) -> int:
    """The inspector line of field `label` in layer `layer`."""
    return next(
        i
        for i, line in enumerate(inspector.lines)
        if inspector.dissected[line.layer].name == layer and line.label == label
    )


async def test_the_open_inspector_follows_the_ladder_cursor():
    """With the inspector open, ↓ on the ladder shows the next segment's frame and bytes."""
    segs = read_segments(HTTP)
    app = Host(tracked(HTTP, finish=False, **keep_all()), 1)
    async with app.run_test(size=SIZE) as pilot:
        screen, ladder = await open_screen(pilot)
        inspector, hexdump = screen.query_one(Inspector), screen.query_one(HexDump)
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.inspected == 1, "frame 1 in the inspector")
        assert ladder.has_focus
        await pilot.press("down", "down")
        await wait_for(pilot, lambda: screen.inspected == 3, "frame 3 followed")
        assert "  number: 3" in inspector_lines(inspector)
        assert hexdump.data == segs[2].frame
        await pilot.press("up")
        await wait_for(pilot, lambda: screen.inspected == 2, "frame 2 followed")
        assert hexdump.data == segs[1].frame
        # closed, the inspector stays closed while the cursor moves
        await pilot.press("escape")
        await pilot.press("down")
        await pilot.pause()
        assert screen.inspected is None and not screen.query_one("#flow-inspect").display


async def test_a_field_marks_its_own_bytes_not_its_layer():
    """Fields mark the bytes scapy read them from: seq, flags, TTL, an option."""
    seg = read_segments(HTTP)[0]  # the SYN, with MSS, NOP, wscale, NOP, NOP, sackOK
    app = Host(tracked(HTTP, finish=False, **keep_all()), 1, select_frame=1)
    async with app.run_test(size=SIZE) as pilot:
        screen, _ = await open_screen(pilot)
        await wait_for(pilot, lambda: screen.inspected == 1, "frame 1 in the inspector")
        inspector, hexdump = screen.query_one(Inspector), screen.query_one(HexDump)
        inspector.focus()

        async def pick(layer: str, label: str) -> bytes:
            target = line_index(inspector, layer, label)
            await pilot.press(
                *(["down"] if target > inspector.cursor else ["up"])
                * abs(target - inspector.cursor)
            )
            await wait_for(pilot, lambda: inspector.cursor == target, f"{layer} {label}")
            await pilot.pause()
            start, end = hexdump.highlight
            return seg.frame[start:end]

        tcp = seg.tcp_off
        assert await pick("TCP", "seq") == seg.seq.to_bytes(4, "big")
        assert hexdump.highlight == (tcp + 4, tcp + 8)
        assert await pick("TCP", "window") == seg.window.to_bytes(2, "big")
        assert await pick("TCP", "flags") == seg.frame[tcp + 12 : tcp + 14]
        assert await pick("TCP", "......1.") == bytes([seg.frame[tcp + 13]])  # the SYN bit's byte
        assert await pick("TCP", "MSS") == bytes([2, 4]) + (1460).to_bytes(2, "big")
        assert await pick("IPv4", "ttl") == bytes([seg.frame[seg.ip_off + 8]])
        assert hexdump.highlight == (seg.ip_off + 8, seg.ip_off + 9)
        # a layer's heading still marks the whole layer
        assert await pick("IPv4", "IPv4") == seg.frame[seg.ip_off : seg.tcp_off]


async def test_following_the_ladder_keeps_the_field_under_the_inspector_cursor():
    """On `seq` in the inspector, moving the ladder shows the next frame's seq bytes marked."""
    segs = read_segments(HTTP)
    app = Host(tracked(HTTP, finish=False, **keep_all()), 1, select_frame=1)
    async with app.run_test(size=SIZE) as pilot:
        screen, ladder = await open_screen(pilot)
        await wait_for(pilot, lambda: screen.inspected == 1, "frame 1 in the inspector")
        inspector, hexdump = screen.query_one(Inspector), screen.query_one(HexDump)
        inspector.focus()
        await pilot.press(*["down"] * line_index(inspector, "TCP", "seq"))
        ladder.focus()
        await pilot.press("down")
        await wait_for(pilot, lambda: screen.inspected == 2, "frame 2 followed")
        assert inspector.lines[inspector.cursor].label == "seq"
        start, end = hexdump.highlight
        assert segs[1].frame[start:end] == segs[1].seq.to_bytes(4, "big")


async def test_the_inspector_shows_relative_seq_and_ack_beside_the_raw_numbers():
    """seq/ack read raw and relative, the relative ones being the ladder's; a SYN has no ack."""
    segs = read_segments(HTTP)
    app = Host(tracked(HTTP, finish=False, **keep_all()), 1, select_frame=1)
    async with app.run_test(size=SIZE) as pilot:
        screen, ladder = await open_screen(pilot)
        inspector = screen.query_one(Inspector)
        await wait_for(pilot, lambda: screen.inspected == 1, "frame 1 in the inspector")
        lines = inspector_lines(inspector)
        assert f"  seq: {segs[0].seq} (relative 0)" in lines
        assert f"  ack: {segs[0].ack}" in lines  # no ACK flag: no relative ack
        await pilot.press("end")
        last = ladder.rows[-1]
        await wait_for(pilot, lambda: screen.inspected == last.frame_no, "the last frame")
        lines = inspector_lines(inspector)
        seg = segs[last.frame_no - 1]
        assert f"  seq: {seg.seq} (relative {last.rel_seq})" in lines
        assert f"  ack: {seg.ack} (relative {last.rel_ack})" in lines
        assert f"seq {last.rel_seq} ack {last.rel_ack}" in ladder.row_text(len(ladder.rows) - 1)


async def test_the_ladder_header_and_footer_say_how_sequence_numbers_count():
    """`a` is visible: the header says relative or absolute, the footer offers the other."""
    app = Host(tracked(HTTP, finish=False, **keep_all()), 1)
    async with app.run_test(size=SIZE) as pilot:
        screen, ladder = await open_screen(pilot)

        def footer() -> str:
            return screen.query_one(KeyBar).shown()

        assert "seq/ack relative" in rendered(ladder, 0)
        assert "Absolute seq" in footer() and "Relative seq" not in footer()
        await pilot.press("a")
        await wait_for(pilot, lambda: "seq/ack absolute" in rendered(ladder, 0), "absolute")
        assert "Relative seq" in footer() and "Absolute seq" not in footer()
        await pilot.press("a")
        await wait_for(pilot, lambda: "seq/ack relative" in rendered(ladder, 0), "relative")


async def test_at_80_columns_the_ladder_header_still_names_the_mode():
    app = Host(tracked(HTTP, finish=False, **keep_all()), 1)
    async with app.run_test(size=(80, 24)) as pilot:
        _, ladder = await open_screen(pilot)
        header = rendered(ladder, 0)
        assert "rel seq" in header or "seq/ack relative" in header, header
        assert "server 77.67.44.206:80" in header


async def test_on_a_line_without_a_frame_the_inspector_says_so():
    """Following the cursor onto the `⋯ not kept ⋯` line: no stale frame, the reason instead."""
    tracker = tracked("chrissanders_tcp_retransmissions.pcapng", finish=False, frames_per_flow=4)
    app = Host(tracker, 1, select_frame=1)
    async with app.run_test(size=SIZE) as pilot:
        screen, ladder = await open_screen(pilot)
        await wait_for(pilot, lambda: screen.inspected == 1, "frame 1 in the inspector")
        skip = next(i for i, row in enumerate(ladder.rows) if row.kind == "skip")
        await pilot.press(*["down"] * (skip - ladder.cursor))
        inspector = screen.query_one(Inspector)
        await wait_for(pilot, lambda: screen.inspected is None, "no frame")
        assert inspector_lines(inspector)[0] == "▾ No frame  no bytes"
        assert "did not keep" in inspector_lines(inspector)[1]
        assert screen.query_one(HexDump).data == b""
        await pilot.press("up")
        await wait_for(pilot, lambda: screen.inspected == ladder.rows[skip - 1].frame_no, "back")


async def test_at_80_columns_ipv6_endpoints_and_the_mode_share_the_header():
    """Long IPv6 endpoints on 80 columns: both whole (ports included), the mode between them,
    nothing running into anything (the words client/server give way first)."""
    name = "chrissanders_http_ip4and6.pcapng"
    tracker = tracked(name, finish=False, **keep_all())
    flow = next(f for f in tracker.flows.values() if len(f.orig_addr) == 16)
    app = Host(tracker, flow.id)
    async with app.run_test(size=(80, 24)) as pilot:
        _, ladder = await open_screen(pilot)
        header = rendered(ladder, 0)
    client = endpoint(flow.orig_addr, flow.orig_port)
    server = endpoint(flow.resp_addr, flow.resp_port)
    assert re.search(rf"{re.escape(client)} +rel seq +{re.escape(server)}", header), header
