"""Durations, byte counts and byte rates as every view writes them.

Durations: µs below a millisecond, ms below a second, then s. One place, so that the ladder's Δt,
the flow summary's RTTs and the table's columns agree: the unit is picked after rounding, so
999.6 µs reads `1.000ms`, never `1000µs`. Bytes: decimal units (K = 1000), at most 5 cells.
"""

from __future__ import annotations


def duration(seconds: float | None) -> str:
    """`85µs`, `12.345ms`, `1.204s` (three decimals for ms and s); `-` for no value."""
    if seconds is None:
        return "-"
    s = max(0.0, seconds)
    micros = round(s * 1e6)
    if micros < 1000:
        return f"{micros}µs"
    if round(s * 1e3, 3) < 1000:
        return f"{s * 1e3:.3f}ms"
    return f"{s:.3f}s"


def short_duration(seconds: float | None) -> str:
    """At most 6 cells, for table columns: `850µs`, `12.3ms`, `450ms`, `4.5s`, `12m03`, `3h12`."""
    if seconds is None:
        return "-"
    s = max(0.0, seconds)
    if round(s * 1e6) < 1000:
        return f"{round(s * 1e6)}µs"
    ms = s * 1e3
    if round(ms, 1) < 100:
        return f"{ms:.1f}ms"
    if round(ms) < 1000:
        return f"{ms:.0f}ms"
    if round(s, 1) < 60:
        return f"{s:.1f}s"
    if s < 3600:
        return f"{int(s // 60)}m{int(s % 60):02d}"
    return f"{int(s // 3600)}h{int(s % 3600 // 60):02d}"


def human_bytes(n: int) -> str:
    """A byte count in at most 5 characters: 999, 1.2K, 34K, 5.6M, 12G."""
    if n < 1000:
        return str(n)
    for unit in "KMGTP":
        n_f = n / 1000.0
        if n_f < 9.95:
            return f"{n_f:.1f}{unit}"
        if n_f < 999.5:
            return f"{n_f:.0f}{unit}"
        n = int(n_f)
    return f"{n}E"


def byte_rate(per_second: float | None) -> str:
    """Bytes a second in at most 7 cells: `0/s`, `850/s`, `1.2K/s`, `34M/s`; `-` for no value."""
    if per_second is None:
        return "-"
    return f"{human_bytes(round(max(0.0, per_second)))}/s"
