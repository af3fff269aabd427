"""Whole-process ingest speed and peak memory: tcpwatch side by side with tshark and tcpdump.

Generates (or reuses) the realistic capture of bench/gencap.py in bench/out/, then runs each
tool once on it, in the same run, timing the whole process (start-up included) and taking its
peak RSS from the kernel's rusage of that child (`os.wait4`):

    tcpwatch -r FILE --export jsonl > /dev/null
    tcpwatch -r FILE --print > /dev/null
    tshark -n -q -z conv,tcp -r FILE
    tcpdump -n -r FILE > /dev/null
    tcpdump -n -r FILE 'ip proto 99'          (libpcap's raw read: the floor)
    python bench/pyfloor.py FILE              (the least any pure-Python per-packet loop does)

    .venv/bin/python bench/ingest_bench.py [--packets N] [--flows N] [--tools tcpwatch,tshark]

`--startup` times `tcpwatch -r SMALL --export jsonl` on a 10-packet capture instead (the whole
process: interpreter, imports, the engine), best of several runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
TCPWATCH = str(ROOT / ".venv" / "bin" / "tcpwatch")
TARGET_PPS = 2_000_000
TARGET_VS_TSHARK = 15.0
TARGET_PRINT_VS_TCPDUMP = 3.0
TARGET_RSS_MB = 150
TARGET_STARTUP_S = 0.3
SMALL = ROOT / "tests" / "data" / "chrissanders_tcp_teardown.pcapng"


@dataclass
class Run:
    """One measured process."""

    name: str
    argv: list[str]
    seconds: float = 0.0
    cpu: float = 0.0
    peak_kb: int = 0
    status: int = 0
    stderr_tail: str = ""


def tool_commands(path: Path) -> dict[str, list[str]]:
    """The compared command lines, by short name (stdout goes to /dev/null for all of them)."""
    f = str(path)
    return {
        "tcpwatch": [TCPWATCH, "-r", f, "--export", "jsonl"],
        "tcpwatch-print": [TCPWATCH, "-r", f, "--print"],
        "tcpwatch-print-S": [TCPWATCH, "-r", f, "--print", "-S"],
        "tshark": ["tshark", "-n", "-q", "-z", "conv,tcp", "-r", f],
        "tcpdump": ["tcpdump", "-n", "-r", f],
        # tcpdump's relative sequence numbers cost it a per-packet search of a table that grows
        # with every flow; -S (absolute) leaves that out: the fairer peer for --print -S.
        "tcpdump-S": ["tcpdump", "-n", "-S", "-r", f],
        "floor": ["tcpdump", "-n", "-r", f, "ip proto 99"],
        # The least a pure-Python per-packet loop can do (bench/pyfloor.py): tcpwatch's floor.
        "pyfloor": [sys.executable, str(ROOT / "bench" / "pyfloor.py"), f],
    }


def child_env() -> dict[str, str]:
    """The environment without PYTHONUNBUFFERED: with it, every line tcpwatch writes is a system
    call (10,002 writes for 10,000 records), which is not how it runs by default."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}


