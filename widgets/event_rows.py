"""What the events feed shows for one engine event: its time, its endpoints, its words.

    12:00:01.2  10.0.0.1:40000 → 10.0.0.2:443  handshake 1.2ms

Pure formatting over an event tuple `(ts, flow_id, kind, detail)` and the documented `Flow`
attributes; no Textual here, so the widget and the tests share one definition of a line.
"""

from __future__ import annotations

import time
from typing import Any

from capture.segment import endpoint
from widgets.units import short_duration

KINDS: tuple[str, ...] = (
    "handshake",
    "refused",
    "reset",
    "fin",
    "time_wait",
    "syn_retry",
    "evicted",
    "released",
)
"""Event kinds the engine publishes (`capture/engine/src/session/events.rs`)."""

SIDE_WORDS = {"orig": "client", "resp": "server"}
"""Who sent it, in the words the rest of the app uses for the originator and the responder."""


def clock(ts: float) -> str:
    """Capture time as local `HH:MM:SS.d` (tenths cut, not rounded: never `:60`)."""
    tenths = int((ts % 1.0) * 10)
    return time.strftime("%H:%M:%S", time.localtime(ts)) + f".{min(tenths, 9)}"


ENDPOINT_WIDTH = 21
"""Cells each endpoint is padded to, `255.255.255.255:65535`, so IPv4 lines align."""


def endpoints(flow: Any | None, flow_id: int) -> str:
    """`10.0.0.1:40000 → 10.0.0.2:443` (IPv6 bracketed), each end padded to ENDPOINT_WIDTH;
    `flow 12` when the flow is not known."""
    if flow is None:
        return f"{f'flow {flow_id}':<{2 * ENDPOINT_WIDTH + 3}}"
    orig = endpoint(flow.orig_addr, flow.orig_port)
    resp = endpoint(flow.resp_addr, flow.resp_port)
    return f"{orig:<{ENDPOINT_WIDTH}} → {resp:<{ENDPOINT_WIDTH}}"


def words(kind: str, detail: Any, flow: Any | None = None) -> str:
    """The event in words, with its detail and units: `handshake 1.2ms`, `reset by server`."""
    if kind == "handshake":
        return "handshake" if detail is None else f"handshake {short_duration(detail)}"
    if kind == "refused":
        how = _refusal(flow)
        return f"refused ({how})" if how else "refused"
    if kind == "reset":
        return f"reset by {SIDE_WORDS.get(detail, str(detail))}"
    if kind == "fin":
        return f"FIN from {SIDE_WORDS.get(detail, str(detail))}"
    if kind == "time_wait":
        return f"TIME_WAIT ({SIDE_WORDS.get(detail, str(detail))})"
    if kind == "syn_retry":
        n, gap = detail
        return f"SYN retry {n} (gap {short_duration(gap)})"
    return kind.replace("_", " ")


def _refusal(flow: Any | None) -> str:
    """`RST/ACK` or `RST` when every segment from the responder agrees on the ACK bit."""
    if flow is None:
        return ""
    resp = flow.resp
    acks = resp.flags.get("ack", 0)
    if acks and acks == resp.pkts:
        return "RST/ACK"
    return "RST" if not acks and resp.pkts else ""


def line(event: tuple[float, int, str, Any], flow: Any | None) -> tuple[str, str, str]:
    """One feed line's three texts: time, endpoints, words."""
    ts, flow_id, kind, detail = event
    return clock(ts), endpoints(flow, flow_id), words(kind, detail, flow)
