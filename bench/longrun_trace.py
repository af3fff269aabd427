"""The headless long run in process, under tracemalloc: where memory that grows is allocated.

The real command line (`tui.cli.main`, headless export, live on `lo`) runs on the main thread
(its signal handlers need it) while a helper thread starts the load of `bench/longrun_load.py`,
samples RSS and the memory tracemalloc traces every second, takes snapshots at half and at the
end of the load, then ends the run with SIGINT as a user would. The difference between the two
snapshots, by source line, shows what still grows once the flow cap is reached; traced memory
flat while RSS grows points at the allocator instead.

    sudo .venv/bin/python bench/longrun_trace.py --seconds 240 --max-flows 5000

    .venv/bin/python bench/longrun_trace.py --big-frames 50      # bytes the TUI's rings hold

tracemalloc makes every allocation slower (about 2-3x here): CPU figures are not comparable.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import sys
import threading
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "tests"))
from live_traffic import capturing, wait_until  # noqa: E402
from longrun_bench import port_filter, proc_sample, slope_kb_min, start_load  # noqa: E402


def drive(args: argparse.Namespace, out: dict[str, object]) -> None:
    """Load, sample, snapshot; always ends the capture with SIGINT to this process."""
    load = None
    try:
        if not wait_until(lambda: capturing(os.getpid()), 20):
            out["error"] = "did not start capturing"
            return
        load = start_load(args.base, args.seconds, args.rate)
        samples: list[dict[str, float]] = []
        snaps: dict[str, tracemalloc.Snapshot] = {}
        notes: list[str] = []
        t0 = time.monotonic()
        while load.poll() is None and time.monotonic() - t0 < args.seconds + 60:
            t = time.monotonic() - t0
            rss, _ = proc_sample(os.getpid())
            traced = tracemalloc.get_traced_memory()[0]
            samples.append({"t": t, "rss_kb": rss, "traced_kb": traced / 1024})
            if t >= args.seconds / 2 and "half" not in snaps:
                snaps["half"] = snapshot(notes, "half")
            time.sleep(1.0)
        rss, _ = proc_sample(os.getpid())
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        notes.append(
            f"end of load: RSS {rss / 1024:.1f} MB, {proc_sample(os.getpid())[0] / 1024:.1f}"
        )
        notes[-1] += " MB after malloc_trim(0) (freed heap memory glibc had kept)"
        snaps["end"] = snapshot(notes, "end")
        load.communicate(timeout=60)
        out.update(samples=samples, snaps=snaps, notes=notes)
    finally:
        if load is not None and load.poll() is None:
            load.kill()
        os.kill(os.getpid(), signal.SIGINT)


def snapshot(notes: list[str], label: str) -> tracemalloc.Snapshot:
    """A snapshot, noting what taking it did to RSS (it copies every trace: not small)."""
    before, _ = proc_sample(os.getpid())
    snap = tracemalloc.take_snapshot()
    after, _ = proc_sample(os.getpid())
    notes.append(f"snapshot '{label}': RSS {before / 1024:.1f} -> {after / 1024:.1f} MB")
    return snap


def report(out: dict[str, object], seconds: float, top: int) -> None:
    """Traced memory and RSS over the run, their slopes, and the top growth by line."""
    samples: list[dict[str, float]] = out["samples"]  # type: ignore[assignment]
    print("| t s | RSS MB | traced MB |\n|---|---|---|")
    for s in samples[:: max(1, len(samples) // 12)]:
        print(f"| {s['t']:.0f} | {s['rss_kb'] / 1024:.1f} | {s['traced_kb'] / 1024:.1f} |")
    half = [s for s in samples if s["t"] >= seconds / 2]
    traced = [{"t": s["t"], "rss_kb": s["traced_kb"]} for s in half]
    print(f"\nsecond half: RSS {slope_kb_min(half):+.1f} KB/min, ", end="")
    print(f"traced {slope_kb_min(traced):+.1f} KB/min")
    print("\n".join(out["notes"]))  # type: ignore[arg-type]
    snaps: dict[str, tracemalloc.Snapshot] = out["snaps"]  # type: ignore[assignment]
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__)]
    diff = (
        snaps["end"].filter_traces(ignore).compare_to(snaps["half"].filter_traces(ignore), "lineno")
    )
    print(f"\nTop {top} changes, half → end of the load (size change, count change, where):")
    for stat in diff[:top]:
        frame = stat.traceback[0]
        where = f"{os.path.relpath(frame.filename, REPO)}:{frame.lineno}"
        print(f"  {stat.size_diff / 1024:+9.1f} KB  {stat.count_diff:+7d}  {where}")


def big_frames(flows: int) -> None:
    """The TUI's tracker (default ring and frame budget) fed `flows` uploads of 64 KB segments.

    Loopback (MTU 65536) and TSO/GRO give frames this big; the rings and the budget count
    segments, not bytes.
    """
    from segmaker import Conv

    from capture.flows import FlowTracker

    tracker = FlowTracker(max_flows=5000)  # frames_per_flow and frame_budget as run_tui has them
    rss0, _ = proc_sample(os.getpid())
    for i in range(flows):
        conv = Conv(client=("10.0.0.1", 10000 + i), server=("10.0.0.2", 80))
        for seg in (conv.c("S"), conv.s("S."), conv.c(".")):
            tracker.ingest(seg)
        for _ in range(100):
            tracker.ingest(conv.c("P.", 65483))
            tracker.ingest(conv.s("."))
    held = sum(len(seg.frame) for flow in tracker.flows.values() for seg in flow.frames())
    rss, _ = proc_sample(os.getpid())
    print(f"{flows} flows x 100 segments of 64 KB: {tracker.kept} frames kept, ", end="")
    print(f"{held / 2**20:.1f} MB of frame bytes, RSS +{(rss - rss0) / 1024:.1f} MB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=240.0)
    ap.add_argument("--rate", type=float, default=100.0)
    ap.add_argument("--max-flows", type=int, default=5000)
    ap.add_argument("--base", type=int, default=23500)
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--big-frames", type=int, metavar="FLOWS", help="instead: frames kept (TUI)")
    args = ap.parse_args()
    if args.big_frames:
        big_frames(args.big_frames)
        return
    if os.geteuid() != 0:
        raise SystemExit("needs root (packet sockets)")
    os.chdir(REPO)
    from tui.cli import main as tcpwatch

    tracemalloc.start(1)
    out: dict[str, object] = {}
    helper = threading.Thread(target=drive, args=(args, out), name="longrun-drive", daemon=True)
    helper.start()
    argv = ["-i", "lo", "-f", port_filter(args.base), "--export", "jsonl", "-o", os.devnull]
    rc = tcpwatch([*argv, "--max-flows", str(args.max_flows)])
    helper.join(timeout=120)
    tracemalloc.stop()
    if "samples" not in out:
        raise SystemExit(f"no samples (exit {rc}): {out.get('error', 'the helper did not finish')}")
    report(out, args.seconds, args.top)


if __name__ == "__main__":
    main()
