"""The one door through which untrusted strings reach a Textual view.

Addresses, process names, payload text and file names come from outside. Handed to a widget as a
`str` they would be parsed as Rich markup, and control bytes inside a `Text` reach the terminal
unchanged. `safe_text` escapes controls first and builds a `Text` directly, so no markup is parsed.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip

from capture.safetext import escape_untrusted


def safe_text(s: str, style: str | Style = "") -> Text:
    """`s` as a `Text` with controls escaped and markup left literal."""
    return Text(escape_untrusted(s), style=style, no_wrap=True, end="")


def fit_strip(strip: Strip, width: int, style: Style) -> Strip:
    """`strip` cut to `width` cells, ending in an ellipsis (of `style`) if it was wider, with
    its runs of one style made one segment each."""
    if strip.cell_length > width:
        strip = Strip([*strip.crop(0, max(0, width - 1)), Segment("…", style)])
    return strip.simplify()


def safe_str(s: str) -> str:
    """`s` with controls escaped, for places that build their own `Text` or `Segment`s."""
    return escape_untrusted(s)
