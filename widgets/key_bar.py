"""The key bar: the keys the current screen offers and what each does, on one line.

Textual's `Footer` makes a widget of each key, and makes them all anew whenever the screen's
bindings may have changed: every screen pushed or popped, every change of focus. Live, at
500,000 packets/s, mounting them took ~5 ms each. A key pressed meanwhile waited behind them:
`escape` back to the table 130-320 ms median (BENCHMARKS.md). This bar is one widget: a change
of bindings repaints its line. It looks and acts as the footer did: each key with its
description, a key its screen cannot use now dimmed, a click on a key pressing it.
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

from rich.cells import cell_len
from rich.segment import Segment
from textual import events
from textual.strip import Strip
from textual.widget import Widget

from widgets.text import fit_strip


class Key(NamedTuple):
    """One key the bar shows: the key pressed, as shown, what it does, whether it can now."""

    key: str
    display: str
    description: str
    enabled: bool


class KeyBar(Widget):
    """The current screen's keys (its bindings that `show`), docked at the bottom."""

    ALLOW_SELECT = False
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "key-bar--key",
        "key-bar--description",
        "key-bar--disabled",
    }

    DEFAULT_CSS = """
    KeyBar { dock: bottom; height: 1; color: $footer-foreground; background: $footer-background; }
    KeyBar > .key-bar--key {
        color: $footer-key-foreground; background: $footer-key-background; text-style: bold;
    }
    KeyBar > .key-bar--description {
        color: $footer-description-foreground; background: $footer-description-background;
    }
    KeyBar > .key-bar--disabled { text-style: dim; }
    """

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Any) -> None:
        self.refresh()

    def keys(self) -> list[Key]:
        """What the bar shows, in order: for each action, its first binding that shows."""
        seen: set[str] = set()
        out = []
        for _node, binding, enabled, _tooltip in self.screen.active_bindings.values():
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            display = self.app.get_key_display(binding)
            out.append(Key(binding.key, display, binding.description, enabled))
        return out

    def _spans(self) -> list[tuple[int, int, Key]]:
        """Each key's cells on the line: (start, end, key)."""
        spans, x = [], 0
        for key in self.keys():
            width = sum(map(cell_len, _texts(key)))
            spans.append((x, x + width, key))
            x += width
        return spans

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        if y:
            return Strip.blank(width, base)
        key_style = base + self.get_component_rich_style("key-bar--key")
        description_style = base + self.get_component_rich_style("key-bar--description")
        dim = self.get_component_rich_style("key-bar--disabled")
        segments = []
        for key in self.keys():
            shown, described = (key_style, description_style)
            if not key.enabled:
                shown, described = shown + dim, described + dim
            shown_key, description = _texts(key)
            segments.append(Segment(shown_key, shown))
            if description:
                segments.append(Segment(description, described))
        return fit_strip(Strip(segments), width, base)

    def shown(self) -> str:
        """The line as it shows now, as plain text."""
        return self.render_line(0).text

    def on_mouse_down(self, event: events.MouseDown) -> None:
        """A click on a key presses it (a key the screen cannot use now rings the bell)."""
        offset = event.get_content_offset(self)
        if offset is None:
            return
        for start, end, key in self._spans():
            if start <= offset.x < end:
                if key.enabled:
                    self.app.simulate_key(key.key)
                else:
                    self.app.bell()
                return


def _texts(key: Key) -> tuple[str, str]:
    """A key as the footer drew it: padded by a cell each side, then its description ("")."""
    return f" {key.display} ", f"{key.description} " if key.description else ""
