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
from textual.cache import LRUCache
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
        self._styles: dict[str, Style] | None = None
        self._cache: LRUCache[tuple[int, int, tuple[int, int] | None], Strip] = LRUCache(256)

    def show(self, data: bytes, highlight: tuple[int, int] | None = None) -> None:
        """Show `data`, with bytes `highlight = (start, end)` marked."""
        self.data = data
        self.highlight = highlight
        self._cache.clear()
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

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles = None
        self._cache.clear()

    def _style(self, name: str) -> Style:
        """Widget style plus component `name` ("" for none), once per CSS change."""
        if self._styles is None:
            base = self.rich_style
            styles = {
                c: base + self.get_component_rich_style(c, partial=True)
                for c in self.COMPONENT_CLASSES
            }
            mark = self.get_component_rich_style("hexdump--highlight", partial=True)
            styles["hexdump--ascii-highlight"] = styles["hexdump--ascii"] + mark
            styles[""] = base
            self._styles = styles
        return self._styles[name]

    def render_line(self, y: int) -> Strip:
        index = y + self.scroll_offset.y
        per_line = self.per_line
        base = self._style("")
        if index * per_line >= len(self.data):
            return Strip.blank(self.size.width, base)
        key = (index, per_line, self.highlight)
        strip = self._cache.get(key)
        if strip is None:
            strip = self._cache[key] = self._build_line(index * per_line, per_line)
        strip = strip.crop(self.scroll_offset.x, self.scroll_offset.x + self.size.width)
        return strip.extend_cell_length(self.size.width, base)

    def _build_line(self, offset: int, per_line: int) -> Strip:
        off_text, _, ascii_text = hex_line(self.data, offset, per_line)
        segments = [Segment(off_text + "  ", self._style("hexdump--offset"))]
        segments += self._hex_segments(offset, per_line)
        segments.append(Segment("  ", self._style("")))
        ascii_style, ascii_mark = (
            self._style("hexdump--ascii"),
            self._style("hexdump--ascii-highlight"),
        )
        segments += [
            Segment(ch, ascii_mark if self._inside(offset + i) else ascii_style)
            for i, ch in enumerate(ascii_text)
        ]
        return Strip(segments).simplify()

    def _hex_segments(self, offset: int, per_line: int) -> list[Segment]:
        chunk = self.data[offset : offset + per_line]
        base, mark = self._style(""), self._style("hexdump--highlight")
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

    def _inside(self, pos: int) -> bool:
        return self.highlight is not None and self.highlight[0] <= pos < self.highlight[1]
