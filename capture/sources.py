"""What a source of flows reports: its counters (`SourceStats`), the same for a capture file
and a live interface (`capture.engine_source`, `capture.live`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass
class SourceStats:
    """Counters a source reports; every frame is counted once."""

    frames: int = 0
    tcp: int = 0
    non_tcp: int = 0
    fragments: int = 0
    kernel_drops: int = 0
    queue_drops: int = 0
    frames_shed: int = 0
    """Segments tracked without keeping their frames for the views: live, while tracking was
    behind the capture (`capture._engine.Tracker.set_shedding`)."""
    malformed: dict[str, int] = field(default_factory=dict)


class Source(Protocol):
    """What the UI and the headless runner need from any source of flows."""

    description: str
    capture_filter: str
    error: str | None
    finished: bool

    def start(self) -> None: ...

    def stats(self) -> SourceStats: ...

    def stop(self) -> None: ...
