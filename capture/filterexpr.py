"""The display-filter language, shared by the TUI filter bar and the headless `-Y EXPR`.

    port 443 and not state established
    host 10.0.0.5 or net 2001:db8::/32
    (flags rst || conn REJ) && retries > 0 && irtt > 10ms
    proc nginx
    80                      (a bare number means a port)

The language lives in the engine (`capture/engine/src/filter`): parsed once, tested per flow in
Rust without allocating. `compile_filter(text)` returns that test as a predicate over the
engine's flow snapshots; errors raise `FilterError` with a one-line message naming the column.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from capture.native import load

Predicate = Callable[[Any], bool]
"""A compiled filter: takes a flow (`capture._engine.Flow`), says whether it matches."""

STATES: frozenset[str] = frozenset(
    {
        "UNKNOWN",
        "CLOSED",
        "LISTEN",
        "SYN_SENT",
        "SYN_RECEIVED",
        "ESTABLISHED",
        "FIN_WAIT_1",
        "FIN_WAIT_2",
        "CLOSE_WAIT",
        "CLOSING",
        "LAST_ACK",
        "TIME_WAIT",
    }
)
"""The RFC 9293 states `state` takes (with the aliases `SYN_RCVD`, `SYN_RECV`, `ESTAB`)."""

CONN_STATES: frozenset[str] = frozenset(
    ["S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH", "SHR", "OTH"]
)
"""Zeek's conn_state values `conn` takes."""

FLAGS: tuple[str, ...] = ("syn", "synack", "fin", "rst", "psh", "ack", "urg", "ece", "cwr")
"""The flags `flags` takes."""


class FilterError(ValueError):
    """A filter expression that does not parse. `str(err)` is one line naming the column."""

    def __init__(self, msg: str, pos: int) -> None:
        self.msg = msg
        self.pos = pos
        super().__init__(f"column {pos + 1}: {msg}")


def compile_filter(text: str) -> Predicate:
    """Compile `text` to a predicate over flows. An empty expression matches every flow."""
    engine = load()
    try:
        compiled = engine.Filter(text)
    except ValueError as exc:
        msg, pos = exc.args
        raise FilterError(str(msg), int(pos)) from None
    if compiled.empty:
        return _always
    return compiled  # type: ignore[no-any-return]  # callable; the engine's polls take it whole


def keywords() -> list[str]:
    """Every term keyword of the language, sorted (`--help` and `?` list them)."""
    return list(load().filter_keywords())


def _always(flow: Any) -> bool:
    return True
