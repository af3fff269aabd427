"""Waiting in a TUI test: let the App run (Pilot pauses) until a condition holds, bounded."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

TIMEOUT = 15.0
"""Seconds a condition may take before the test fails."""


async def wait_until(pilot: Any, cond: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    """Let the app run until `cond()` holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached in time"
        await pilot.pause()
