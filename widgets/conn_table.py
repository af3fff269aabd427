"""The connection table: a line-API `ScrollView` over `FlowList`, one row per flow.

Only the rows on screen are ever built (`render_line`), and each built row is cached by the flow's
version, the second of the clock it shows (age and idle move with it; each row's second starts at
its own point of the clock's, `_second`), the width and whether the cursor is on it. Cost per
frame is therefore bounded by the terminal height, not by the number of flows. The cursor is a
flow id, not a row number, so it stays on its flow across updates, sorts and filters.
"""

from __future__ import annotations

from collections.abc import Mapping
from math import ceil
from typing import Any, ClassVar

from rich.cells import set_cell_size
from rich.color import Color, blend_rgb
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.scrollbar import ScrollBar
from textual.strip import Strip

from widgets.conn_rows import CATEGORIES, FINISHED, Column, fit, fit_columns, fit_endpoint
from widgets.flow_list import COLUMN_SORTS, FlowList
from widgets.text import safe_str
from widgets.units import byte_rate

NEW_FOR = 2.0
"""Seconds of capture time a new flow is marked `+`."""
UNTRUSTED = frozenset({"proc"})
"""Columns whose text comes from outside (process names): escaped and measured in cells."""
FADE = 0.45
"""How far a finished flow's colour moves toward the background while it lingers."""
CHANGED_FOR = 1.0
"""Seconds of capture time a flow that moved is marked `•`."""


