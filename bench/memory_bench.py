"""Peak memory under a SYN flood: single-SYN flows from spoofed sources, 10k / 100k / 1M.

For each size, `tcpwatch -r FLOOD --export jsonl > /dev/null` runs as a child; its RSS is sampled
from /proc while it runs (so the curve shows whether memory goes flat once the flow cap is hit)
and its peak comes from the kernel's rusage (`os.wait4`). Bytes per tracked flow are the slope
of peak RSS between two sizes under the cap; evictions come from the totals line.

    .venv/bin/python bench/memory_bench.py [--sizes 10000,100000,1000000] [--max-flows 250000]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
TCPWATCH = str(ROOT / ".venv" / "bin" / "tcpwatch")
SAMPLE_EVERY = 0.1
TARGET_BYTES_PER_FLOW = 200


@dataclass
class MemRun:
    """One measured tcpwatch process."""

    flows: int
    max_flows: int
    seconds: float = 0.0
    peak_kb: int = 0
    evicted: int = -1
    samples: list[tuple[float, int]] = field(default_factory=list)
    """(seconds since start, RSS KiB)."""
    totals: str = ""


def flood_capture(n: int, seed: int = 7) -> Path:
    """bench/out/flood-N.pcap, generated once by gencap's --syn-flood mode."""
    path = OUT / f"flood-{n}.pcap"
    if not path.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        gen = [sys.executable, str(ROOT / "bench" / "gencap.py"), "--syn-flood", str(n)]
        subprocess.run([*gen, "--seed", str(seed), "--out", str(tmp)], check=True)
        tmp.rename(path)
    return path


def _rss_kb(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    m = re.search(r"^VmRSS:\s+(\d+)", status, re.M)
    return int(m.group(1)) if m else 0


def measure(path: Path, flows: int, max_flows: int) -> MemRun:
    """Run tcpwatch on `path`, sampling RSS until it exits."""
    run = MemRun(flows, max_flows)
    argv = [TCPWATCH, "-r", str(path), "--export", "jsonl", "--max-flows", str(max_flows)]
    err = OUT / ".memory.stderr"
    with open(os.devnull, "wb") as devnull, err.open("wb") as errf:
        t0 = time.perf_counter()
        env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
        proc = subprocess.Popen(argv, stdout=devnull, stderr=errf, env=env)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            run.samples.append((time.perf_counter() - t0, _rss_kb(proc.pid)))
            time.sleep(SAMPLE_EVERY)
        run.seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    run.peak_kb = usage.ru_maxrss
    text = err.read_text(errors="replace").strip()
    run.totals = text.splitlines()[-1] if text else f"exit {proc.returncode}"
    m = re.search(r"(\d+) evicted", run.totals)
    run.evicted = int(m.group(1)) if m else -1
    return run


def plateau(run: MemRun) -> str:
    """RSS at 50%, 75% and 100% of the run: flat once the cap is reached, if it works."""
    s = [kb for _, kb in run.samples if kb]
    if len(s) < 4:
        return "-"
    picks = [s[len(s) // 2], s[3 * len(s) // 4], s[-1]]
    return " / ".join(f"{kb / 1024:.0f}" for kb in picks)


def table(runs: list[MemRun], baseline_kb: int) -> str:
    """The results as a Markdown table."""
    rows = [
        "| SYN flows | --max-flows | wall s | peak RSS MB | RSS at 50/75/100% MB | evicted "
        "| bytes/flow over baseline |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        tracked = min(r.flows, r.max_flows)
        per = (r.peak_kb - baseline_kb) * 1024 / tracked if tracked else 0
        rows.append(
            f"| {r.flows:,} | {r.max_flows:,} | {r.seconds:.1f} | {r.peak_kb / 1024:.1f} "
            f"| {plateau(r)} | {r.evicted:,} | {per:,.0f} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    """Measure every size (and the capped run), print the table and the per-flow slope."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--max-flows", type=int, default=250_000, help="tcpwatch's default cap")
    ap.add_argument("--capped", type=int, default=100_000, help="extra 1M run with this cap")
    args = ap.parse_args(argv)
    sizes = [int(x) for x in args.sizes.split(",")]
    baseline = measure(flood_capture(1), 1, args.max_flows)
    runs = [measure(flood_capture(n), n, args.max_flows) for n in sizes]
    if args.capped:
        runs.append(measure(flood_capture(max(sizes)), max(sizes), args.capped))
    print(f"baseline (1 flow): peak RSS {baseline.peak_kb / 1024:.1f} MB")
    print(f"load average (1 min): {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs")
    print(table(runs, baseline.peak_kb))
    under = sorted((r for r in runs if r.flows <= r.max_flows), key=lambda r: r.flows)
    if len(under) >= 2:
        a, b = under[0], under[-1]
        slope = (b.peak_kb - a.peak_kb) * 1024 / (b.flows - a.flows)
        met = "met" if slope < TARGET_BYTES_PER_FLOW else "NOT met"
        print(
            f"bytes per tracked flow (slope {a.flows:,} -> {b.flows:,}): {slope:,.0f} "
            f"(target < {TARGET_BYTES_PER_FLOW}): {met}"
        )
    for r in runs:
        print(f"  {r.flows:,} flows, cap {r.max_flows:,}: {r.totals}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
