"""Input first: while a key or a click is being handled, the App's own work waits for it.

A key goes through several turns of the event loop before it shows: the App's message queue,
the focused widget's, the bindings and the action, then the screen's next update. Anything due
meanwhile runs between those turns, and the key waits for it: a sip, a tick and its repaint, a
collection of the garbage collector. Live under load, with the UI thread waiting for a core
about as long as it computes, each of those takes 10-55 ms of wall time, and a key that met
two or three of them took up to 190 ms to show (`bench/replay_bench.py --tui --keys`).

So for `WINDOW` seconds after an input event arrives the App skips its sips, puts off one tick
(never two in a row: the view still moves at 5 updates a second while keys repeat) and holds
the garbage collector. Nothing is lost by it: the engine keeps what changed until the next step
takes it, and the collector's count goes on, so a collection that fell due runs at the first
allocation after the hold, in the sip or tick that ended it. A hold ends `WINDOW` after it
began, however many inputs came meanwhile (the next input begins another): a key held down
does not put the collector off for longer, and what it has to collect stays that small.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable

WINDOW = 0.1
"""Seconds after an input event during which sips, one tick and the collector wait."""


class InputFirst:
    """When the last input came, and the collector's hold; `clock` is monotonic seconds."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._input_at = -math.inf
        self._held_since: float | None = None
        self._tick_put_off = False

    def noted(self) -> None:
        """An input event arrived: open the window, and hold the collector if it runs."""
        now = self._clock()
        self._input_at = now
        if self._held_since is None and gc.isenabled():
            gc.disable()
            self._held_since = now

    def busy(self) -> bool:
        """Whether an input is being handled (the window is open); ends a hold that is over."""
        now = self._clock()
        if self._held_since is not None and now - self._held_since >= WINDOW:
            self.release()
        return now - self._input_at < WINDOW

    def put_off_tick(self) -> bool:
        """Whether the tick due now waits: during the window, unless the last tick waited."""
        self._tick_put_off = not self._tick_put_off and self.busy()
        return self._tick_put_off

    @property
    def holding(self) -> bool:
        """Whether the collector is held now."""
        return self._held_since is not None

    def release(self) -> None:
        """Let the collector run again (at the end of a hold, and when the App unmounts)."""
        if self._held_since is not None:
            self._held_since = None
            gc.enable()
