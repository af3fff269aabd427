"""A hex dump of one frame: offset, sixteen bytes in hex, and an ASCII column.

The frame is untrusted: the ASCII column keeps printable ASCII only and shows everything else as
`.` (`capture.safetext.printable_ascii`), so no byte of it can reach the terminal as a control.
Line API: only the visible lines are built. One byte range (the layer picked in the inspector) can
be highlighted.
"""

from __future__ import annotations

from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from capture.safetext import printable_ascii

BYTES_PER_LINE = 16
"""Bytes per line when the widget is wide enough (`line_width(16)` cells), else 8."""


def line_width(per_line: int) -> int:
    """Cells of one line: `0000  00 11 … 77  88 … ff  ................`."""
    return 6 + per_line * 3 + 1 + 2 + per_line


def hex_line(data: bytes, offset: int, per_line: int = BYTES_PER_LINE) -> tuple[str, str, str]:
    """The three columns of the line starting at `offset`: offset, hex, ASCII."""
    chunk = data[offset : offset + per_line]
    cells = [f"{b:02x}" for b in chunk] + ["  "] * (per_line - len(chunk))
    half = per_line // 2
    hex_text = " ".join(cells[:half]) + "  " + " ".join(cells[half:])
    return f"{offset:04x}", hex_text, printable_ascii(chunk)


class HexDump(ScrollView, can_focus=True):
    """The bytes of one frame; `show(data, highlight)` replaces them."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "hexdump--offset",
        "hexdump--highlight",
        "hexdump--ascii",
    }

    DEFAULT_CSS = """
    HexDump { height: 1fr; }
    HexDump > .hexdump--offset { color: $text-muted; }
    HexDump > .hexdump--highlight { background: $accent 40%; text-style: bold; }
    HexDump > .hexdump--ascii { color: $secondary; }
    """

    def __init__(self, *, name: str | None = None, id: str | None = None) -> None:
        super().__init__(name=name, id=id)
        self.data = b""
        self.highlight: tuple[int, int] | None = None

    def show(self, data: bytes, highlight: tuple[int, int] | None = None) -> None:
        """Show `data`, with bytes `highlight = (start, end)` marked."""
        self.data = data
        self.highlight = highlight
        self._resize_content()

    @property
    def per_line(self) -> int:
        """16 bytes a line, or 8 in a narrow terminal (the ASCII column stays visible)."""
        width = self.scrollable_content_region.width
        return BYTES_PER_LINE if width == 0 or width >= line_width(BYTES_PER_LINE) else 8

    def on_resize(self) -> None:
        self._resize_content()

    def _resize_content(self) -> None:
        per_line = self.per_line
        lines = (len(self.data) + per_line - 1) // per_line
        self.virtual_size = Size(line_width(per_line), lines)
        self.refresh()

    def set_highlight(self, highlight: tuple[int, int] | None) -> None:
        """Mark another byte range (or none) and scroll it into view."""
        self.highlight = highlight
        if highlight is not None:
            self.scroll_to(y=highlight[0] // self.per_line, animate=False)
        self.refresh()

    def line_text(self, index: int) -> str:
        """Line `index` as plain text (for tests and copy)."""
        per_line = self.per_line
        return "  ".join(hex_line(self.data, index * per_line, per_line))

    def render_line(self, y: int) -> Strip:
        index = y + self.scroll_offset.y
        per_line = self.per_line
        offset = index * per_line
        if offset >= len(self.data):
            return Strip.blank(self.size.width, self.rich_style)
        base = self.rich_style
        off_text, _, ascii_text = hex_line(self.data, offset, per_line)
        segments = [
            Segment(
                off_text + "  ",
                base + self.get_component_rich_style("hexdump--offset", partial=True),
            )
        ]
        segments += self._hex_segments(offset, per_line, base)
        ascii_style = base + self.get_component_rich_style("hexdump--ascii", partial=True)
        segments.append(Segment("  ", base))
        segments += self._marked(ascii_text, offset, ascii_style)
        strip = Strip(segments).simplify()
        strip = strip.crop(self.scroll_offset.x, self.scroll_offset.x + self.size.width)
        return strip.extend_cell_length(self.size.width, base)

    def _hex_segments(self, offset: int, per_line: int, base: Style) -> list[Segment]:
        chunk = self.data[offset : offset + per_line]
        mark = base + self.get_component_rich_style("hexdump--highlight", partial=True)
        out: list[Segment] = []
        for i in range(per_line):
            gap = "  " if i == per_line // 2 else (" " if i else "")
            text = f"{chunk[i]:02x}" if i < len(chunk) else "  "
            inside = i < len(chunk) and self._inside(offset + i)
            # the gap before a highlighted byte is highlighted too when its neighbour is
            gap_style = mark if inside and i and self._inside(offset + i - 1) else base
            if gap:
                out.append(Segment(gap, gap_style))
            out.append(Segment(text, mark if inside else base))
        return out

    def _marked(self, text: str, offset: int, style: Style) -> list[Segment]:
        mark = style + self.get_component_rich_style("hexdump--highlight", partial=True)
        return [
            Segment(ch, mark if self._inside(offset + i) else style) for i, ch in enumerate(text)
        ]

    def _inside(self, pos: int) -> bool:
        return self.highlight is not None and self.highlight[0] <= pos < self.highlight[1]