class ConnectionTable(ScrollView, can_focus=True):
    """One row per flow, coloured by state category; fed a `FlowList` and the tracker's flows."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "conn-table--header",
        "conn-table--sorted",
        "conn-table--cursor",
        "conn-table--new",
        "conn-table--changed",
        "conn-table--empty",
        *(f"conn-table--{c}" for c in CATEGORIES),
    }

    DEFAULT_CSS = """
    ConnectionTable { height: 1fr; overflow-x: hidden; }
    ConnectionTable > .conn-table--header { text-style: bold; background: $panel; }
    ConnectionTable > .conn-table--sorted { text-style: bold underline; background: $panel; }
    ConnectionTable > .conn-table--cursor { background: $block-cursor-background; }
    ConnectionTable > .conn-table--new { color: $success; text-style: bold; }
    ConnectionTable > .conn-table--changed { color: $accent; }
    ConnectionTable > .conn-table--empty { color: $text-muted; text-style: italic; }
    ConnectionTable > .conn-table--handshaking { color: $text-warning; }
    ConnectionTable > .conn-table--established { color: $text-success; }
    ConnectionTable > .conn-table--closing { color: $text-secondary; }
    ConnectionTable > .conn-table--closed { color: $text-muted; }
    ConnectionTable > .conn-table--reset { color: $text-error; }
    ConnectionTable > .conn-table--refused { color: $text-error; text-style: italic; }
    ConnectionTable > .conn-table--half-open { color: $text-primary; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("k", "cursor(-1)", "Up", show=False),
        Binding("j", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "edge(0)", "First", show=False),
        Binding("end", "edge(1)", "Last", show=False),
        Binding("enter", "select", "Open", show=True),
    ]

    class FlowHighlighted(Message):
        """The cursor moved to another flow (`flow_id` None when the table is empty)."""

        def __init__(self, flow_id: int | None) -> None:
            self.flow_id = flow_id
            super().__init__()

    class FlowSelected(Message):
        """A flow was chosen to open (enter, or a click on the highlighted row)."""

        def __init__(self, flow_id: int) -> None:
            self.flow_id = flow_id
            super().__init__()

    class SortRequested(Message):
        """A column header was clicked; `sort` names the `SORT_KEYS` entry."""

        def __init__(self, sort: str) -> None:
            self.sort = sort
            super().__init__()

    def __init__(self, model: FlowList, flows: Mapping[int, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model = model
        self.flows = flows
        self.now = 0.0
        self.cursor_id: int | None = None
        self._cursor_row = 0
        self._columns: list[Column] = fit_columns(80)
        self._fitted: tuple[int, int, bool, bool, bool] = (80, 0, False, False, False)
        self._last_painted: tuple[Any, ...] = ()
        self._styles: dict[tuple[str | None, bool, str], Style] = {}
        self._cache: LRUCache[tuple[Any, ...], Strip] = LRUCache(1024)
        self._look: tuple[Style, ...] = ()
        """The styles the rows and `_styles` were built with (`_check_look`)."""
        self._look_checked = False
        self.empty_text = ""
        """Said on the first row while no flow is shown (waiting for traffic, no match)."""

    # Textual's own focus and blur handlers repaint the whole widget; the table's look does
    # not depend on its focus (its styles would repaint it if they did), and a repaint of
    # every row was most of what `/` cost (the filter bar takes the focus, and gives it back).

    def _on_focus(self, event: events.Focus) -> None:
        event.prevent_default()  # Textual's: `has_focus`, a repaint, and tell the parent
        self.has_focus = True
        if self.parent is not None:
            self.parent.post_message(events.DescendantFocus(self))

    def _on_blur(self, event: events.Blur) -> None:
        event.prevent_default()
        self.has_focus = False
        if self.parent is not None:
            self.parent.post_message(events.DescendantBlur(self))

    # -- data -------------------------------------------------------------------------------

    def sync(self, now: float, repaint: bool = True) -> None:
        """Take the model's new order and the capture clock; keep the cursor on its flow.
        `repaint=False` only keeps the cursor on its flow: a later `sync` repaints, sizes the
        table to its rows and scrolls to the cursor (a new size or scroll position repaints
        at once: between ticks, ~8 more repaints a second when flows keep coming)."""
        if repaint:
            self.now = now
        if self._fitted != self._fit_key(self.size.width):
            self._fit(self.size.width)
        if repaint:
            self._resize(Size(self.size.width, len(self.model) + 1))
        previous = self.cursor_id
        row = self.model.row_of(previous) if previous is not None else None
        if row is None:
            row = min(self._cursor_row, len(self.model) - 1)
        follow = repaint and previous is not None and row is not None
        self._set_cursor_row(row, follow=follow, paint=False)
        if repaint:
            self._repaint_changed()

    def _repaint_changed(self) -> None:
        """Repaint the lines whose content changed since the last repaint: all of them after a
        scroll, a new width, sort or filter; else those alone. Live, the header's legend counts
        change at every tick while most rows on screen stay as they were (at 500,000 packets/s,
        repainting them all was most of a tick's render); a cursor moved one row changes two."""
        painted, last = self._painted(), self._last_painted
        if painted == last:
            return
        self._last_painted = painted
        whole, header, lines = painted
        if not last or whole != last[0] or len(lines) != len(last[2]):
            self.refresh()
            return
        width = self.size.width
        if header != last[1]:
            self.refresh(Region(0, 0, width, 1))
        for y, (now, before) in enumerate(zip(lines, last[2], strict=True), start=1):
            if now != before:
                self.refresh(Region(0, y, width, 1))

    def _resize(self, size: Size) -> None:
        """Make the table `size` (one row per flow, and the header) to scroll through.

        Live, the row count changes at every tick; as a reactive with layout, a new virtual
        size made Textual lay out and repaint the whole screen each time (most of a tick's
        render at 500,000 packets/s). While the vertical scrollbar stays shown (or hidden),
        nothing but it and the scroll range change: those are updated alone."""
        old = self.virtual_size
        if size == old:
            return
        height = self.container_size.height  # as Textual decides whether to show it
        if size.width != old.width or (size.height > height) != (old.height > height):
            self.virtual_size = size  # the scrollbar comes or goes: the layout changes
            return
        self.set_reactive(ConnectionTable.virtual_size, size)
        if self.show_vertical_scrollbar:
            bar = self.vertical_scrollbar
            drawn = _thumb(bar)
            bar.set_reactive(ScrollBar.window_virtual_size, size.height)
            # Repainting the bar goes through Rich and took longer than the rest of a tick's
            # render; more rows seldom move its thumb by an eighth of a cell (at the top of
            # the table, never once the thumb is one cell long).
            if _thumb(bar) != drawn:
                bar.refresh()
        self.scroll_y = self.validate_scroll_y(self.scroll_y)

    def _painted(self) -> tuple[Any, ...]:
        """What the table's lines depend on, as (every line, the header, each row's line); a
        tick that changes none of it repaints nothing, one that changes a line that line."""
        rows = self._rows_in_view()
        versions = self.model.versions
        lines = []
        now = self.now
        for row in rows:
            fid = self.model.id_at(row)
            lines.append((fid, versions.get(fid, 0), row == self._cursor_row, _second(fid, now)))
        whole = (rows.start, self._columns[0].width, self.empty_text,
                 self.model.sort, self.model.descending)  # fmt: skip
        return whole, tuple(self.model.category_counts.items()), lines

    def _set_cursor_row(self, row: int, follow: bool = True, paint: bool = True) -> None:
        n = len(self.model)
        row = max(0, min(row, n - 1))
        self._cursor_row = row
        new_id = self.model.id_at(row) if n else None
        if new_id != self.cursor_id:
            self.cursor_id = new_id
            self.post_message(self.FlowHighlighted(new_id))
        if follow and n:
            self._scroll_to_row(row)
        if paint:
            self._repaint_changed()

    def visible_ids(self) -> list[int]:
        """Ids of the flows on the rows in view (the engine hands their changes over first)."""
        return [self.model.id_at(row) for row in self._rows_in_view()]

    def _rows_in_view(self) -> range:
        """The model's rows on screen, below the header."""
        top = round(self.scroll_y)
        return range(top, min(len(self.model), top + max(0, self.size.height - 1)))

    def _scroll_to_row(self, row: int) -> None:
        top = round(self.scroll_y)
        body = max(1, self.size.height - 1)
        if row < top:
            self.scroll_to(y=row, animate=False, immediate=True)
        elif row >= top + body:
            self.scroll_to(y=row - body + 1, animate=False, immediate=True)

    def move_to(self, flow_id: int) -> bool:
        """Put the cursor on `flow_id` if it is shown."""
        row = self.model.row_of(flow_id)
        if row is None:
            return False
        self._set_cursor_row(row)
        return True

    @property
    def cursor_row(self) -> int:
        """The cursor's display row (0-based)."""
        return self._cursor_row

    @property
    def columns(self) -> list[Column]:
        """The columns that fit the current width."""
        return self._columns

    # -- actions and events ------------------------------------------------------------------

    def action_cursor(self, delta: int) -> None:
        """Move the cursor `delta` rows."""
        self._set_cursor_row(self._cursor_row + delta)

    def action_page(self, direction: int) -> None:
        """Move the cursor a screenful up (-1) or down (1)."""
        self._set_cursor_row(self._cursor_row + direction * max(1, self.size.height - 2))

    def action_edge(self, end: int) -> None:
        """Move the cursor to the first (0) or last (1) row."""
        self._set_cursor_row(len(self.model) - 1 if end else 0)

    def action_select(self) -> None:
        """Ask to open the flow under the cursor."""
        if self.cursor_id is not None:
            self.post_message(self.FlowSelected(self.cursor_id))

    async def _on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y == 0:
            col = self._column_at(offset.x)
            if col is not None:
                self.post_message(self.SortRequested(COLUMN_SORTS.get(col.key, "id")))
            return
        row = round(self.scroll_y) + offset.y - 1
        if 0 <= row < len(self.model):
            again = row == self._cursor_row
            self._set_cursor_row(row, follow=False)
            if again and self.cursor_id is not None:
                self.post_message(self.FlowSelected(self.cursor_id))

    def _column_at(self, x: int) -> Column | None:
        pos = 2
        for col in self._columns:
            if pos <= x < pos + col.width + 1:
                return col
            pos += col.width + 1
        return None

    def on_resize(self, event: events.Resize) -> None:
        """Refit the columns to the new width; keep the cursor in view."""
        self._fit(event.size.width)
        self.virtual_size = Size(event.size.width, len(self.model) + 1)
        self._scroll_to_row(self._cursor_row)

    def _fit_key(self, width: int) -> tuple[int, int, bool, bool, bool]:
        """What the columns depend on: width, longest endpoint, processes and VLANs seen, and
        whether current rates are measured."""
        model = self.model
        return (
            width,
            model.endpoint_width,
            model.procs_seen,
            model.many_vlans,
            model.rates is not None,
        )

    def _fit(self, width: int) -> None:
        self._fitted = self._fit_key(width)
        _, addr_width, procs, vlans, rates = self._fitted
        self._columns = fit_columns(width, addr_width, procs, vlans=vlans, rates=rates)
        self._cache.clear()

    def notify_style_update(self) -> None:
        """Styles were applied again (a theme, the focus, the screen coming back): the rows and
        styles built are checked at the next paint, and dropped if the look changed. A screen
        that comes back applies every style again, unchanged; dropping them made the first key
        after `escape` from a flow build every row on screen anew."""
        super().notify_style_update()
        self._look_checked = False

    def _check_look(self) -> None:
        if self._look_checked:
            return
        self._look_checked = True
        look = (
            self.rich_style,
            *map(self.get_component_rich_style, sorted(self.COMPONENT_CLASSES)),
        )
        if look != self._look:
            self._look = look
            self._cache.clear()
            self._styles.clear()

    # -- rendering ---------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        """Line `y` of the widget: the header, a row (cached), or blank."""
        self._check_look()
        width = self.size.width
        if y == 0:
            return self._header(width)
        row = round(self.scroll_y) + y - 1
        flow = None
        if row < len(self.model):
            fid = self.model.id_at(row)
            flow = self.flows.get(fid)
        if flow is None:
            if y == 1 and not len(self.model) and self.empty_text:
                hint = Segment(
                    f"  {self.empty_text}", self.get_component_rich_style("conn-table--empty")
                )
                return (
                    Strip([hint]).extend_cell_length(width, self._style(None, False)).crop(0, width)
                )
            return Strip.blank(width, self._style(None, False))
        is_cursor = row == self._cursor_row
        key = (fid, self.model.versions.get(fid, 0), _second(fid, self.now), width, is_cursor)
        strip = self._cache.get(key)
        if strip is None:
            strip = self._cache[key] = self._row_strip(fid, flow, width, is_cursor)
        return strip

    def _header(self, width: int) -> Strip:
        counts = tuple(self.model.category_counts.get(c, 0) for c in CATEGORIES)
        key = ("header", width, self.model.sort, self.model.descending, counts)
        strip = self._cache.get(key)
        if strip is None:
            base = self.get_component_rich_style("conn-table--header")
            sorted_style = self.get_component_rich_style("conn-table--sorted")
            arrow = "▼" if self.model.descending else "▲"
            segs = [Segment("  ", base)]
            for col in self._columns:
                is_sorted = COLUMN_SORTS.get(col.key) == self.model.sort
                label = col.header + (arrow if is_sorted else "")
                segs.append(
                    Segment(fit(label, col.width, col.align), sorted_style if is_sorted else base)
                )
                segs.append(Segment(" ", base))
            used = sum(seg.cell_length for seg in segs)
            segs.extend(self._legend(counts, width - used, base))
            strip = Strip(segs).extend_cell_length(width, base).crop(0, width)
            self._cache[key] = strip
        return strip

    def _legend(self, counts: tuple[int, ...], room: int, base: Style) -> list[Segment]:
        """Each state category in its own colour with its count, right-aligned, if it fits."""
        items = [(f"{cat} {n:,}", cat) for cat, n in zip(CATEGORIES, counts, strict=True) if n]
        size = sum(len(text) + 1 for text, _ in items)
        if not items or size + 2 > room:
            return []
        segs = [Segment(" " * (room - size), base)]
        for text, cat in items:
            color = self.get_component_rich_style(f"conn-table--{cat}").color
            segs.append(Segment(text, Style(color=color, bgcolor=base.bgcolor)))
            segs.append(Segment(" ", base))
        return segs

    def _row_strip(self, fid: int, flow: Any, width: int, is_cursor: bool) -> Strip:
        cat = self.model.categories.get(fid, "half-open")
        style = self._style(cat, is_cursor)
        mark, mark_kind = self._mark(flow)
        cells = []
        now = self.now
        for col in self._columns:
            raw = col.cell(flow, now)
            if col.key == "rate" and self.model.rates is not None:  # the model's, not the flow's
                raw = byte_rate(self.model.rates.rate(fid, now))
            if col.key in ("orig", "resp"):
                cells.append(fit_endpoint(raw, col.width))
            elif col.key in UNTRUSTED:
                cells.append(set_cell_size(fit(safe_str(raw), col.width, col.align), col.width))
            else:  # our own ASCII: numbers, state names, Zeek letters
                cells.append(fit(raw, col.width, col.align))
        # One segment for the whole row: a row has one style, and fewer segments render faster.
        text = (" " + " ".join(cells) + " ").ljust(width - 1)[: width - 1]
        mark_style = self._style(cat, is_cursor, mark_kind) if mark_kind else style
        return Strip([Segment(mark, mark_style), Segment(text, style)], width)

    def _style(self, cat: str | None, is_cursor: bool, mark: str = "") -> Style:
        """The style of a row of category `cat` (None: blank), cached until the styles change."""
        key = (cat, is_cursor, mark)
        style = self._styles.get(key)
        if style is None:
            style = self.rich_style
            if cat is not None:
                style += self.get_component_rich_style(f"conn-table--{cat}")
                if cat in FINISHED:
                    style = self._faded(style)
                if is_cursor:
                    style += self.get_component_rich_style("conn-table--cursor")
                if mark:
                    style += self.get_component_rich_style(f"conn-table--{mark}")
            self._styles[key] = style
        return style

    def _faded(self, style: Style) -> Style:
        """`style` with its colour moved toward the background: a lingering, finished flow."""
        fg, bg = style.color, style.bgcolor or self.rich_style.bgcolor
        if fg is None or bg is None:
            return style + Style(dim=True)
        mixed = blend_rgb(fg.get_truecolor(), bg.get_truecolor(), FADE)
        return style + Style(color=Color.from_triplet(mixed))

    def _mark(self, flow: Any) -> tuple[str, str]:
        if self.now - flow.first_ts < NEW_FOR:
            return "+", "new"
        if self.now - flow.last_ts < CHANGED_FOR:
            return "•", "changed"
        return " ", ""


def _second(fid: int, now: float) -> int:
    """The second of the clock a flow's row shows its age, idle time and marks at. Each flow's
    seconds start at its own point of the clock's, so that the rows on screen are not all
    rebuilt and repainted in the same tick: the ticks of a second share them."""
    return int(now + (fid * 0.6180339887) % 1.0)


def _thumb(bar: ScrollBar) -> tuple[int, ...]:
    """Where a vertical scrollbar's thumb is drawn: its height, and the thumb's ends in eighths
    of a cell, as Textual's `ScrollBarRender.render_bar` places them (its glyphs are eighths)."""
    size, virtual, window = bar.size.height, bar.window_virtual_size, bar.window_size
    if not (window and size and virtual and size != virtual and virtual > window):
        return (size,)
    length = max(1, window / (virtual / size))
    start = int((size - length) * (bar.position / (virtual - window)) * 8)
    return size, start, start + ceil(length * 8)
