"""Long live run: an hour of synthetic server traffic, compressed, against the real `tcpwatch`.

The load (`bench/longrun_load.py`: short connections closed every way, refused connects,
long-lived trickles, bulk uploads, SYN bursts to a closed port; 127.0.0.1 and ::1 only) runs
twice, each time with the real command capturing it live on `lo` through a port-range filter:

1. headless: `tcpwatch -i lo -f 'tcp portrange A-B' --export jsonl -o FILE --max-flows N`;
2. the TUI under a pseudo-terminal (a private tmux server), same filter and cap, `--linger L`.

Every second the bench samples the process's RSS (VmRSS) and CPU time, and for the TUI the
status bar (packets, flows open/total, drops). It prints RSS over the run, the RSS slope over
the second half of the load (KB per minute), the headless totals line, and checks the export
against the generator's own count of connections, port by port.

    sudo .venv/bin/python bench/longrun_bench.py                     # 240 s each, cap 5,000
    sudo .venv/bin/python bench/longrun_bench.py --seconds 60 --modes headless

Needs root (packet sockets) and tmux for the TUI run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "bench"))
from live_traffic import capturing, wait_until  # noqa: E402
from longrun_load import KINDS  # noqa: E402

TCPWATCH = [sys.executable, "-m", "tui.cli"]
TMUX = ["tmux", "-L", "tcpwatch-longrun"]
STATUS = {
    "pkts": r"pkts ([\d,]+)",
    "open": r"flows ([\d,]+) open",
    "flows": r"open/([\d,]+)",
    "kernel_drops": r"kernel ([\d,]+)",
    "queue_drops": r"queue ([\d,]+)",
}
"""Status-bar figures, by the text before them."""
LEGEND = re.compile(r"(handshaking|established|closing|closed|reset|refused|half-open) ([\d,]+)")
"""The table header's legend: flows the tracker holds, per state category (when it fits)."""


def proc_sample(pid: int) -> tuple[int, float]:
    """(VmRSS in KB, user+system CPU seconds) of a live process."""
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        rss = next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return rss, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_load(base: int, seconds: float, rate: float) -> subprocess.Popen[str]:
    """The generator, in its own process; its counts come on stdout at the end."""
    argv = [sys.executable, str(REPO / "bench" / "longrun_load.py"), str(base), str(seconds)]
    return subprocess.Popen([*argv, str(rate)], stdout=subprocess.PIPE, text=True)


def sample_until_done(
    pid: int, load: subprocess.Popen[str], seconds: float, settle: float, screen: bool
) -> tuple[list[dict[str, float]], dict[str, object]]:
    """Sample every second while the load runs (bounded) and `settle` s after; the counts."""
    samples: list[dict[str, float]] = []
    t0 = time.monotonic()
    ended: float | None = None
    while time.monotonic() - t0 < seconds + 120:
        tick = time.monotonic()
        try:
            rss, cpu = proc_sample(pid)
        except (OSError, StopIteration):
            break  # the process is gone
        row: dict[str, float] = {"t": round(tick - t0, 2), "rss_kb": rss, "cpu_s": cpu}
        if screen:
            row.update(read_status())
        samples.append(row)
        if ended is None and load.poll() is not None:
            ended = tick - t0
        if ended is not None and tick - t0 >= ended + settle:
            break
        time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
    try:
        out, _ = load.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        load.kill()
        out, _ = load.communicate()
    counts = json.loads(out) if out.strip() else {"total": 0, "made": {}}
    counts["load_end_s"] = ended if ended is not None else seconds
    return samples, counts


def run_headless(args: argparse.Namespace, out_path: Path) -> dict[str, object]:
    """The headless export run: RSS samples, totals line, counts, export check."""
    cmd = [*TCPWATCH, "-i", "lo", "-f", port_filter(args.base), "--export", "jsonl"]
    cmd += ["-o", str(out_path), "--max-flows", str(args.max_flows)]
    proc = subprocess.Popen(cmd, cwd=REPO, stderr=subprocess.PIPE, text=True)
    load = None
    try:
        if not wait_until(lambda: capturing(proc.pid), 20):
            raise SystemExit("tcpwatch did not start capturing")
        load = start_load(args.base, args.seconds, args.rate)
        samples, counts = sample_until_done(proc.pid, load, args.seconds, args.settle, False)
    finally:
        if load is not None and load.poll() is None:
            load.kill()
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
    totals = err.strip().splitlines()[-1] if err.strip() else ""
    return {"samples": samples, "counts": counts, "totals": totals, "rc": proc.returncode}


