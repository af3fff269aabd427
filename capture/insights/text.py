"""Words for insight findings: counts with their nouns, and what SYN retry gaps show.

Plain functions (no Textual): the findings' text is read in the TUI, in `--insights` lines and in
JSON records alike.
"""

from __future__ import annotations

from collections.abc import Sequence

QUICK = 0.05
"""A gap shorter than this (seconds) is a SYN resent at once, not on a retransmission timeout."""
LINUX_RTO = (0.8, 1.3)
"""Equal gaps in this range (seconds) are Linux's linear SYN retries: its initial RTO is 1 s and
(6.x) the first `tcp_syn_linear_timeouts` retries (4 by default) keep it before it doubles."""


def count(n: int, noun: str, plural: str = "") -> str:
    """`1 flow`, `3 flows`; `plural` for nouns whose plural is not noun + s."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def were(n: int) -> str:
    """The verb agreeing with `n` things: `was` or `were`."""
    return "was" if n == 1 else "were"


def _close(a: float, b: float) -> bool:
    """Two gaps equal within timer slack (15 %, and 20 ms for short ones)."""
    return abs(a - b) <= 0.15 * b + 0.02


def _secs(s: float) -> str:
    return f"{s:.2g} s"


def describe_retry_gaps(gaps: Sequence[float]) -> str:
    """What the gaps between one flow's SYNs show, in words.

    `[1, 1, 1, 1, 1, 2, 4]`: five equal gaps of ~1 s (Linux's linear retries), then each gap
    double the last (exponential backoff, RFC 6298). Gaps near zero are SYNs resent at once;
    gaps neither equal nor doubling are called irregular.
    """
    parts: list[str] = []
    quick = 0
    while quick < len(gaps) and gaps[quick] < QUICK:
        quick += 1
    if quick:
        parts.append(f"{count(quick, 'SYN')} resent at once (not on a timeout)")
    rest = list(gaps[quick:])
    if len(rest) == 1:
        parts.append(f"one gap of {_secs(rest[0])}")
    elif rest:
        parts.append(_pattern(rest))
    return ", then ".join(parts)


def _pattern(gaps: list[float]) -> str:
    """Equal gaps first (linear), then each double the last (exponential), else irregular."""
    equal = 1
    while equal < len(gaps) and _close(gaps[equal], gaps[0]):
        equal += 1
    doubling = equal
    while doubling < len(gaps) and _close(gaps[doubling], 2 * gaps[doubling - 1]):
        doubling += 1
    if doubling < len(gaps):
        return "irregular gaps, neither equal nor each double the last"
    backoff = "each gap double the last (exponential backoff, RFC 6298)"
    if equal == 1:
        return backoff
    linux = LINUX_RTO[0] <= gaps[0] <= LINUX_RTO[1]
    why = "Linux's linear retries, tcp_syn_linear_timeouts" if linux else "a fixed interval"
    steady = f"{count(equal, 'equal gap')} of ~{_secs(gaps[0])} ({why})"
    return steady if equal == len(gaps) else f"{steady}, then {backoff}"