def measure(name: str, argv: list[str]) -> Run:
    """Run `argv` to completion; wall time and the child's own peak RSS (ru_maxrss, KiB)."""
    run = Run(name, argv)
    err_path = OUT / f".{name}.stderr"
    with open(os.devnull, "wb") as devnull, err_path.open("wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=devnull, stderr=err, env=child_env())
        _, status, usage = os.wait4(proc.pid, 0)
        run.seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    run.status = proc.returncode
    run.peak_kb = usage.ru_maxrss
    run.cpu = usage.ru_utime + usage.ru_stime
    lines = err_path.read_text(errors="replace").strip().splitlines()
    run.stderr_tail = lines[-1] if lines else ""
    return run


def count_records(path: Path) -> int:
    """Packets in a little-endian classic pcap, by walking the record headers."""
    rec = struct.Struct("<IIII")
    n = 0
    with path.open("rb") as fh:
        fh.seek(24)
        while True:
            head = fh.read(16)
            if len(head) < 16:
                return n
            fh.seek(rec.unpack(head)[2], 1)
            n += 1


def ensure_capture(packets: int, flows: int, seed: int) -> tuple[Path, int]:
    """Generate the capture unless one with the same parameters is already in bench/out/."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"realistic-{packets}-{flows}-{seed}.pcap"
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists():
        return path, int(json.loads(meta.read_text())["packets"])
    gen = [sys.executable, str(ROOT / "bench" / "gencap.py"), "--packets", str(packets)]
    gen += ["--flows", str(flows), "--seed", str(seed), "--out", str(path)]
    subprocess.run(gen, check=True)
    n = count_records(path)
    meta.write_text(json.dumps({"packets": n, "flows": flows, "seed": seed}))
    return path, n


def report(runs: list[Run], packets: int) -> str:
    """A side-by-side table: wall and CPU time, packets/s, peak RSS, the ratio to tshark."""
    tshark = next((r for r in runs if r.name == "tshark"), None)
    rows = [
        "| tool | wall s | packets/s | CPU s | packets/CPU-s | peak RSS MB | vs tshark | exit |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        pps = packets / r.seconds if r.seconds else 0.0
        cpu_pps = packets / r.cpu if r.cpu else 0.0
        ratio = f"{tshark.seconds / r.seconds:.2f}x" if tshark and r.seconds else "-"
        rows.append(
            f"| {r.name} | {r.seconds:.2f} | {pps:,.0f} | {r.cpu:.2f} | {cpu_pps:,.0f} "
            f"| {r.peak_kb / 1024:.1f} | {ratio} | {r.status} |"
        )
    return "\n".join(rows)


def verdict(runs: list[Run], packets: int) -> list[str]:
    """tcpwatch against the issue's targets."""
    by = {r.name: r for r in runs}
    tw = by.get("tcpwatch")
    if tw is None or tw.status != 0:
        return ["tcpwatch: not measured" + (f" (exit {tw.status}: {tw.stderr_tail})" if tw else "")]
    pps = packets / tw.seconds
    met = "met" if pps >= TARGET_PPS else "NOT met"
    out = [f"packets/s {pps:,.0f} (target >= {TARGET_PPS:,}): {met}"]
    if "tshark" in by:
        ratio = by["tshark"].seconds / tw.seconds
        ok = "met" if ratio >= TARGET_VS_TSHARK else "NOT met"
        out.append(f"vs tshark {ratio:.2f}x (target >= {TARGET_VS_TSHARK}x): {ok}")
    for ours, theirs in (("tcpwatch-print", "tcpdump"), ("tcpwatch-print-S", "tcpdump-S")):
        printer, tcpdump = by.get(ours), by.get(theirs)
        if printer is not None and tcpdump is not None and printer.status == 0:
            ratio = tcpdump.seconds / printer.seconds
            ok = "met" if ratio >= TARGET_PRINT_VS_TCPDUMP else "NOT met"
            out.append(
                f"{ours} vs {theirs} {ratio:.2f}x (target >= {TARGET_PRINT_VS_TCPDUMP}x): {ok}"
            )
    mb = tw.peak_kb / 1024
    out.append(
        f"peak RSS {mb:.1f} MB (target < {TARGET_RSS_MB} MB): {'met' if mb < 150 else 'NOT met'}"
    )
    out.append(f"tcpwatch totals: {tw.stderr_tail}")
    return out


def startup(tries: int = 7) -> str:
    """Whole-process wall time of an export of a 10-packet capture, best and median of `tries`."""
    times = sorted(
        measure("startup", [TCPWATCH, "-r", str(SMALL), "--export", "jsonl"]).seconds
        for _ in range(tries)
    )
    best, median = times[0], times[len(times) // 2]
    met = "met" if median <= TARGET_STARTUP_S else "NOT met"
    return (
        f"start-up, {SMALL.name} --export jsonl: best {best:.3f} s, median {median:.3f} s "
        f"(target <= {TARGET_STARTUP_S} s): {met}"
    )


def main(argv: list[str] | None = None) -> int:
    """Generate or reuse the capture, measure every tool, print the table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--packets", type=int, default=1_000_000)
    ap.add_argument("--flows", type=int, default=44_000, help="normal flows; ~6k flood+scan added")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--tools",
        default="tcpwatch,tcpwatch-print,tcpwatch-print-S,tshark,tcpdump,tcpdump-S,floor",
    )
    ap.add_argument("--repeat", type=int, default=1, help="runs per tool; the fastest is kept")
    ap.add_argument("--startup", action="store_true", help="only the start-up time")
    args = ap.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    if args.startup:
        print(startup())
        return 0
    path, packets = ensure_capture(args.packets, args.flows, args.seed)
    cmds = tool_commands(path)
    load_before = os.getloadavg()[0]
    runs = []
    for name in args.tools.split(","):
        if shutil.which(cmds[name][0]) is None:
            print(f"{name}: {cmds[name][0]} not found, skipped", file=sys.stderr)
            continue
        tries = [measure(name, cmds[name]) for _ in range(max(1, args.repeat))]
        runs.append(min(tries, key=lambda r: r.seconds))
        print(f"{name}: {[round(r.seconds, 2) for r in tries]} s", file=sys.stderr)
    print(f"capture: {path} ({packets:,} packets, {path.stat().st_size / 1e6:.0f} MB)")
    print(
        f"load average (1 min) before/after: {load_before:.2f} / {os.getloadavg()[0]:.2f}, "
        f"{os.cpu_count()} CPUs"
    )
    for r in runs:
        print(f"  {r.name}: {' '.join(r.argv)}")
    print(report(runs, packets))
    print("\n".join(verdict(runs, packets)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
