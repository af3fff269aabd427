"""What the insight detectors add to a headless run on the 1,000,000-packet benchmark capture.

Runs, alternately and `--repeat` times each, on the capture of bench/gencap.py (made or reused
through bench/ingest_bench.py):

    tcpwatch -r FILE --export jsonl              (baseline)
    tcpwatch -r FILE --export jsonl --insights   (the same, plus the findings at the end)

and compares the median wall times (whole process, start-up included). The target is an
overhead below 20%. It also prints the findings of one run, as a sanity check of what they say
about the generated flood and scan.

    .venv/bin/python bench/insights_bench.py [--packets N] [--flows N] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest_bench import TCPWATCH, ensure_capture  # noqa: E402

TARGET_OVERHEAD = 0.20


def timed(argv: list[str]) -> tuple[float, str]:
    """Wall seconds of one run (stdout discarded) and its stderr's last line."""
    t0 = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"{' '.join(argv)} failed: {proc.stderr.strip()[-300:]}")
    lines = proc.stderr.strip().splitlines()
    return seconds, lines[-1] if lines else ""


def findings(path: Path) -> list[dict[str, object]]:
    """The findings of one run (JSON lines with type=finding)."""
    argv = [TCPWATCH, "-r", str(path), "--export", "jsonl", "--insights"]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    records = (json.loads(line) for line in out.splitlines() if '"type":"finding"' in line)
    return [r for r in records if r.get("type") == "finding"]


def analyse_in_process(path: Path, repeat: int) -> tuple[int, float, list[float]]:
    """Track the capture here (as headless does, no kept frames), then time `analyse` alone."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from capture.insights import analyse  # noqa: PLC0415
    from capture.native import load  # noqa: PLC0415

    tracker = load().Tracker(frames_per_flow=0, max_flows=1_000_000)
    t0 = time.perf_counter()
    tracker.read_file(str(path))
    tracker.finish()
    flows = tracker.flows()
    ingest = time.perf_counter() - t0
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        analyse(flows)
        runs.append(time.perf_counter() - t0)
    return len(tracker.flows), ingest, runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--packets", type=int, default=1_000_000)
    ap.add_argument("--flows", type=int, default=44_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    path, packets = ensure_capture(args.packets, args.flows, args.seed)
    base = [TCPWATCH, "-r", str(path), "--export", "jsonl"]
    plain: list[float] = []
    with_insights: list[float] = []
    totals = ""
    for _ in range(args.repeat):
        seconds, totals = timed(base)
        plain.append(seconds)
        with_insights.append(timed([*base, "--insights"])[0])
    a, b = statistics.median(plain), statistics.median(with_insights)
    overhead = (b - a) / a
    print(f"capture: {path.name} ({packets:,} packets); {totals}")
    print("| run | median wall s | runs |")
    print("|---|---|---|")
    print(f"| --export jsonl | {a:.2f} | {', '.join(f'{s:.2f}' for s in plain)} |")
    print(
        f"| --export jsonl --insights | {b:.2f} | {', '.join(f'{s:.2f}' for s in with_insights)} |"
    )
    met = "met" if overhead < TARGET_OVERHEAD else "NOT met"
    print(f"insights overhead {overhead:+.1%} (target < {TARGET_OVERHEAD:.0%}): {met}")
    n_flows, ingest, runs = analyse_in_process(path, args.repeat)
    best = min(runs)
    print(
        f"in process: ingest {ingest:.2f} s for {n_flows:,} flows; analyse() "
        f"{', '.join(f'{r:.3f}' for r in runs)} s "
        f"(best {best:.3f} s = {best / ingest:.1%} of ingest)"
    )
    for f in findings(path):
        print(f"  [{f['severity']}] {f['kind']} {f['subject']}: {len(f['flows'])} flows")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
