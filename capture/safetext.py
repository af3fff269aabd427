"""Make untrusted text (payload, hostnames, process and file names) safe to show in a terminal.

Everything a packet carries is attacker-controlled. A control byte reaching the terminal can move
the cursor, retitle the window or hide text (ESC/CSI/OSC, C1 controls, BEL), and bidirectional
overrides can reorder what the reader sees. Every such string passes through `escape_untrusted`
before any view shows it; Textual views build `rich.text.Text` from the result, never markup.
"""

from __future__ import annotations

import re

# C0 controls, DEL, C1 controls, and the Unicode bidi controls and overrides (U+061C, U+200E/F,
# U+202A-202E, U+2066-2069), plus zero-width and line/paragraph separators that break layout.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def escape_untrusted(text: str) -> str:
    """Replace every control and bidi character with a visible `\\xNN` / `\\uNNNN` escape."""
    return _UNSAFE.sub(_escape, text)


def printable_ascii(data: bytes) -> str:
    """Bytes as the ASCII column of a hex dump: printable ASCII kept, everything else `.`."""
    return data.decode("latin-1").translate(_ASCII_TABLE)


_ASCII_TABLE = {i: (chr(i) if 0x20 <= i < 0x7F else ".") for i in range(256)}


def csv_cell(text: str) -> str:
    """A CSV cell that a spreadsheet will not evaluate: leading = + - @ (and tab/CR) are quoted."""
    text = escape_untrusted(text)
    if text and text[0] in "=+-@\t\r":
        return "'" + text
    return text
