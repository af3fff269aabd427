"""The frame inspector: every layer and header field of one frame, as `capture.dissect` gives them.

The widget only renders: dissection happens in `capture.dissect` and arrives as plain `Layer`s whose
text is already escaped. Line API, one line per layer heading or field; a cursor moves over the
lines and reports the byte range of the layer under it (`LayerHighlighted`) so the hex dump can
mark those bytes.
"""

from __future__ import annotations

from typing import ClassVar

from rich.segment import Segment
from textual.binding import Binding, BindingType
from textual.events import Click
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from capture.dissect import Layer
from widgets.text import safe_str

INDENT = 2


def inspector_lines(layers: list[Layer]) -> list[tuple[int, int, str, str]]:
    """Flatten layers to lines: (layer index, depth, label, value); depth -1 is a layer heading."""
    lines: list[tuple[int, int, str, str]] = []
    for i, layer in enumerate(layers):
        span = f"bytes {layer.start}-{layer.end - 1}" if layer.end > layer.start else "no bytes"
        lines.append((i, -1, layer.name, span if layer.name != "Frame" else ""))
        lines.extend((i, row.depth, row.field, row.value) for row in layer.rows)
    return lines


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

    class LayerHighlighted(Message):
        """The cursor is on a line of the layer covering bytes `start`..`end` (end exclusive)."""

        def __init__(self, name: str, start: int, end: int) -> None:
            self.name = name
            self.start = start
            self.end = end
            super().__init__()

    def __init__(self, *, name: str | None = None, id: str | None = None) -> None:
        super().__init__(name=name, id=id)
        self.dissected: list[Layer] = []
        self.lines: list[tuple[int, int, str, str]] = []
        self.cursor = 0

    def show(self, layers: list[Layer]) -> None:
        """Show a newly dissected frame, cursor on its first line."""
        self.dissected = layers
        self.lines = inspector_lines(layers)
        self.cursor = 0
        width = max((self._width(line) for line in self.lines), default=0)
        self.virtual_size = Size(width, len(self.lines))
        self.scroll_to(0, 0, animate=False)
        self.refresh()

    def line_text(self, index: int) -> str:
        """Line `index` as plain text (what `render_line` shows, without styles)."""
        _, depth, label, value = self.lines[index]
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
        """Put the cursor on line `index` and scroll it into view."""
        self.cursor = index
        self.scroll_to_region(Region(0, index, 1, 1), animate=False)
        layer = self.dissected[self.lines[index][0]]
        self.post_message(self.LayerHighlighted(layer.name, layer.start, layer.end))
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
        _, depth, label, value = self.lines[index]
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

    def _width(self, line: tuple[int, int, str, str]) -> int:
        _, depth, label, value = line
        return INDENT * (depth + 1) + len(label) + len(value) + 3
