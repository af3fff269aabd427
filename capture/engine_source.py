"""A capture file (or a paced replay of one) read by the native engine, for the TUI.

The engine reads, decodes and tracks on its own thread (`capture._engine.Session`); this object
is both the App's source and its tracker: `flows` holds a read-only snapshot of every tracked
flow (`capture._engine.Flow`, attributes as ARCHITECTURE.md lists them), refreshed by `step`
for the flows that changed since the last step. Nothing here is done per packet: a step costs
one snapshot per changed flow.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from capture.native import load
from capture.pcapio import CaptureError
from capture.sources import SourceStats

FRAMES_PER_FLOW = 64
"""Recent segments kept per flow live and in a replay (plus handshake and teardown)."""
ALL_FRAMES = 1 << 30
"""Per flow for a capture read whole: every frame, within the global budgets of the engine's
kept frames (250,000 segments, 256 MiB), past which the idlest flows' frames go first."""


@dataclass(slots=True)
class EngineStep:
    """What one step brought in (the shape of `tui.drain.Drained`)."""

    changed: set[int] = field(default_factory=set)
    flag_totals: list[tuple[int, int]] = field(default_factory=list)
    """Segments of every flow since the last step, per `(second * 512 + flag bits, segments)`
    in time order (the engine keeps the per-flow counts)."""
    flag_matched: list[tuple[int, int]] | None = None
    """The same for the flows the step's `matching` filter selects (None without one)."""
    per_second: Counter[int] = field(default_factory=Counter)
    """Segments of every flow per second of capture time."""
    segments: int = 0
    events: list[tuple[float, int, str, Any]] = field(default_factory=list)
    gone: dict[int, Any] = field(default_factory=dict)
    """Snapshots of the flows that left the tracker in this step (their events may name them)."""
    events_dropped: int = 0
    """Events the engine's queue has dropped so far (nobody read them in time)."""
    events_skipped: int = 0
    """Events older than the step's newest `max_events`, passed over unread."""
    finished_now: bool = False
    queue_fill: float = 0.0
    """Live: the share of the queue from the capture thread to tracking in use (0 to 1)."""


