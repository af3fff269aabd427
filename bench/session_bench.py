"""The engine's session thread in UI mode, without the App: CPU per segment as the TUI uses it.

A `capture._engine.Session` replays a capture as fast as it reads (`speed` 1000: the pacing
never waits) with the TUI's settings (kept frames, every flow kept in view), while this thread
polls it as the App does: 60 times a second, at most 400 changed flows a poll. Reported: the
segments tracked, the wall time, and the CPU time of the session's thread (`tcpwatch-reader`,
from /proc/self/task/*/stat) per segment, which is what bounds the rate the TUI can track.

    .venv/bin/python bench/session_bench.py                       # bench/tui_bench.py's capture
    .venv/bin/python bench/session_bench.py --frames-per-flow 0   # no kept frames
    .venv/bin/python bench/session_bench.py --capture bench/out/realistic-1000000-44000-1.pcap \
        --segments 1000000

To compare two builds, swap capture/_engine.abi3.so between runs and alternate them: this
machine's speed drifts by a third within the hour.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from tui_bench import named_thread_cpu  # noqa: E402

from capture import _engine  # noqa: E402
from tui.app import SIP_EVERY, TICK  # noqa: E402
from tui.drain import CHANGED_PER_STEP as CHANGED_PER_POLL  # noqa: E402

POLLS_PER_S = round(1 / TICK + 1 / SIP_EVERY)  # the App's ticks and the sips between them
THREAD = "tcpwatch-reader"


def run(capture: str, frames_per_flow: int, segments: int) -> dict[str, float]:
    session = _engine.Session(
        capture, speed=1000.0, frames_per_flow=frames_per_flow, max_flows=200_000, linger=1e9
    )
    session.start()
    start, cpu, done = time.perf_counter(), 0.0, 0
    deadline = start + 120.0
    while time.perf_counter() < deadline:
        cpu = named_thread_cpu(THREAD) or cpu  # the last reading before the thread ends
        polled = session.poll(CHANGED_PER_POLL, [])
        done = polled["segments"]
        if done >= segments or polled["finished"]:
            break
        time.sleep(1 / POLLS_PER_S)
    wall = time.perf_counter() - start
    cpu = named_thread_cpu(THREAD) or cpu
    session.stop()
    return {"segments": done, "wall_s": wall, "cpu_s": cpu, "us_per_segment": cpu / done * 1e6}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--capture", default=None, help="default: tui_bench's 100,000-flow capture")
    ap.add_argument("--frames-per-flow", type=int, default=64)
    ap.add_argument("--segments", type=int, default=3_000_000, help="stop after this many")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args(argv)
    capture = args.capture
    if capture is None:
        from tui_bench import ensure_capture

        capture = str(ensure_capture(100_000, 500_000.0, 12.0))
    for _ in range(args.repeat):
        r = run(capture, args.frames_per_flow, args.segments)
        rate = r["segments"] / r["wall_s"]
        print(
            f"{r['segments']:,} segments in {r['wall_s']:.2f} s ({rate:,.0f}/s);"
            f" session thread {r['cpu_s']:.2f} s of CPU, {r['us_per_segment']:.2f} us a segment"
            f" (frames_per_flow {args.frames_per_flow})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
