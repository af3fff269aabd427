"""The state-timeline ladder: client on the left, server on the right, one line per segment.

    frame  Δt          client 10.0.0.1:5555                                server 10.0.0.2:80
        1  +0          SYN_SENT      │─[S] SYN seq 0 len 0 win 64240 <mss…>──▶│
        2  +120.0µs                  │◀──[S.] SYN ACK seq 0 ack 1 len 0 win…──│ SYN_RECEIVED

Each line is a `LadderRow` (`widgets.ladder_rows`); this widget only lays them out. Line API with a
fixed header line: only visible lines are built, and built strips are cached until the rows, the
width or a display toggle change. A cursor (kept on its frame across updates) selects a segment
with `enter` or a click (`SegmentSelected`); wherever it moves it says which line it is on
(`RowHighlighted`), so an open inspector follows it. The header says whether sequence numbers
are relative or absolute (`a`).
"""

from __future__ import annotations

from typing import ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.events import Click
from textual.geometry import Region, Size, Spacing
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from capture.segment import RST
from widgets.conn_rows import fit_endpoint
from widgets.ladder_rows import LadderRow
from widgets.text import safe_str
from widgets.units import duration

FRAME_W, DT_W, STATE_W, MIN_LANE = 6, 11, 13, 30
STATE_MAX = 30
"""The state columns widen (from STATE_W) to fit a line's moves, e.g. CLOSE_WAIT→LAST_ACK when
a FIN/ACK answers the peer's FIN, as long as the arrow lane keeps MIN_LANE cells."""
MARK_MAX = 34
MIN_ENDPOINT = 12
"""Cells an endpoint keeps in the header before the seq mode gives way (`…:1002]:35023`)."""
SCROLLBAR = 2
"""Cells kept free for the vertical scrollbar, so the lane does not jump when it appears."""


def fmt_dt(dt: float) -> str:
    """Time since the previous segment, compact: `+0`, `+85µs`, `+12.345ms`, `+1.204s`."""
    return "+0" if dt <= 0 else "+" + duration(dt)


def arrow(label: str, width: int, rightwards: bool) -> str:
    """`─label───▶` or `◀───label─` exactly `width` cells, the label cut with `…` if needed."""
    room = width - 3
    if cell_len(label) > room:
        label = set_cell_size(label, room - 1) + "…"
    fill = "─" * (width - 3 - cell_len(label))
    return f"─{label} {fill}▶" if rightwards else f"◀{fill} {label}─"


