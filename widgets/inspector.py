"""The frame inspector: every layer and header field of one frame, as `capture.dissect` gives them.

The widget only renders: dissection happens in `capture.dissect` and arrives as plain `Layer`s whose
text is already escaped. Line API, one line per layer heading or field; a cursor moves over the
lines and reports the bytes under it (`FieldHighlighted`): a field's own bytes (scapy's field
offsets, `Row.span`), or the whole layer on its heading, so the hex dump can mark them.
"""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar, NamedTuple

from rich.segment import Segment
from textual.binding import Binding, BindingType
from textual.events import Click
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from capture.dissect import Layer, Row
from widgets.text import safe_str

INDENT = 2


class Line(NamedTuple):
    """One inspector line: a layer heading (depth -1) or a field, and the bytes it covers."""

    layer: int
    depth: int
    label: str
    value: str
    span: tuple[int, int]


def inspector_lines(layers: list[Layer]) -> list[Line]:
    """Flatten layers to lines; a field without a span of its own stands for its layer's bytes."""
    lines: list[Line] = []
    for i, layer in enumerate(layers):
        whole = (layer.start, layer.end)
        span = f"bytes {layer.start}-{layer.end - 1}" if layer.end > layer.start else "no bytes"
        lines.append(Line(i, -1, layer.name, span if layer.name != "Frame" else "", whole))
        lines.extend(Line(i, r.depth, r.field, r.value, r.span or whole) for r in layer.rows)
    return lines


def with_relative(layers: list[Layer], rel_seq: int, rel_ack: int | None) -> list[Layer]:
    """The TCP layer's seq (and ack, when given) with the relative number beside the raw one:
    `seq: 3839187345 (relative 1)`. The numbers come from the caller (the ladder's row), so the
    inspector and the ladder count from the same base."""
    extra = {"seq": rel_seq, "ack": rel_ack}

    def row(r: Row) -> Row:
        rel = extra.get(r.field) if r.depth == 0 else None
        return replace(r, value=f"{r.value} (relative {rel})") if rel is not None else r

    return [
        replace(lay, rows=tuple(row(r) for r in lay.rows)) if lay.name == "TCP" else lay
        for lay in layers
    ]


class Inspector(ScrollView, can_focus=True):
    """Header fields of the selected frame; `show(layers)` replaces them."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "inspector--layer",
        "inspector--field",
        "inspector--bits",
        "inspector--cursor",
    }

    DEFAULT_CSS = """
    Inspector { height: 1fr; }
    Inspector > .inspector--layer { text-style: bold; color: $primary; }
    Inspector > .inspector--field { color: $text-muted; }
    Inspector > .inspector--bits { color: $secondary; }
    Inspector > .inspector--cursor {
        background: $block-cursor-background;
        color: $block-cursor-foreground;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("k", "cursor(-1)", "Up", show=False),
        Binding("j", "cursor(1)", "Down", show=False),
        Binding("pageup", "cursor(-10)", "Page up", show=False),
        Binding("pagedown", "cursor(10)", "Page down", show=False),
    ]

    class FieldHighlighted(Message):
        """The cursor is on a line covering bytes `start`..`end` (end exclusive): a field's own
        bytes, or its whole layer on a layer heading. `name` is the layer's."""

        def __init__(self, name: str, start: int, end: int) -> None:
            self.name = name
            self.start = start
            self.end = end
            super().__init__()

    def __init__(self, *, name: str | None = None, id: str | None = None) -> None:
        super().__init__(name=name, id=id)
        self.dissected: list[Layer] = []
        self.lines: list[Line] = []
        self.cursor = 0

    def show(self, layers: list[Layer], keep: bool = False) -> None:
        """Show a newly dissected frame, cursor on its first line; with `keep`, on the same field
        as before when the new frame has it (following the ladder, a field can be compared)."""
        previous = self._key(self.cursor) if keep and self.lines else None
        self.dissected = layers
        self.lines = inspector_lines(layers)
        index = next((i for i in range(len(self.lines)) if self._key(i) == previous), None)
        width = max((self._width(line) for line in self.lines), default=0)
        self.virtual_size = Size(width, len(self.lines))
        if index:
            self.cursor = index
            self.scroll_to_region(Region(0, index, 1, 1), animate=False)
        else:
            self.cursor = 0
            self.scroll_to(0, 0, animate=False)
        self.refresh()

    @property
    def cursor_span(self) -> tuple[int, int] | None:
        """The bytes of the line under the cursor (None when nothing is shown)."""
        return self.lines[self.cursor].span if self.lines else None

    def _key(self, index: int) -> tuple[str, int, str]:
        """What identifies a line across frames: its layer's name, its depth and label."""
        line = self.lines[index]
        return self.dissected[line.layer].name, line.depth, line.label

    def line_text(self, index: int) -> str:
        """Line `index` as plain text (what `render_line` shows, without styles)."""
        _, depth, label, value, _ = self.lines[index]
        if depth < 0:
            return f"▾ {label}  {value}".rstrip()
        sep = " = " if depth else ": "
        return " " * (INDENT * (depth + 1)) + label + (sep + value if value else "")

    def action_cursor(self, delta: int) -> None:
        """Move the cursor; tell the screen which layer it is on now."""
        if not self.lines:
            return
        self.move_to(max(0, min(len(self.lines) - 1, self.cursor + delta)))

    def move_to(self, index: int) -> None:
        """Put the cursor on line `index` and scroll it into view; say which bytes it covers."""
        self.cursor = index
        self.scroll_to_region(Region(0, index, 1, 1), animate=False)
        line = self.lines[index]
        start, end = line.span
        self.post_message(self.FieldHighlighted(self.dissected[line.layer].name, start, end))
        self.refresh()

    def on_click(self, event: Click) -> None:
        index = event.y + self.scroll_offset.y
        if 0 <= index < len(self.lines):
            self.move_to(index)

    def render_line(self, y: int) -> Strip:
        index = y + self.scroll_offset.y
        base = self.rich_style
        if index >= len(self.lines):
            return Strip.blank(self.size.width, base)
        _, depth, label, value, _ = self.lines[index]
        if depth < 0:
            style = base + self.get_component_rich_style("inspector--layer", partial=True)
            segments = [Segment(safe_str(self.line_text(index)), style)]
        else:
            kind = "inspector--bits" if depth else "inspector--field"
            pad = " " * (INDENT * (depth + 1))
            sep = " = " if depth else ": "
            segments = [
                Segment(
                    pad + safe_str(label), base + self.get_component_rich_style(kind, partial=True)
                ),
                Segment((sep + safe_str(value)) if value else "", base),
            ]
        if index == self.cursor and self.has_focus:
            cursor = self.get_component_rich_style("inspector--cursor", partial=True)
            segments = list(Segment.apply_style(segments, post_style=cursor))
        x, width = self.scroll_offset.x, self.size.width
        return Strip(segments).crop(x, x + width).extend_cell_length(width, base)

    def _width(self, line: Line) -> int:
        _, depth, label, value, _ = line
        return INDENT * (depth + 1) + len(label) + len(value) + 3
