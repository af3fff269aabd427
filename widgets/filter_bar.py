"""The filter bar: `/` opens it, `enter` applies, `escape` cancels, up/down recall history.

It only collects text and reports it; compiling and applying the expression belongs to the
screen, which calls `show_error` when the expression does not parse (the bar stays open and the
previous filter stays in force). `escape` closes the bar without applying what was typed: the
filter in force stays (the screen has its own key to clear it).
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Input, Label

from widgets.text import safe_text

HISTORY = 50


class FilterBar(Horizontal):
    """An input for a display-filter expression, with its error shown in place.

    Closed, the bar is a rule between the table and what is below it; open, the rule's line
    holds the prompt. The line is laid out either way: opening and closing the bar repaint it
    alone, where a bar that came and went made the table one row shorter or longer, which
    laid out and repainted the whole screen (live under load, `/` took up to 185 ms to show)."""

    DEFAULT_CSS = """
    FilterBar { height: 1; border-top: hkey $panel-lighten-2; }
    FilterBar > * { display: none; }
    FilterBar.-open { border-top: none; background: $boost; }
    FilterBar.-open > * { display: block; }
    FilterBar > Label#filter-prompt { width: auto; padding: 0 1; }
    FilterBar > Input { width: 1fr; }
    FilterBar > Label#filter-error { width: auto; max-width: 60%; color: $error; padding: 0 1; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", show=True),
        Binding("up", "recall(-1)", "Previous", show=False),
        Binding("down", "recall(1)", "Next", show=False),
    ]

    class Submitted(Message):
        """An expression to apply (may be empty: no filter)."""

        def __init__(self, expression: str) -> None:
            self.expression = expression
            super().__init__()

    class Cancelled(Message):
        """The bar was closed without applying anything (the filter in force stays)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.history: list[str] = []
        self._recall = 0

    def compose(self) -> ComposeResult:
        yield Label("filter /", id="filter-prompt")
        # Compact: one row, no border. A border set here in CSS loses to Input's own
        # `Input:focus` rule, and a 1-row input inside a tall border shows none of its text.
        yield Input(
            placeholder="port 443 and not state established", id="filter-input", compact=True
        )
        yield Label("", id="filter-error")

    @property
    def input(self) -> Input:
        """The text input."""
        return self.query_one(Input)

    def open(self, text: str) -> None:
        """Show the bar with `text` in it and focus it."""
        self.add_class("-open")
        self.input.value = text
        self.input.cursor_position = len(text)
        self._recall = len(self.history)
        self.show_error("")
        # Not `Input.focus`: that repaints the input, which its focus does anyway, and asks to
        # scroll it into view, which lays the screen out again (it is always in view).
        self.screen.set_focus(self.input, scroll_visible=False)

    def close(self) -> None:
        """Hide the bar."""
        self.remove_class("-open")

    @property
    def is_open(self) -> bool:
        """Whether the bar is showing."""
        return self.has_class("-open")

    def show_error(self, message: str) -> None:
        """Show why the expression was refused (empty: no error)."""
        self.query_one("#filter-error", Label).update(safe_text(message))

    def remember(self, expression: str) -> None:
        """Keep an applied expression for up/down recall (most recent last, no repeats)."""
        if expression and (not self.history or self.history[-1] != expression):
            if expression in self.history:
                self.history.remove(expression)
            self.history.append(expression)
            del self.history[:-HISTORY]
        self._recall = len(self.history)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.Submitted(event.value.strip()))

    def on_input_changed(self, event: Input.Changed) -> None:
        self.show_error("")

    def action_cancel(self) -> None:
        self.close()
        self.post_message(self.Cancelled())

    def action_recall(self, step: int) -> None:
        if not self.history:
            return
        self._recall = max(0, min(len(self.history), self._recall + step))
        text = self.history[self._recall] if self._recall < len(self.history) else ""
        self.input.value = text
        self.input.cursor_position = len(text)
