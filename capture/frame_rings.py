"""The recent segments each flow keeps for the flow screen and the frame inspector.

Each flow holds a ring of its last `per_flow` segments (its handshake and teardown segments are
kept apart, in `Flow.special`, and never dropped here). All the rings together stay within a
budget of segments and one of frame bytes (a loopback frame reaches 64 KiB): past either, the
rings of the flows idle longest are emptied first, down to three quarters of the budgets.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

from capture.flow import Flow
from capture.flow_updates import last_seen
from capture.segment import Segment


class FrameRings:
    """Keeps segments in flows' rings and counts them (`kept`, `kept_bytes`)."""

    def __init__(self, per_flow: int, budget: int, max_bytes: int) -> None:
        self.per_flow = max(0, per_flow)
        self.budget = max(1, budget)
        self.max_bytes = max(1, max_bytes)
        self.kept = 0
        """Segments held in all the rings now."""
        self.kept_bytes = 0
        """Bytes of their frames."""

    def keep(self, flow: Flow, seg: Segment, flows: Mapping[int, Flow]) -> None:
        """Put `seg` in `flow`'s ring (its oldest falls out of a full ring); past a budget, empty
        the idlest of `flows`' rings."""
        ring = flow.ring
        size = self.per_flow
        if ring is None or ring.maxlen != size:
            if ring:
                self.drop(ring)
            ring = flow.ring = deque(ring or (), maxlen=size)
            self.kept += len(ring)
            self.kept_bytes += _frame_bytes(ring)
        if len(ring) < size:
            self.kept += 1
        else:
            self.kept_bytes -= len(ring[0].frame)
        ring.append(seg)
        self.kept_bytes += len(seg.frame)
        if self.kept > self.budget or self.kept_bytes > self.max_bytes:
            self._trim(flows)

    def drop(self, ring: deque[Segment]) -> None:
        """Stop counting a ring that is let go (its flow left, or it was emptied)."""
        self.kept -= len(ring)
        self.kept_bytes -= _frame_bytes(ring)

    def _trim(self, flows: Mapping[int, Flow]) -> None:
        goal, goal_bytes = self.budget * 3 // 4, self.max_bytes * 3 // 4
        with_rings = [f for f in flows.values() if f.ring]
        with_rings.sort(key=last_seen)
        for flow in with_rings:
            if self.kept <= goal and self.kept_bytes <= goal_bytes:
                break
            self.drop(flow.ring or deque())
            flow.ring = None


def _frame_bytes(ring: deque[Segment]) -> int:
    return sum(len(seg.frame) for seg in ring)
