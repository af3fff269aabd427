"""What the connection table shows for one flow: columns, state categories and cell text.

Pure formatting over the documented `Flow` attributes; no Textual here so the table widget, the
benchmarks and the tests share one definition of a row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from capture.segment import endpoint
from widgets.units import byte_rate, human_bytes, short_duration

Flow = Any  # capture._engine.Flow: read through its documented attributes only

CATEGORIES: tuple[str, ...] = (
    "handshaking",
    "established",
    "closing",
    "closed",
    "reset",
    "refused",
    "half-open",
)
"""State categories, each painted with its own component class (`conn-table--<category>`)."""

FINISHED: frozenset[str] = frozenset({"closed", "reset", "refused"})
"""Categories after which a flow lingers dimmed and then leaves the view."""

_RESET_STATES = frozenset({"RSTO", "RSTR", "RSTOS0", "RSTRH"})
_CLOSING = frozenset({"FIN_WAIT_1", "FIN_WAIT_2", "CLOSING", "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT"})
_DONE = frozenset({"CLOSED", "TIME_WAIT"})
_OPENING = frozenset({"SYN_SENT", "SYN_RECEIVED", "LISTEN"})

ADDR_WIDTH = 21
"""Cells an address column has at least: `255.255.255.255:65535`."""
MAX_ENDPOINT = 47
"""The longest `[ipv6]:port`."""

SHORT_STATE: dict[str, str] = {
    "SYN_RECEIVED": "SYN_RCVD",
    "ESTABLISHED": "ESTAB",
    "FIN_WAIT_1": "FIN_WAIT1",
    "FIN_WAIT_2": "FIN_WAIT2",
    "CLOSE_WAIT": "CLOSE_WT",
}


def category(flow: Flow) -> str:
    """The state category of a flow, from Zeek's conn_state and each end's RFC 9293 state."""
    cs = flow.conn_state
    if cs == "REJ":
        return "refused"
    if cs in _RESET_STATES or flow.close_kind == "rst":
        return "reset"
    so, sr = flow.state_orig, flow.state_resp
    if so in _DONE and sr in _DONE and (cs == "SF" or flow.close_kind):
        return "closed"
    if so in _CLOSING or sr in _CLOSING or cs in ("S2", "S3"):
        return "closing"
    if so in _OPENING or sr in _OPENING:
        return "handshaking"
    if so == "ESTABLISHED" and sr == "ESTABLISHED":
        return "established"
    if cs == "SF":
        return "closed"
    return "half-open"


human_secs = short_duration
"""A duration in at most 6 cells (`widgets.units.short_duration`)."""


@dataclass(frozen=True, slots=True)
class Column:
    """One table column: header, width, priority (lower shows first when narrow), cell text."""

    key: str
    header: str
    width: int
    priority: int
    cell: Callable[[Flow, float], str]
    align: str = "left"


def _orig(f: Flow, now: float) -> str:
    return endpoint(f.orig_addr, f.orig_port)


def _resp(f: Flow, now: float) -> str:
    return endpoint(f.resp_addr, f.resp_port)


def _state(name: str) -> str:
    return SHORT_STATE.get(name, name)


def retries(f: Flow) -> int:
    """What the `retr` column counts (and sorts by): retransmissions each way, a resent SYN
    or SYN/ACK among them (the tracker counts a SYN retry as a retransmission already)."""
    return int((f.orig.retrans or 0) + (f.resp.retrans or 0))


def _retries(f: Flow, now: float) -> str:
    n = retries(f)
    return str(n) if n else ""


def proc_text(f: Flow) -> str:
    """The `process` column: the processes owning either end, comma-separated ("" if none)."""
    procs = [p for p in (getattr(f, "proc_orig", None), getattr(f, "proc_resp", None)) if p]
    return ",".join(str(p) for p in procs)


def _proc(f: Flow, now: float) -> str:
    return proc_text(f)


def _vlan(f: Flow, now: float) -> str:
    return ",".join(str(v) for v in f.vlan) or "-"  # outermost first, as exported


def average_rate(f: Flow) -> float | None:
    """Payload bytes a second over the flow's life (first to last segment); None before it
    lasted any time (one segment)."""
    duration = f.last_ts - f.first_ts
    if duration <= 0:
        return None
    return (f.orig.payload + f.resp.payload) / duration


def _current_rate(f: Flow, now: float) -> str:
    # The table fills this column from its model's rates (`FlowList.rates`, `ByteRates`): a
    # flow alone does not know what it received in the last seconds.
    return ""


COLUMNS: tuple[Column, ...] = (
    Column("id", "#", 6, 7, lambda f, now: str(f.id), "right"),
    Column("orig", "originator", ADDR_WIDTH, 0, _orig),
    Column("resp", "responder", ADDR_WIDTH, 0, _resp),
    Column("vlan", "vlan", 5, 1, _vlan, "right"),
    Column("state_orig", "orig st", 9, 1, lambda f, now: _state(f.state_orig)),
    Column("state_resp", "resp st", 9, 1, lambda f, now: _state(f.state_resp)),
    Column("conn", "conn", 6, 1, lambda f, now: f.conn_state),
    Column("history", "history", 10, 3, lambda f, now: f.history),
    Column("pkts", "pkts o/r", 11, 4, lambda f, now: f"{f.orig.pkts}/{f.resp.pkts}", "right"),
    Column(
        "bytes",
        "bytes o/r",
        11,
        2,
        lambda f, now: f"{human_bytes(f.orig.payload)}/{human_bytes(f.resp.payload)}",
        "right",
    ),
    Column("rtt", "rtt", 7, 5, lambda f, now: human_secs(f.irtt), "right"),
    Column("retries", "retr", 5, 6, _retries, "right"),  # 5: room for "retr▼"
    Column("age", "age", 6, 5, lambda f, now: human_secs(now - f.first_ts), "right"),
    Column("idle", "idle", 6, 6, lambda f, now: human_secs(now - f.last_ts), "right"),
    Column("rate", "rate", 7, 2, _current_rate, "right"),
    Column("avg", "avg", 7, 6, lambda f, now: byte_rate(average_rate(f)), "right"),
    Column("proc", "process", 14, 5, _proc),  # live, whose process it is matters more than idle
)
"""Every column in display order; `fit_columns` picks those that fit the width."""
FILE_AVG_PRIORITY = 5
"""The average rate's priority when there is no current rate (a file read whole): with RTT and
age, after them in the order (120 columns keep the RTT)."""


def fit_columns(
    width: int,
    addr_width: int = ADDR_WIDTH,
    procs: bool = True,
    mark_width: int = 2,
    vlans: bool = False,
    rates: bool = True,
) -> list[Column]:
    """The columns that fit in `width` cells (one blank between), by priority, in display order.

    Address columns widen, when there is room to spare, up to `addr_width` (the longest
    endpoint shown), so IPv6 endpoints show whole on a wide terminal. The process column is
    left out while no flow has a process (always, reading a file); the VLAN column unless
    `vlans` (flows came with different tags). Without current `rates` (a file read whole: no
    "now" to measure at) the current rate column is left out and the average comes earlier in
    the order (`FILE_AVG_PRIORITY`).
    """
    chosen: set[str] = set()
    used = mark_width

    def priority(col: Column) -> int:
        return FILE_AVG_PRIORITY if col.key == "avg" and not rates else col.priority

    for col in sorted(COLUMNS, key=priority):
        skip = (
            (col.key == "proc" and not procs)
            or (col.key == "vlan" and not vlans)
            or (col.key == "rate" and not rates)
        )
        if skip:
            continue
        if used + col.width + 1 <= width or col.priority == 0:
            chosen.add(col.key)
            used += col.width + 1
    cols = [c for c in COLUMNS if c.key in chosen]
    grow = max(0, min((width - used) // 2, addr_width - ADDR_WIDTH, MAX_ENDPOINT - ADDR_WIDTH))
    if grow:
        cols = [
            Column(c.key, c.header, c.width + grow, c.priority, c.cell, c.align)
            if c.key in ("orig", "resp")
            else c
            for c in cols
        ]
    return cols


def fit_endpoint(text: str, width: int) -> str:
    """An `addr:port` cut in the address (never the port) to at most `width` cells, padded."""
    if len(text) <= width:
        return text.ljust(width)
    tail = text[text.rfind(":") :]
    head = max(0, width - len(tail) - 1)
    return (text[:head] + "…" + tail)[-width:] if width > 0 else ""


def fit(text: str, width: int, align: str = "left") -> str:
    """`text` cut (with an ellipsis) or padded to exactly `width` cells."""
    if len(text) > width:
        return text[: width - 1] + "…" if width > 0 else ""
    return text.rjust(width) if align == "right" else text.ljust(width)
