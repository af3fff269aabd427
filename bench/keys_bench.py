"""Key-to-screen on a quiet machine: the keys' own cost, with nothing else running.

The real App reads a capture whole (headless, 200x60, every flow kept in view), then the keys of
bench/tui_bench.py (`j`, `/`, `escape`, `enter`, `escape`) are pressed in turn, ROUNDS times, each
sent as a terminal's key reaches the App and timed as tui_bench times it (from the press to the
end of the first screen update after the key's action ran), 0.3 s apart. `--profile KEY` also
profiles that key's presses after the first two rounds (cProfile, cumulative time).

    .venv/bin/python bench/keys_bench.py                          # bench/out/tui-2000-50000-6.pcap
    .venv/bin/python bench/keys_bench.py --profile enter CAPTURE

The default capture is tui_bench's with 2,000 flows of ~150 segments each (made if missing).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from replay_tui import press  # noqa: E402
from tui_bench import KEYS, KeyClock, ensure_capture, wait  # noqa: E402

from tui.app import TcpwatchApp  # noqa: E402
from tui.cli import build_parser  # noqa: E402
from tui.run import make_source, view_linger  # noqa: E402

ROUNDS = 8
LOAD_TIMEOUT = 60.0


async def run(capture: Path, profile: str) -> tuple[dict[str, list[float]], cProfile.Profile]:
    args = build_parser().parse_args(["-r", str(capture), "--linger", "1e9"])
    args.seed = 1
    source = make_source(args)
    app = TcpwatchApp(source, source, linger=view_linger(args))
    clock = KeyClock(app)
    prof = cProfile.Profile()
    times: dict[str, list[float]] = {label: [] for label, _ in KEYS}
    async with app.run_test(size=(200, 60)) as pilot:
        await wait(
            lambda: app.drain.finished and not app.drain.backlog and app.ticks > 5, LOAD_TIMEOUT
        )
        await pilot.pause(0.5)
        for round_ in range(ROUNDS):
            for label, key in KEYS:
                profiled = bool(profile) and round_ >= 2 and label.startswith(profile)
                if profiled:
                    prof.enable()
                _, seconds = await clock.measure(lambda key=key: press(app, key), 10.0)
                prof.disable()
                times[label].append(seconds * 1e3)
                await asyncio.sleep(0.3)
    return times, prof


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("capture", nargs="?", type=Path, default=None)
    ap.add_argument("--profile", default="", help="profile this key's presses (its label)")
    args = ap.parse_args(argv)
    capture = args.capture or ensure_capture(2000, 50_000, 6)
    times, prof = asyncio.run(run(capture, args.profile))
    print(f"{capture}: {ROUNDS} presses a key, ms median / max")
    for label, values in times.items():
        print(f"  {label:32} {statistics.median(values):6.1f} / {max(values):6.1f}")
    if args.profile:
        pstats.Stats(prof).sort_stats("cumtime").print_stats(60)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
