"""Wireshark's TCP analysis marks of a kept segment, as text (the engine computes them).

The engine marks each segment at ingest as Wireshark 4.0's `tcp_analyze_sequence_number` does
(`capture/engine/src/flow/analysis.rs`): `Segment.analysis` holds the bits of
`_engine.analysis_kinds()`, named after Wireshark's `tcp.analysis.*` fields; a duplicate ACK also
carries its number (`dup_ack`) and the frame it repeats (`dup_ack_of`). Here they become the
ladder's tags (Wireshark's Info column words: `[Dup ACK #2]`, `[Fast Retransmission]`) and the
inspector's sentences (Wireshark's expert notes).
"""

from __future__ import annotations

from typing import Any

from capture import _engine

KINDS: tuple[tuple[int, str], ...] = tuple(_engine.analysis_kinds())
"""(bit, Wireshark field name), in the order the ladder shows them."""
BIT: dict[str, int] = {name: bit for bit, name in KINDS}

TEXT: dict[str, tuple[str, str, str]] = {
    "duplicate_ack": ("Dup ACK", "dup ACK", "duplicate ACK"),
    "fast_retransmission": (
        "Fast Retransmission",
        "fast retrans",
        "a (suspected) fast retransmission: it resends what the peer's duplicate ACKs asked "
        "for, within 20 ms of the last",
    ),
    "spurious_retransmission": (
        "Spurious Retransmission",
        "spurious retrans",
        "a (suspected) spurious retransmission: the peer had already acknowledged this data",
    ),
    "retransmission": (
        "Retransmission",
        "retrans",
        "a (suspected) retransmission: it starts below what its sender already sent",
    ),
    "out_of_order": (
        "Out-Of-Order",
        "out-of-order",
        "a (suspected) out-of-order segment: below the highest sequence number, soon (within "
        "the iRTT) after it",
    ),
    "lost_segment": (
        "Previous segment not captured",
        "not captured",
        "previous segment(s) not captured: it starts beyond the next sequence number",
    ),
    "ack_lost_segment": (
        "ACKed unseen segment",
        "ACKed unseen",
        "ACKed a segment that wasn't captured (common at capture start)",
    ),
    "keep_alive": (
        "Keep-Alive",
        "keep-alive",
        "TCP keep-alive: 0 or 1 byte one below the next sequence number",
    ),
    "keep_alive_ack": ("Keep-Alive ACK", "keep-alive ACK", "ACK to a TCP keep-alive segment"),
    "zero_window_probe": (
        "ZeroWindowProbe",
        "ZW probe",
        "zero-window probe: one byte sent into the peer's zero window",
    ),
    "zero_window_probe_ack": (
        "ZeroWindowProbeAck",
        "ZW probe ACK",
        "ACK to a zero-window probe, the window still zero",
    ),
    "zero_window": (
        "ZeroWindow",
        "zero window",
        "zero window: the receiver has no room (its buffer is full)",
    ),
    "window_update": ("Window Update", "window update", "window update: only the window changed"),
}
"""Kind → (the ladder's tag, Wireshark's Info column word; the summary's short name; the
inspector's sentence, Wireshark's expert note), most telling first: the order of tags on a
ladder line, of the inspector's notes and of the summary's counts."""
ORDER = tuple(TEXT)


def names(seg: Any) -> list[str]:
    """The analysis kinds of a kept segment (none for a hand-built one), in `ORDER`."""
    bits = int(getattr(seg, "analysis", 0))
    return [name for name in ORDER if bits & BIT[name]]


def tags(seg: Any) -> list[str]:
    """The ladder's tags: `[Dup ACK #2]`, `[Fast Retransmission]`, `[ZeroWindow]` …"""
    return [_tag(seg, name) for name in names(seg)]


def _tag(seg: Any, name: str) -> str:
    if name == "duplicate_ack":
        return f"[Dup ACK #{seg.dup_ack}]"
    return f"[{TEXT[name][0]}]"


def notes(seg: Any) -> list[tuple[str, str]]:
    """(tag, sentence) for each kind: what the inspector says about the segment."""
    out = []
    for name in names(seg):
        text = TEXT[name][2]
        if name == "duplicate_ack":
            text += f" #{seg.dup_ack}: the same ACK, window and sequence as frame {seg.dup_ack_of}"
        out.append((_tag(seg, name), text))
    return out


def count_line(counts: dict[str, int]) -> str:
    """A flow's (or side's) non-zero counts, most telling first: `dup ACK 3, fast retrans 1`."""
    shown = [f"{TEXT[name][1]} {counts[name]}" for name in ORDER if counts.get(name)]
    return ", ".join(shown) or "none"
