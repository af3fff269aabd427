"""The engine's flows, read through `capture._engine.Tracker`, equal the Python tracker's.

The export records are checked byte for byte by tests/test_golden.py; this compares everything
else the views read from a flow (each side's counters and options, the transitions, the kept
frames field by field), on every bundled capture, with what the Python tracker held before it
was retired: `tests/golden/views.json` (made by `tests/golden/make_views.py` from the Python
tracker, frames_per_flow 64, input finished), one digest per part, equal exactly when every
value of that part is `==` to the Python tracker's.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from captures import DATA

from capture import _engine

GOLDEN = Path(__file__).parent / "golden"
sys.path.insert(0, str(GOLDEN))
from make_views import (  # noqa: E402
    FRAMES_PER_FLOW,
    PARTS,
    SEED,
    TRANSITION_FIELDS,
    VIEWS,
    captures,
    digests,
)

CAPTURES = [p.name for p in captures()]
FROZEN: dict[str, dict[str, Any]] = json.loads(VIEWS.read_text())


def _engine_flows(name: str) -> list[Any]:
    tracker = _engine.Tracker(max_flows=100_000, frames_per_flow=FRAMES_PER_FLOW, seed=SEED)
    totals = tracker.read_file(str(DATA / name))
    tracker.finish()
    assert totals["error"] is None or isinstance(totals["error"], str)
    return tracker.flows()


def test_every_capture_is_frozen() -> None:
    assert sorted(FROZEN) == CAPTURES == sorted(p.name for p in DATA.iterdir()
                                                if p.suffix in (".pcap", ".pcapng"))  # fmt: skip


@pytest.mark.parametrize("name", CAPTURES)
def test_engine_flows_equal_the_python_trackers(name: str) -> None:
    """Every attribute the views read, for every flow of the capture."""
    # GIVEN the Python tracker's flows, frozen
    want = FROZEN[name]
    # WHEN the engine reads the capture
    flows = _engine_flows(name)
    got = digests(
        (f, [tuple(getattr(t, k) for k in TRANSITION_FIELDS) for t in f.transitions]) for f in flows
    )
    # THEN
    assert got["flows"] == want["flows"]
    assert [p for p in PARTS if got[p] != want[p]] == []


def test_a_capture_that_is_not_one_is_one_line() -> None:
    """The engine's reader refuses a non-capture with the same one line as before."""
    tracker = _engine.Tracker()
    with pytest.raises(_engine.CaptureError, match="not a pcap or pcapng file"):
        tracker.read_file(str(Path(__file__)))