class EngineSource:
    """A capture read by the engine into flows it owns (see the module docstring)."""

    def __init__(
        self,
        path: str,
        speed: float | None = None,
        max_flows: int = 100_000,
        clock: Callable[[], float] | None = None,
        seed: int | None = None,
    ) -> None:
        """Open `path` (`-`: standard input) and start reading it; `speed`: a paced replay,
        by the wall clock or by `clock` (seconds since the replay began: tests' clock); `seed`
        fixes the flows' uids (None: the engine draws one).

        Raises `CaptureError` (one line) when the capture cannot be read."""
        name = None
        if path == "-":
            # The TUI may have moved the pipe off descriptor 0 (its keys come from there).
            path, name = f"/dev/fd/{sys.stdin.fileno()}", "standard input"
        engine = load()
        try:
            self.session = engine.Session(
                path,
                name=name,
                speed=speed,
                max_flows=max_flows,
                seed=seed,
                frames_per_flow=ALL_FRAMES if speed is None else FRAMES_PER_FLOW,
                # a replay by the caller's clock follows it from the first record, not the
                # wall clock until the first step sets it
                clock=None if clock is None else clock(),
            )
        except engine.CaptureError as exc:
            raise CaptureError(str(exc)) from None
        self._adopt(self.session, "stdin" if name else path, speed=speed, clock=clock)

    def _adopt(
        self,
        session: Any,
        description: str,
        capture_filter: str = "",
        speed: float | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        """Take `session` (opened) as this source's engine."""
        self.session = session
        self.description = description
        self.capture_filter = capture_filter
        self.error: str | None = None
        self.speed = speed
        self.clock = clock
        self.flows: dict[int, Any] = {}
        """Tracked flows by id, as snapshots (refreshed by `step`). Their `frames()` are the
        handshake and teardown segments only; `flow(id)` has the recent ones too."""
        self.listen_ports: set[Any] = set()
        self.finished = False
        """Set once every segment of the capture has been taken in."""
        self.segments = 0
        self.backlog = 0
        """Changed flows the engine still holds for the next steps (a bounded step's rest)."""
        self.capture_ts = 0.0
        self._position: float | None = None
        self._changed: set[int] = set()
        self.polled: dict[str, Any] = {}
        """What the last step's poll returned (counters, a headless run's lines and records)."""

    # -- the source side -------------------------------------------------------------------

    def start(self) -> None:
        """Nothing to do: the engine reads from the moment the capture is open."""

    def stop(self) -> None:
        """Stop the engine's reading thread (the flows stay readable)."""
        self.session.stop()

    def position(self) -> float | None:
        """A replay's clock (the capture time it had reached at the last step); None when the
        capture is read as fast as it goes."""
        return self._position

    def stats(self) -> SourceStats:
        """The decoder's counters so far."""
        c = self.session.counters()
        return SourceStats(
            frames=c["frames"],
            tcp=c["tcp"],
            non_tcp=c["non_tcp"],
            fragments=c["fragments"],
            frames_shed=c["shed"],
            malformed=dict(c["malformed"]),
        )

    # -- the tracker side -------------------------------------------------------------------

    @property
    def flow_count(self) -> int:
        """Every flow ever started, tracked or evicted."""
        return int(self.session.counters()["flows"])

    @property
    def evicted(self) -> int:
        """Flows evicted at the cap."""
        return int(self.session.counters()["evicted"])

    def take_changed(self) -> set[int]:
        """Ids of the flows changed (or gone) since the last call."""
        out, self._changed = self._changed, set()
        return out

    def flow(self, fid: int) -> Any | None:
        """Flow `fid` as it is now, with every segment it keeps (the recent ring besides the
        handshake and teardown): what a view of one flow reads. None once it is not tracked."""
        return self.session.flow(fid)

    def all_flows(self) -> list[Any]:
        """The tracked flows in id order."""
        return [self.flows[i] for i in sorted(self.flows)]

    def finish(self) -> None:
        """Nothing to do: the engine finishes its tracker when the capture ends."""

    def flag_minute(self, matching: Any = None) -> list[tuple[int, int]]:
        """The segments of the last minute's steps of the flows `matching` (a compiled filter;
        None: every flow) selects as they are now, per `(second * 512 + flag bits, segments)`:
        what a new filter recounts."""
        if matching is None:
            matching = load().Filter("")
        return list(self.session.flag_minute(matching))

    # -- one step -----------------------------------------------------------------------------

    def step(
        self,
        max_changed: int | None = None,
        first: Sequence[int] = (),
        matching: Any = None,
        max_events: int | None = None,
    ) -> EngineStep:
        """Take in what the engine tracked since the last step: at most `max_changed` changed
        flows (all when None), those of `first` that changed among them (see the engine's
        `Session.poll`); `backlog` then says how many more changed flows wait. `matching`: a
        compiled filter (`capture.filterexpr.compile_filter`) whose flows' flag counts the
        step sums apart. `max_events`: the newest events taken at most (all when None)."""
        if self.clock is not None:
            self.session.set_clock(self.clock())
        polled = self.polled = self.session.poll(max_changed, list(first), matching, max_events)
        self.backlog = polled["changed_left"]
        out = EngineStep(
            segments=polled["segments"] - self.segments,
            events=polled["events"],
            events_dropped=polled["events_dropped"],
            events_skipped=polled["events_skipped"],
            queue_fill=polled["queue_fill"],
        )
        self.segments = polled["segments"]
        self.capture_ts = polled["capture_ts"]
        self._position = polled["position"]
        flows = self.flows
        for flow in polled["gone"]:
            flows.pop(flow.id, None)
            out.changed.add(flow.id)
        for fid, snapshot in zip(polled["changed"], polled["flows"], strict=True):
            if snapshot is None:
                flows.pop(fid, None)
            else:
                flows[fid] = snapshot
            out.changed.add(fid)
        out.gone = {flow.id: flow for flow in polled["gone"]}
        out.flag_totals = polled["flag_totals"]
        out.flag_matched = polled["flag_matched"]
        out.per_second.update(dict(polled["per_second"]))
        if polled["error"]:
            self.error = polled["error"]
        if polled["finished"] and not self.finished:
            self.finished = out.finished_now = True
        self._changed |= out.changed
        return out
