"""One-line messages on stderr. File names and expressions in them come from outside: escaped."""

from __future__ import annotations

import sys

from capture.safetext import escape_untrusted


def say(message: str) -> None:
    """Print `tcpwatch: message` on stderr, with control and bidi characters escaped."""
    print("tcpwatch: " + escape_untrusted(message), file=sys.stderr)
