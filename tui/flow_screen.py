"""The flow screen: one flow's state-timeline ladder, its summary, and the frame inspector.

Pushed by the App (`enter` on a row) as `FlowScreen(tracker, flow_id)`. While the flow is open
the screen re-reads it from the tracker on its own 10 Hz timer, and rebuilds the ladder only when
the flow changed (the App's drain timer keeps feeding the tracker meanwhile). The App keeps one
flow screen and shows each flow opened next on it (`show_flow`), as a new screen would show it:
composing, mounting and styling a new one was a third of what `enter` cost.

Keys: `a` absolute/relative sequence numbers, `t` teaching notes, `w` save the flow's kept frames
as a pcap, `enter` (or a click) on a ladder line inspects that frame, `escape` back. While the
inspector is open it follows the ladder's cursor.

Tests and snapshots reach a given state without key presses through `FlowScreen(tracker, flow_id,
select_frame=N)` (opens frame N in the inspector once mounted) or `screen.inspect(N)`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Static

from capture.dissect import Layer, Row, dissect_segment
from capture.live.procs import RetrySchedule, retry_schedule
from capture.pcapio import CaptureError, PcapWriter
from capture.safetext import escape_untrusted
from capture.segment import ACK, Segment, endpoint
from widgets.flow_summary import summary_lines
from widgets.hexdump import HexDump
from widgets.inspector import Inspector, with_relative
from widgets.key_bar import KeyBar
from widgets.ladder import Ladder
from widgets.ladder_rows import LadderRow, build_rows
from widgets.text import safe_text

REFRESH_HZ = 10


class FlowScreen(Screen[None]):
    """One flow in detail; refreshes itself from the tracker while the flow is open."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        # One of the two shows in the footer (`check_action`): what `a` switches to.
        Binding("a", "toggle_absolute", "Absolute seq"),
        Binding("a", "toggle_relative", "Relative seq"),
        Binding("t", "toggle_notes", "Notes"),
        Binding("w", "save_pcap", "Save pcap"),
    ]

    DEFAULT_CSS = """
    FlowScreen #flow-summary { height: auto; max-height: 8; padding: 0 1; background: $panel; }
    FlowScreen #flow-ladder { height: 1fr; min-height: 6; }
    FlowScreen #flow-inspect { height: 45%; display: none; border-top: solid $primary; }
    FlowScreen #flow-inspect.-open { display: block; }
    FlowScreen #flow-inspector { width: 1fr; min-width: 30; }
    FlowScreen #flow-hexdump { width: 76; border-left: solid $panel; }
    FlowScreen.-narrow #flow-hexdump { width: 44; }
    FlowScreen.-short.-inspecting #flow-summary { display: none; }
    """

    NARROW = 110
    """Below this many columns the hex dump shows 8 bytes a line."""
    SHORT = 36
    """Below this many rows the summary gives way to the inspector while it is open."""

    def __init__(
        self,
        tracker: Any,
        flow_id: int,
        *,
        select_frame: int | None = None,
        save_dir: Path | None = None,
    ) -> None:
        super().__init__()
        self.tracker = tracker
        self.flow_id = flow_id
        self.flow = self._lookup()
        self.select_frame = select_frame
        self.save_dir = save_dir
        self.inspected: int | None = None
        """Frame number shown in the inspector."""
        self.absolute = False
        """The ladder shows absolute sequence numbers (`a`)."""
        self._signature: tuple[Any, ...] | None = None
        self._schedules: tuple[RetrySchedule, RetrySchedule] | None = None
        self._refresher: Timer

    def compose(self) -> ComposeResult:
        yield Static(id="flow-summary")
        yield Ladder(id="flow-ladder")
        with Horizontal(id="flow-inspect"):
            yield Inspector(id="flow-inspector")
            yield HexDump(id="flow-hexdump")
        yield KeyBar()

    def on_mount(self) -> None:
        self._show()
        self._refresher = self.set_interval(1 / REFRESH_HZ, self.refresh_flow)
        if self.select_frame is not None:
            self.inspect(self.select_frame)

    def _show(self) -> None:
        """Show `flow_id` from the top: its endpoints, summary and ladder, the ladder focused."""
        ladder = self.query_one(Ladder)
        if self.flow is not None:
            f = self.flow
            ladder.set_endpoints(
                endpoint(f.orig_addr, f.orig_port), endpoint(f.resp_addr, f.resp_port)
            )
        self.refresh_flow()
        self.set_focus(ladder, scroll_visible=False)

    def show_flow(self, flow_id: int) -> None:
        """Show flow `flow_id` instead, as a new screen for it would: relative sequence numbers,
        no notes, the inspector closed and the ladder's cursor on its first line."""
        self.flow_id = flow_id
        self.flow = self._lookup()
        self.inspected = None
        self.absolute = False
        self._signature = None
        self.query_one("#flow-inspect").remove_class("-open")
        self.remove_class("-inspecting")
        ladder = self.query_one(Ladder)
        ladder.absolute = ladder.notes = False
        ladder.clear()
        self._show()
        self.refresh_bindings()

    def on_screen_suspend(self) -> None:
        """Hidden (back on the table, or under another screen): no refreshes meanwhile."""
        self._refresher.pause()

    def on_screen_resume(self) -> None:
        self._refresher.resume()

    def _lookup(self) -> Any:
        flow = self.tracker.flow(self.flow_id)
        if flow is None:  # evicted (still exported): keep what we had, or search all we can
            flow = next((f for f in self.tracker.all_flows() if f.id == self.flow_id), None)
        return flow

    def signature(self) -> tuple[Any, ...]:
        """Cheap fingerprint of the flow; the ladder is rebuilt only when it changes."""
        f = self.flow
        if f is None:
            return ()
        procs = (getattr(f, "proc_orig", None), getattr(f, "proc_resp", None))
        return (f.orig.pkts, f.resp.pkts, len(f.transitions), f.conn_state, f.history, f.last_ts,
                procs)  # fmt: skip

    def refresh_flow(self) -> None:
        """Re-read the flow; rebuild the summary and the ladder if anything changed."""
        # The engine's flow as it is now, with its recent segments (the table's snapshots hold
        # only the handshake and teardown ones); an evicted flow keeps the last one seen.
        latest = self.tracker.flow(self.flow_id)
        if latest is not None:
            self.flow = latest
        elif self.flow is None:
            self.flow = self._lookup()
        sig = self.signature()
        if sig == self._signature:
            return
        self._signature = sig
        summary = self.query_one("#flow-summary", Static)
        if self.flow is None:
            summary.update(safe_text(f"flow {self.flow_id} is not tracked"))
            return
        lines = summary_lines(self.flow, self._retry_schedules())
        summary.update(Text("\n").join(safe_text(line) for line in lines))
        self.query_one(Ladder).set_rows(build_rows(self.flow))

    def _retry_schedules(self) -> tuple[RetrySchedule, RetrySchedule] | None:
        """This host's SYN and SYN/ACK retry schedules, live only (they describe this kernel)."""
        drain = getattr(self.app, "drain", None)
        if drain is None or not drain.live:
            return None
        if self._schedules is None:
            self._schedules = (retry_schedule(), retry_schedule(synack=True))
        return self._schedules

    def segment(self, frame_no: int) -> Segment | None:
        """The kept segment of frame `frame_no`, if the tracker still holds it."""
        if self.flow is None:
            return None
        return next((s for s in self.flow.frames() if s.frame_no == frame_no), None)

    def inspect(self, frame_no: int, keep: bool = False) -> bool:
        """Open frame `frame_no` in the inspector and hex dump; False if it is not kept.

        The TCP header is marked in the hex dump, or, with `keep` (following the ladder), the
        field the inspector's cursor stays on."""
        seg = self.segment(frame_no)
        if seg is None:
            return False
        layers = dissect_segment(seg)
        ladder = self.query_one(Ladder)
        index = next((i for i, r in enumerate(ladder.rows) if r.frame_no == frame_no), None)
        if index is not None and ladder.rows[index].kind == "segment":
            row = ladder.rows[index]  # the ladder's relative numbers, as it shows them
            layers = with_relative(layers, row.rel_seq, row.rel_ack if row.flags & ACK else None)
        self.inspected = frame_no
        self._open_inspector()
        inspector = self.query_one(Inspector)
        inspector.show(layers, keep=keep)
        tcp = next((lay for lay in layers if lay.name == "TCP"), None)
        hexdump = self.query_one(HexDump)
        if inspector.cursor:  # the field kept under the cursor: marked and scrolled to
            hexdump.show(seg.frame)
            hexdump.set_highlight(inspector.cursor_span)
        else:
            hexdump.show(seg.frame, (tcp.start, tcp.end) if tcp is not None else None)
        if index is not None and index != ladder.cursor:  # inspected without the ladder's cursor
            ladder.move_to(index)
        return True

    def _open_inspector(self) -> None:
        self.query_one("#flow-inspect").add_class("-open")
        self.add_class("-inspecting")

    def follow(self, row: LadderRow) -> None:
        """Show the ladder line `row` in the open inspector: its frame, or why it has none."""
        if row.kind == "segment" and self.segment(row.frame_no) is not None:
            if row.frame_no != self.inspected:
                self.inspect(row.frame_no, keep=True)
            return
        self.inspected = None
        if row.kind == "skip":
            why = (
                "segments the flow did not keep (it keeps its ends and latest frames;"
                " live, none of the latest while tracking is behind)"
            )
        else:
            why = "a state change without a kept frame (the end of the capture decided it)"
        self.query_one(Inspector).show([Layer("No frame", 0, 0, (Row("this line", why),))])
        self.query_one(HexDump).show(b"")

    def on_resize(self) -> None:
        self.set_class(self.size.width < self.NARROW, "-narrow")
        self.set_class(self.size.height < self.SHORT, "-short")

    def on_ladder_segment_selected(self, message: Ladder.SegmentSelected) -> None:
        if message.frame_no != self.inspected:
            self.inspect(message.frame_no)

    def on_ladder_row_highlighted(self, message: Ladder.RowHighlighted) -> None:
        if self.query_one("#flow-inspect").has_class("-open"):
            self.follow(message.row)

    def on_inspector_field_highlighted(self, message: Inspector.FieldHighlighted) -> None:
        self.query_one(HexDump).set_highlight((message.start, message.end))

    def action_back(self) -> None:
        """Close the inspector if open, else go back to the main screen."""
        pane = self.query_one("#flow-inspect")
        if pane.has_class("-open"):
            pane.remove_class("-open")
            self.remove_class("-inspecting")
            self.inspected = None
            self.query_one(Ladder).focus()
        else:
            self.app.pop_screen()

    def action_toggle_absolute(self) -> None:
        """Absolute sequence numbers on the ladder (the header says which are shown)."""
        self.absolute = self.query_one(Ladder).absolute = True
        self.refresh_bindings()

    def action_toggle_relative(self) -> None:
        """Relative sequence numbers on the ladder, counted as the inspector counts them."""
        self.absolute = self.query_one(Ladder).absolute = False
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """`a` is offered as what it switches to: absolute, or relative again."""
        if action in ("toggle_absolute", "toggle_relative"):
            return self.absolute == (action == "toggle_relative")
        return True

    def action_toggle_notes(self) -> None:
        ladder = self.query_one(Ladder)
        ladder.notes = not ladder.notes

    def action_save_pcap(self) -> None:
        """Write the flow's kept frames to tcpwatch-flow-<id>.pcap (cwd) and say where."""
        if self.flow is None or not self.flow.frames():
            self.notify(
                "no frames of this flow are kept", title="nothing to save", severity="warning"
            )
            return
        try:
            path, count, left_out = self.save_pcap()
        except (OSError, CaptureError) as err:
            self.notify(
                escape_untrusted(str(err)), title="save failed", severity="error", markup=False
            )
            return
        seen = self.flow.orig.pkts + self.flow.resp.pkts if self.flow is not None else count
        text = f"{count} of {seen} frames saved to {path}"
        if count + left_out < seen:
            text += " (the rest were not kept: a flow keeps its ends and latest frames)"
        if left_out:
            text += f" ({left_out} with another link type left out)"
        self.notify(escape_untrusted(text), title="pcap saved", markup=False)

    def save_pcap(self) -> tuple[Path, int, int]:
        """Write the kept frames; returns (path, frames written, frames of other link types)."""
        frames = self.flow.frames() if self.flow is not None else []
        path = _free_name(self.save_dir or Path.cwd(), f"tcpwatch-flow-{self.flow_id}")
        linktype = frames[0].linktype if frames else 1
        writer = PcapWriter(str(path), linktype)
        written = 0
        try:
            for seg in frames:
                if seg.linktype == linktype:  # one pcap holds one link type
                    writer.write(seg.ts, seg.frame, seg.wire_len)
                    written += 1
        finally:
            writer.close()
        return path, written, len(frames) - written


def _free_name(directory: Path, stem: str) -> Path:
    """`stem.pcap` in `directory`, or `stem-2.pcap`, `stem-3.pcap` ... if taken: `w` never
    overwrites an earlier save (the notice names the file it wrote)."""
    path = directory / f"{stem}.pcap"
    n = 1
    while path.exists():
        n += 1
        path = directory / f"{stem}-{n}.pcap"
    return path