def run_tui(args: argparse.Namespace) -> dict[str, object]:
    """The TUI run in a private tmux server: RSS and status-bar samples, counts."""
    cmd = [*TCPWATCH, "-i", "lo", "-f", port_filter(args.base)]
    cmd += ["--max-flows", str(args.max_flows), "--linger", str(args.linger)]
    shell = "exec " + " ".join(f"'{c}'" for c in cmd)
    subprocess.run([*TMUX, "kill-server"], stderr=subprocess.DEVNULL, check=False)
    subprocess.run(
        [*TMUX, "new-session", "-d", "-s", "run", "-x", "260", "-y", "50", "-c", str(REPO), shell],
        check=True,
    )
    load = None
    try:
        pid = int(tmux("display-message", "-p", "-t", "run", "#{pane_pid}"))
        if not wait_until(lambda: capturing(pid), 30):
            raise SystemExit("the TUI did not start capturing:\n" + tmux("capture-pane", "-p"))
        wait_until(lambda: "pkts" in tmux("capture-pane", "-p", "-t", "run"), 30, 0.2)
        load = start_load(args.base, args.seconds, args.rate)
        samples, counts = sample_until_done(pid, load, args.seconds, args.settle, True)
        screen = tmux("capture-pane", "-p", "-t", "run")
        tmux("send-keys", "-t", "run", "q")
        quit_ok = wait_until(lambda: not os.path.exists(f"/proc/{pid}"), 30, 0.1)
    finally:
        if load is not None and load.poll() is None:
            load.kill()
        subprocess.run([*TMUX, "kill-server"], stderr=subprocess.DEVNULL, check=False)
    return {"samples": samples, "counts": counts, "screen": screen, "quit": quit_ok}


def tmux(*argv: str) -> str:
    """One command to the private tmux server; its output."""
    return subprocess.run([*TMUX, *argv], capture_output=True, text=True, check=False).stdout


def read_status() -> dict[str, float]:
    """The TUI's status-bar figures, read off the screen."""
    screen = tmux("capture-pane", "-p", "-t", "run")
    lines = screen.splitlines()
    line = next((ln for ln in lines if " open/" in ln), "")
    found = {k: re.search(p, line) for k, p in STATUS.items()}
    row = {k: int(m.group(1).replace(",", "")) for k, m in found.items() if m}
    header = next((ln for ln in lines if "originator" in ln), "")
    if legend := LEGEND.findall(header):
        row["tracked"] = sum(int(n.replace(",", "")) for _, n in legend)
    return row


def port_filter(base: int) -> str:
    return f"tcp portrange {base}-{base + len(KINDS) - 1}"


def check_export(path: Path, counts: dict[str, object], base: int) -> list[list[object]]:
    """Rows (family:kind, made, exported, difference, conn_states) of the export by port."""
    exported: Counter[str] = Counter()
    states: dict[str, Counter[str]] = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            port = rec["resp_p"] if base <= rec["resp_p"] < base + len(KINDS) else rec["orig_p"]
            key = f"{6 if ':' in rec['orig_h'] else 4}:{KINDS[port - base]}"
            exported[key] += 1
            states.setdefault(key, Counter())[rec["conn_state"]] += 1
    made: dict[str, int] = counts.get("made", {})  # type: ignore[assignment]
    rows: list[list[object]] = []
    for key in sorted(set(made) | set(exported)):
        m, e = made.get(key, 0), exported[key]
        top = ", ".join(f"{s} {n}" for s, n in states.get(key, Counter()).most_common(3))
        rows.append([key, m, e, e - m, top])
    return rows


def rss_table(samples: list[dict[str, float]], load_end: float) -> list[str]:
    """RSS at the start and at 25/50/75/100 % of the load, the peak, and the second-half slope."""
    lines = ["| point | t s | RSS MB | CPU s |", "|---|---|---|---|"]
    for pct in (0, 25, 50, 75, 100):
        s = _at(samples, load_end * pct / 100)
        lines.append(f"| {pct} % | {s['t']:.0f} | {s['rss_kb'] / 1024:.1f} | {s['cpu_s']:.1f} |")
    peak = max(samples, key=lambda s: s["rss_kb"])
    lines.append(f"| peak | {peak['t']:.0f} | {peak['rss_kb'] / 1024:.1f} | {peak['cpu_s']:.1f} |")
    half = [s for s in samples if load_end / 2 <= s["t"] <= load_end]
    lines.append(f"\nRSS slope over the second half of the load: {slope_kb_min(half):+.1f} KB/min")
    return lines


def _at(samples: list[dict[str, float]], t: float) -> dict[str, float]:
    return min(samples, key=lambda s: abs(s["t"] - t))