class Ladder(ScrollView, can_focus=True):
    """The ladder of one flow; `set_rows` replaces its rows (the cursor stays on its frame)."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "ladder--header",
        "ladder--orig",
        "ladder--resp",
        "ladder--state",
        "ladder--mark",
        "ladder--rst",
        "ladder--skip",
        "ladder--note",
        "ladder--cursor",
    }

    DEFAULT_CSS = """
    Ladder { height: 1fr; }
    Ladder > .ladder--header { text-style: bold; background: $panel; }
    Ladder > .ladder--orig { color: $primary; }
    Ladder > .ladder--resp { color: $secondary; }
    Ladder > .ladder--state { color: $success; text-style: bold; }
    Ladder > .ladder--mark { color: $warning; text-style: bold; }
    Ladder > .ladder--rst { color: $error; }
    Ladder > .ladder--skip { color: $text-muted; text-style: italic; }
    Ladder > .ladder--note { color: $accent; text-style: italic; }
    Ladder > .ladder--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("k", "cursor(-1)", "Up", show=False),
        Binding("j", "cursor(1)", "Down", show=False),
        Binding("pageup", "cursor(-20)", "Page up", show=False),
        Binding("pagedown", "cursor(20)", "Page down", show=False),
        Binding("home", "cursor(-1000000000)", "First", show=False),
        Binding("end", "cursor(1000000000)", "Last", show=False),
        Binding("enter", "select", "Inspect", show=True),
    ]

    absolute: reactive[bool] = reactive(False)
    """Show absolute sequence numbers instead of relative ones."""
    notes: reactive[bool] = reactive(False)
    """Show the teaching annotations column."""

    class SegmentSelected(Message):
        """The user picked the segment of frame `frame_no` (enter or click)."""

        def __init__(self, frame_no: int) -> None:
            self.frame_no = frame_no
            super().__init__()

    class RowHighlighted(Message):
        """The cursor moved to `row` (a segment, a state change or a gap)."""

        def __init__(self, row: LadderRow) -> None:
            self.row = row
            super().__init__()

    def __init__(self, *, name: str | None = None, id: str | None = None) -> None:
        super().__init__(name=name, id=id)
        self.rows: list[LadderRow] = []
        self.cursor = 0
        """Index of the row under the cursor."""
        self.line_map: list[tuple[int, bool]] = []
        """Screen line (below the header) -> (row index, is the row's note line)."""
        self.client = "client"
        self.server = "server"
        self._cache: LRUCache[tuple[object, ...], Strip] = LRUCache(1024)
        self._lane_key: tuple[int, int, int] | None = None
        self._styles: dict[str, Style] | None = None
        self._lane_w = MIN_LANE
        self._width_key: tuple[object, ...] | None = None
        self._width = 0
        self._wanted_state_w = STATE_W
        self._state_w = STATE_W

    def set_endpoints(self, client: str, server: str) -> None:
        """The header's endpoint texts (escaped here)."""
        self.client, self.server = safe_str(client), safe_str(server)
        self._invalidate()

    def set_rows(self, rows: list[LadderRow]) -> None:
        """Replace the rows; the cursor stays on the same frame, or follows the tail."""
        at_end = not self.rows or self.cursor >= len(self.rows) - 1
        current = self.rows[self.cursor].frame_no if self.rows else None
        self.rows = rows
        widest = max(
            (cell_len("→".join(s)) for r in rows for s in (r.orig_states, r.resp_states)),
            default=0,
        )
        # +2: the text, a blank, and the lane's `│` (so `LAST_ACK │` never touches the arrow).
        self._wanted_state_w = max(STATE_W, min(STATE_MAX, widest + 2))
        index = next((i for i, r in enumerate(rows) if r.frame_no == current), None)
        # On the last row (and past the handshake) the cursor follows new segments, like `tail -f`.
        follow = index is None or (at_end and self.cursor != 0)
        if follow:
            index = 0 if current is None else len(rows) - 1
        self.cursor = max(0, min(index or 0, len(rows) - 1))
        self._invalidate()
        if follow and rows:
            # Wherever the cursor is once laid out (something may have moved it meanwhile).
            self.call_after_refresh(self._settle)

    def clear(self) -> None:
        """No rows, the cursor and the view back at the top (another flow's rows come next)."""
        self.rows = []
        self.cursor = 0
        self.scroll_to(0, 0, animate=False, immediate=True)
        self._invalidate()

    def _settle(self) -> None:
        """After a layout: scroll to the cursor wherever it is now (something may have moved it
        since the rows came), and say where it is."""
        if self.rows:
            self.move_to(min(self.cursor, len(self.rows) - 1))

    def row_text(self, index: int) -> str:
        """Row `index` as plain text (what is drawn, without styles)."""
        return "".join(text for text, _ in self._texts(index, self._lane()))

    def note_text(self, index: int) -> str:
        """The teaching-note line drawn under row `index` when notes are on."""
        return " " * (FRAME_W + DT_W + self._state_w - 1) + "│ ✎ " + self.rows[index].note

    def line_of(self, index: int) -> int:
        """The line (below the header) where row `index` is drawn."""
        return next((i for i, (r, note) in enumerate(self.line_map) if r == index and not note), 0)

    @property
    def selected(self) -> LadderRow | None:
        """The row under the cursor."""
        return self.rows[self.cursor] if self.rows else None

    def watch_absolute(self) -> None:
        self._invalidate()

    def watch_notes(self) -> None:
        self._invalidate()

    def on_resize(self) -> None:
        self._invalidate()

    def action_cursor(self, delta: int) -> None:
        """Move the cursor by `delta` rows and scroll it into view."""
        if self.rows:
            self.move_to(max(0, min(len(self.rows) - 1, self.cursor + delta)))

    def move_to(self, index: int) -> None:
        """Put the cursor on row `index` (and say so)."""
        self.cursor = index
        line = self.line_of(index) + 1
        self.scroll_to_region(Region(0, line, 1, 1), animate=False, spacing=self._spacing())
        self.refresh()
        if self.rows:
            self.post_message(self.RowHighlighted(self.rows[index]))

    def action_select(self) -> None:
        """Open the segment under the cursor in the inspector."""
        row = self.selected
        if row is not None and row.kind == "segment":
            self.post_message(self.SegmentSelected(row.frame_no))

    def on_click(self, event: Click) -> None:
        line = event.y - 1 + self.scroll_offset.y
        if event.y >= 1 and 0 <= line < len(self.line_map):
            self.move_to(self.line_map[line][0])
            self.action_select()

    def _spacing(self) -> Spacing:
        return Spacing(1, 0, 0, 0)  # the header line covers the top row

    def _invalidate(self) -> None:
        width = self._content_width()
        self.line_map = []
        for i, row in enumerate(self.rows):
            self.line_map.append((i, False))
            if self.notes and row.note:
                self.line_map.append((i, True))
        self.virtual_size = Size(width, len(self.line_map) + 1)
        self.refresh()

    def _lane(self) -> int:
        """Width of the arrow lane: what the columns, a scrollbar and the widest marks leave.
        Sets the state columns' width too (as wide as the rows want while the lane keeps
        MIN_LANE cells).

        Memoised per width and rows: every line needs it and the marks scan is over all rows.
        """
        key = (self.size.width, id(self.rows), len(self.rows))
        if self._lane_key != key:
            fixed = FRAME_W + DT_W + 3 + SCROLLBAR + self._mark_width()
            room = (key[0] - fixed - MIN_LANE) // 2
            self._state_w = max(STATE_W, min(self._wanted_state_w, room))
            fixed += 2 * self._state_w
            self._lane_key, self._lane_w = key, max(MIN_LANE, key[0] - fixed)
        return self._lane_w

    def _mark_width(self) -> int:
        widest = max((cell_len(_marks_text(r)) for r in self.rows), default=0)
        return min(widest, MARK_MAX)

    def _content_width(self) -> int:
        """The widest line's cells. Memoised per width, rows and modes: it builds every row's
        text, and opening a flow asks for it several times over the same rows (its endpoints,
        its rows, the first layout, the first values of `absolute` and `notes`)."""
        lane = self._lane()
        key = (lane, self._state_w, id(self.rows), len(self.rows), self.absolute, self.notes)
        if self._width_key != key:
            rows = range(len(self.rows))
            widths = [sum(cell_len(t) for t, _ in self._texts(i, lane)) for i in rows]
            if self.notes:
                widths += [cell_len(self.note_text(i)) for i, r in enumerate(self.rows) if r.note]
            self._width_key, self._width = key, max(widths, default=0)
        return self._width

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles = None
        self._cache.clear()

    def _style(self, name: str) -> Style:
        """The widget's style plus component `name` ("" for none), computed once per CSS change:
        `rich_style` alone costs about 0.4 ms a call."""
        if self._styles is None:
            base = self.rich_style
            names = [c for c in self.COMPONENT_CLASSES if c != "ladder--cursor"]
            styles = {c: base + self.get_component_rich_style(c, partial=True) for c in names}
            styles[""] = base
            styles["ladder--cursor"] = self.get_component_rich_style("ladder--cursor", partial=True)
            self._styles = styles
        return self._styles[name]

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self._style("")
        if y == 0:
            strip = Strip(self._header())
        else:
            line = y - 1 + self.scroll_offset.y
            if line >= len(self.line_map):
                return Strip.blank(width, base)
            index, is_note = self.line_map[line]
            # Keyed by what the line shows, not where: a live update re-renders new rows only.
            key = (
                _row_key(self.rows[index]),
                is_note,
                self._lane(),
                self._state_w,
                self.absolute,
                index == self.cursor,
            )
            cached = self._cache.get(key)
            if cached is None:
                cached = self._build_line(index, is_note)
                self._cache[key] = cached
            strip = cached
        x = self.scroll_offset.x
        return strip.crop(x, x + width).extend_cell_length(width, base)

    def _build_line(self, index: int, is_note: bool) -> Strip:
        if is_note:
            segments = [Segment(self.note_text(index), self._style("ladder--note"))]
        else:
            texts = self._texts(index, self._lane())
            segments = [Segment(text, self._style(name)) for text, name in texts]
        if index == self.cursor:
            cursor = self._style("ladder--cursor")
            segments = list(Segment.apply_style(segments, post_style=cursor))
        return Strip(segments).simplify()

    def _header(self) -> list[Segment]:
        lane = self._lane()
        middle = 2 * self._state_w + lane + 1
        left, mode, right = self._header_parts(middle)
        room = middle - cell_len(left) - cell_len(right)
        before = (room - cell_len(mode)) // 2  # the mode centred between the endpoints
        between = " " * before + mode + " " * (room - before - cell_len(mode))
        text = f"{'frame':>{FRAME_W - 1}} {'Δt':<{DT_W}}{left}{between}{right}"
        return [Segment(text, self._style("ladder--header"))]

    def _header_parts(self, middle: int) -> tuple[str, str, str]:
        """The endpoints and the seq mode that fit `middle` cells, a blank at least between:
        named `client`/`server` if there is room, else bare (their columns say which end), else
        cut in the address, never the port (long IPv6 endpoints on a narrow terminal)."""
        named = (f"client {self.client}", f"server {self.server}")
        for left, right in (named, (self.client, self.server)):
            room = middle - cell_len(left) - cell_len(right)
            mode = next((m for m in self.seq_mode() if cell_len(m) + 2 <= room), None)
            if mode is not None:
                return left, mode, right
        mode = self.seq_mode()[1]
        half = (middle - cell_len(mode) - 2) // 2
        if half < MIN_ENDPOINT:  # too narrow for the mode too: the footer still offers `a`
            mode, half = "", (middle - 1) // 2
        return (
            fit_endpoint(self.client, half).rstrip(),
            mode,
            fit_endpoint(self.server, half).rstrip(),
        )

    def seq_mode(self) -> tuple[str, str]:
        """How the arrows count sequence numbers (`a` switches), long and short."""
        if self.absolute:
            return "seq/ack absolute (a: relative)", "abs seq"
        return "seq/ack relative (a: absolute)", "rel seq"

    def _texts(self, index: int, lane: int) -> list[tuple[str, str]]:
        """Row `index` as (text, component class) pieces; "" is the plain widget style."""
        row = self.rows[index]
        if row.kind == "skip":
            text = f"⋯ {row.skipped} segment{'s' * (row.skipped != 1)} not kept ⋯"
            pad = " " * (FRAME_W + DT_W + self._state_w - 1)
            return [(pad + "│" + text.center(lane) + "│", "ladder--skip")]
        frame = f"{row.frame_no:>{FRAME_W - 1}} " if row.frame_no else f"{'end':>{FRAME_W - 1}} "
        dt = fmt_dt(row.dt) if row.kind == "segment" else ""
        out = [
            (frame + f"{dt:<{DT_W}}", ""),
            (_state_cell(row.orig_states, self._state_w), "ladder--state"),
            ("│", ""),
        ]
        if row.kind == "segment":
            label = row.label(self.absolute, lane - 3)
            out.append((arrow(label, lane, row.from_orig), _arrow_class(row)))
        else:
            out.append((" " * lane, ""))
        out += [("│", ""), (" " + _state_cell(row.resp_states, self._state_w), "ladder--state")]
        if row.marks:
            out.append((_marks_text(row), "ladder--mark"))
        return out


def _row_key(row: LadderRow) -> tuple[object, ...]:
    """Everything of a row that shows on screen."""
    return (
        row.frame_no, row.kind, row.skipped, row.dt, row.flags, row.seq, row.ack, row.window,
        row.scale, row.length, row.note, tuple(row.marks), tuple(row.orig_states),
        tuple(row.resp_states),
    )  # fmt: skip


def _marks_text(row: LadderRow) -> str:
    return " ⚠ " + "; ".join(row.marks) if row.marks else ""


def _arrow_class(row: LadderRow) -> str:
    if row.flags & RST:
        return "ladder--rst"
    return "ladder--orig" if row.from_orig else "ladder--resp"


def _state_cell(states: list[str], width: int) -> str:
    """The states an endpoint moved to at this line, in `width - 1` cells ending in a blank, so
    the text never runs into the lane's `│`: cut from the left (the latest state stays)."""
    text = "→".join(states)
    if cell_len(text) > width - 2:
        text = "…" + text[-(width - 3) :]
    return f"{text:<{width - 2}} "