def slope_kb_min(samples: list[dict[str, float]]) -> float:
    """Least-squares slope of RSS against time, KB per minute."""
    if len(samples) < 2:
        return 0.0
    n = len(samples)
    mt = sum(s["t"] for s in samples) / n
    mr = sum(s["rss_kb"] for s in samples) / n
    var = sum((s["t"] - mt) ** 2 for s in samples)
    cov = sum((s["t"] - mt) * (s["rss_kb"] - mr) for s in samples)
    return cov / var * 60 if var else 0.0


def report_headless(res: dict[str, object], path: Path, base: int) -> None:
    counts: dict[str, object] = res["counts"]  # type: ignore[assignment]
    samples: list[dict[str, float]] = res["samples"]  # type: ignore[assignment]
    print(f"\n## headless (exit {res['rc']})\n")
    print("\n".join(rss_table(samples, float(counts["load_end_s"]))))  # type: ignore[arg-type]
    print(f"\ntotals: {res['totals']}")
    if " 0 evicted" in str(res["totals"]):
        print("(the cap was never reached: the slope says nothing about RSS after it)")
    print(f"connections made: {counts['total']} (failures: {counts.get('failed') or 'none'})")
    rows = check_export(path, counts, base)
    print("\n| family:kind | made | exported | exported − made | top conn_state |")
    print("|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")
    made = sum(int(r[1]) for r in rows)  # type: ignore[call-overload]
    exported = sum(int(r[2]) for r in rows)  # type: ignore[call-overload]
    print(f"| all | {made} | {exported} | {exported - made} | |")


def report_tui(res: dict[str, object]) -> None:
    counts: dict[str, object] = res["counts"]  # type: ignore[assignment]
    samples: list[dict[str, float]] = res["samples"]  # type: ignore[assignment]
    print(f"\n## TUI (quit with q: {'ok' if res['quit'] else 'NO'})\n")
    print("\n".join(rss_table(samples, float(counts["load_end_s"]))))  # type: ignore[arg-type]
    print(f"\nconnections made: {counts['total']} (failures: {counts.get('failed') or 'none'})")
    if max(s.get("flows", 0) for s in samples) <= max(s.get("tracked", 0) for s in samples):
        print("(the cap was never reached: the slope says nothing about RSS after it)")
    cols = "t s | RSS MB | pkts | flows open | flows total | tracked | kernel drops | queue drops"
    print(f"\n| {cols} |\n" + "|---" * 8 + "|")
    end = float(counts["load_end_s"])  # type: ignore[arg-type]
    for pct in (0, 25, 50, 75, 100):
        s = _at(samples, end * pct / 100)
        cols = [
            s.get(k, "?")
            for k in ("pkts", "open", "flows", "tracked", "kernel_drops", "queue_drops")
        ]
        print(f"| {s['t']:.0f} | {s['rss_kb'] / 1024:.1f} | " + " | ".join(map(str, cols)) + " |")
    last = str(res["screen"]).rstrip().splitlines()
    print("\nlast status line: " + next((ln for ln in reversed(last) if " open/" in ln), "?"))


def tree_state() -> str:
    """The commit the run imports, and whether the tree differs from it (others' edits too)."""
    git = ["git", "-C", str(REPO), "describe", "--always", "--dirty"]
    return subprocess.run(git, capture_output=True, text=True, check=False).stdout.strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=240.0, help="load per run (the hour)")
    ap.add_argument("--rate", type=float, default=100.0, help="short connections per second")
    ap.add_argument("--max-flows", type=int, default=5000)
    ap.add_argument("--linger", type=float, default=10.0, help="TUI: closed rows stay this long")
    ap.add_argument("--base", type=int, default=23500, help="first of the 8 ports (< 32768)")
    ap.add_argument("--settle", type=float, default=5.0, help="sampling after the load ends")
    ap.add_argument("--modes", default="headless,tui")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root (packet sockets)")
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"load: {args.seconds:.0f} s (1 h at {3600 / args.seconds:.0f}x), {args.rate:.0f} short")
    print(f"connections/s, --max-flows {args.max_flows}, filter '{port_filter(args.base)}'")
    for mode in args.modes.split(","):
        print(f"\n{mode}: started {time.strftime('%H:%M:%S')}, tree {tree_state()}")
        if mode == "headless":
            path = args.out / "longrun-export.jsonl"
            res = run_headless(args, path)
            report_headless(res, path, args.base)
        else:
            res = run_tui(args)
            report_tui(res)
        with contextlib.suppress(OSError):
            (args.out / f"longrun-{mode}.json").write_text(json.dumps(res))


if __name__ == "__main__":
    main()
