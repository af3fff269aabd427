"""Live capture under load Python cannot make: `tcpreplay --topspeed` over a veth pair.

Creates two network namespaces joined by a veth pair (removed at the end), replays the
realistic capture of bench/gencap.py (see bench/ingest_bench.py) from one end as fast as
tcpreplay goes (`--topspeed --preload-pcap`), and captures on the other end, at the same time:

    tcpwatch -i VETH --export jsonl -o OUT          (the engine's sniffer, tracker and writer)
    tcpdump -i VETH -B 32768 -w /dev/null           (the peer)

It reports the rate tcpreplay offered, what each captured and dropped, and whether tcpwatch's
records equal those of `tcpwatch -r` on the same capture (timestamps and uids aside).

    sudo .venv/bin/python bench/replay_bench.py [--packets 1000000] [--loops 1] [--buffer KiB]

With `--tui`, the capture beside tcpdump is the TUI instead of the headless export: the real
`TcpwatchApp` on `-i VETH` (the live source built as the CLI builds it, default `-B` unless
`--buffer`), headless at 200x60, in `ip netns exec NS .venv/bin/python bench/replay_tui.py`.
The child says `ready` once the App runs with the capture attached; tcpreplay starts then; one
second after it ends the parent writes `stop`; the child lets the engine hand over what is
queued, then reports (bench/replay_tui.py says how each figure is taken): frames, kernel and
queue drops (the status bar's counters), segments tracked, flows tracked and in the table,
tracked packets/s (segments over the time the App took to see them all: from its last drain
with none yet to its first drain with all of them, a lower bound), tick (drain + update +
render, as bench/tui_bench.py) median/p95/max over that window, the UI thread's CPU cores over
it, and the CPU of each thread (the engine's `tcpwatch-sniffer` and `tcpwatch-tracker`) over it
and over the whole run. The targets it is read against: no kernel or queue drop where tcpdump
has none, >= 500,000 packets/s tracked, tick p95 <= 50 ms, UI thread <= 1 core.

    sudo .venv/bin/python bench/replay_bench.py --tui [--packets 1000000] [--loops 1] [--runs N]
                                                      [--keys]

With `--keys`, keys are pressed in turn while the replay runs and each one's key-to-screen is
timed (bench/replay_tui.py): `j`, `/`, `escape`, `enter`, `escape`, the target <= 100 ms p95.

With `--runs N` the replay runs N times (one TUI each) and, after each run's figures, the ticks
of all runs are pooled: a run's window holds ~20 ticks, so its p95 is its second-worst tick,
where the pooled p95 is that of the N x ~20 ticks.

Needs root, iproute2, tcpreplay and tcpdump (Debian packages).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TCPWATCH = str(ROOT / ".venv" / "bin" / "tcpwatch")
PYTHON = str(ROOT / ".venv" / "bin" / "python")
TUI_CHILD = str(ROOT / "bench" / "replay_tui.py")
sys.path.insert(0, str(ROOT / "bench"))
from ingest_bench import ensure_capture  # noqa: E402
from tui_bench import summary  # noqa: E402

NS_A, NS_B = "twbenchA", "twbenchB"
VETH_A, VETH_B = "twbA", "twbB"
TIMELESS = {"ts", "uid", "duration", "irtt", "rtt_syn_synack", "rtt_synack_ack", "syn_retry_gaps"}


def sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True, timeout=30)


def setup() -> None:
    """The two namespaces and the veth pair, up, with large queues."""
    teardown()
    sh("ip", "netns", "add", NS_A)
    sh("ip", "netns", "add", NS_B)
    sh("ip", "link", "add", VETH_A, "netns", NS_A, "type", "veth", "peer", VETH_B, "netns", NS_B)
    for ns, dev in ((NS_A, VETH_A), (NS_B, VETH_B)):
        sh("ip", "-n", ns, "link", "set", dev, "mtu", "9000", "txqueuelen", "10000", "up")


def teardown() -> None:
    for ns in (NS_A, NS_B):
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30, check=False)


def in_ns(ns: str, *cmd: str) -> list[str]:
    return ["ip", "netns", "exec", ns, *cmd]


def comparable(lines: list[str]) -> list[tuple[object, ...]]:
    """Records with the fields that depend on capture timing and flow numbering left out."""
    out = []
    for line in lines:
        r = json.loads(line)
        out.append(tuple(sorted((k, json.dumps(v)) for k, v in r.items() if k not in TIMELESS)))
    return sorted(out)


def run(capture: Path, loops: int, buffer_kib: int | None = None) -> dict[str, object]:
    """One replay with both captures running; their figures."""
    out = Path(tempfile.mkdtemp(prefix="tcpwatch-replay-"))
    os.chmod(out, 0o777)
    tw_out, tw_err = out / "live.jsonl", out / "tcpwatch.err"
    dump_err = out / "tcpdump.err"
    with tw_err.open("w") as err:
        tcpwatch = subprocess.Popen(
            in_ns(NS_B, TCPWATCH, "-i", VETH_B, "--export", "jsonl", "-o", str(tw_out))
            + (["-B", str(buffer_kib)] if buffer_kib else []),
            stderr=err,
            stdout=subprocess.DEVNULL,
        )
    tcpdump = start_tcpdump(dump_err)
    time.sleep(2.0)  # both attached (tcpwatch imports, opens, drops nothing here: root)
    replayed = replay(capture, loops)
    time.sleep(1.0)
    for proc in (tcpwatch, tcpdump):
        proc.send_signal(signal.SIGINT)
    tcpwatch.wait(timeout=120)
    tcpdump.wait(timeout=30)
    totals = tw_err.read_text().strip().splitlines()[-1]
    frames = re.search(r"(\d+) frames", totals)
    kdrops = re.search(r"(\d+) kernel drops", totals)
    qdrops = re.search(r"(\d+) queue drops", totals)
    live = tw_out.read_text().splitlines()
    offline = subprocess.run(
        [TCPWATCH, "-r", str(capture), "--export", "jsonl"],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    ).stdout.splitlines()
    # A looped replay sends each flow again: only a single pass compares with `-r`.
    same = comparable(live) == comparable(offline) if loops == 1 else "n/a (looped)"
    peers = replay_and_dump(replayed.stdout, dump_err)
    shutil.rmtree(out, ignore_errors=True)
    return {
        **peers,
        "tcpwatch_frames": int(frames.group(1)) if frames else None,
        "tcpwatch_kernel_drops": int(kdrops.group(1)) if kdrops else 0,
        "tcpwatch_queue_drops": int(qdrops.group(1)) if qdrops else 0,
        "tcpwatch_records": len(live),
        "records_equal_to_-r": same,
        "tcpwatch_totals": totals,
    }


def start_tcpdump(err_path: Path) -> subprocess.Popen[bytes]:
    with err_path.open("w") as err:
        return subprocess.Popen(
            in_ns(NS_B, "tcpdump", "-i", VETH_B, "-n", "-B", "32768", "-w", "/dev/null"),
            stderr=err,
        )


def replay(capture: Path, loops: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        in_ns(NS_A, "tcpreplay", "--topspeed", "--preload-pcap", f"--loop={loops}", "-i", VETH_A)
        + [str(capture)],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )


def replay_and_dump(replay_out: str, dump_err: Path) -> dict[str, int | float | None]:
    """What tcpreplay sent and offered, what tcpdump captured and dropped."""
    rate = re.search(r"Rated: [\d.]+ Bps, [\d.]+ Mbps, ([\d.]+) pps", replay_out)
    sent = re.search(r"Actual: (\d+) packets", replay_out)
    dump = dump_err.read_text()
    got = re.search(r"(\d+) packets captured", dump)
    dropped = re.search(r"(\d+) packets dropped by kernel", dump)
    return {
        "sent": int(sent.group(1)) if sent else None,
        "offered_pps": float(rate.group(1)) if rate else None,
        "tcpdump_captured": int(got.group(1)) if got else None,
        "tcpdump_dropped": int(dropped.group(1)) if dropped else None,
    }


def read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    """The child's next line of standard output, waiting `timeout` s at most ('' at its end)."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        raise TimeoutError(f"no line from the TUI within {timeout:g} s")
    return proc.stdout.readline()


def run_tui(
    capture: Path, loops: int, buffer_kib: int | None = None, keys: bool = False
) -> dict[str, object]:
    """One replay with the TUI (bench/replay_tui.py) and tcpdump capturing; their figures
    (`keys`: keys pressed and timed meanwhile)."""
    out = Path(tempfile.mkdtemp(prefix="tcpwatch-replay-"))
    tui_err, dump_err = out / "tui.err", out / "tcpdump.err"
    cmd = in_ns(NS_B, PYTHON, TUI_CHILD, *(["--keys"] if keys else []), "-i", VETH_B)
    with tui_err.open("w") as err:
        tui = subprocess.Popen(
            cmd + (["-B", str(buffer_kib)] if buffer_kib else []),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    tcpdump = start_tcpdump(dump_err)
    try:
        line = read_line(tui, 90.0)  # ready: the App runs and the capture is attached
        if line.strip() != "ready":
            raise RuntimeError(f"the TUI did not start: {line!r}; {tui_err.read_text()[-2000:]}")
        time.sleep(1.0)  # tcpdump attached too
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        replayed = replay(capture, loops)
        replay_wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        replay_cpu = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
        time.sleep(1.0)
        assert tui.stdin is not None
        tui.stdin.write("stop\n")
        tui.stdin.close()
        tcpdump.send_signal(signal.SIGINT)
        tcpdump.wait(timeout=30)
        report = read_line(tui, 120.0)  # the child lets the engine settle (60 s at most)
        tui.wait(timeout=30)
        if not report.startswith("{"):
            tail = tui_err.read_text()[-2000:]
            raise RuntimeError(f"no figures from the TUI: {report!r}; {tail}")
    finally:
        for proc in (tui, tcpdump):
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
    result: dict[str, object] = dict(replay_and_dump(replayed.stdout, dump_err))
    # tcpreplay's wall time includes reading the capture into memory (--preload-pcap)
    result["tcpreplay_cpu_s"], result["tcpreplay_wall_s"] = replay_cpu, replay_wall
    result.update({f"tui_{k}": v for k, v in json.loads(report).items()})
    shutil.rmtree(out, ignore_errors=True)
    return result


def _ms(s: dict[str, float]) -> str:
    return f"{s['median']:.1f} / {s['p95']:.1f} / {s['max']:.1f} (n={s['n']:.0f})"


def tui_report(r: dict[str, object]) -> str:
    """The TUI run's figures beside tcpdump's, one table row, then the threads' CPU."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    tick = r["tui_tick_ms"]
    threads = r["tui_threads"]
    assert isinstance(tick, dict) and isinstance(threads, dict)
    rows = [
        f"load average {load}; {os.cpu_count()} CPUs",
        "",
        "| offered packets/s | tcpdump captured / dropped | TUI frames / kernel drops / queue"
        " drops | segments tracked / frames not kept | tracked packets/s (window s) | flows"
        " tracked / in the table | tick ms median / p95 / max | UI thread cores |",
        "|---|---|---|---|---|---|---|---|",
        f"| {r['offered_pps']:,.0f} | {r['tcpdump_captured']:,} / {r['tcpdump_dropped']:,} "
        f"| {r['tui_frames']:,} / {r['tui_kernel_drops']:,} / {r['tui_queue_drops']:,} "
        f"| {r['tui_segments']:,} / {r['tui_frames_shed']:,} "
        f"| {r['tui_tracked_per_s']:,.0f} ({r['tui_window_s']:.2f}) "
        f"| {r['tui_flows_tracked']:,} / {r['tui_flows_in_table']:,} | {_ms(tick)} "
        f"| {r['tui_ui_cores']:.2f} |",
        "",
        f"the UI thread's CPU time in those ticks, ms median / p95 / max: "
        f"{_ms(r['tui_tick_cpu_ms'])}",  # type: ignore[arg-type]
        "  by part: "
        + ", ".join(
            f"{part} {_ms(s)}"
            for part, s in r["tui_tick_parts_cpu_ms"].items()  # type: ignore[attr-defined]
        ),
        f"the machine over the window: {r['tui_machine_busy_cores']:.2f} cores busy, "
        f"{r['tui_machine_stolen_cores']:.2f} stolen; tcpreplay {r['tcpreplay_cpu_s']:.2f} s CPU "
        f"in {r['tcpreplay_wall_s']:.2f} s (preload included)",
        f"the TUI's threads' CPU over the window ({r['tui_cpu_window_s']:.2f} s) and over the "
        "whole run:",
    ]
    for name, row in sorted(threads.items(), key=lambda kv: -kv[1]["cpu_s"]):
        rows.append(
            f"  {name} (x{row['threads']}): {row['window_cores']:.2f} cores, {row['cpu_s']:.2f} s"
        )
    keys = r.get("tui_keys_ms")
    if isinstance(keys, dict):
        rows.append("key-to-screen in the window, ms median / p95 / max (the ticks above are")
        rows.append("those of a run with keys: the flow screen hid the table while open):")
        rows.extend(f"  {label}: {_ms(s)}" for label, s in keys.items())
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--packets", type=int, default=1_000_000)
    ap.add_argument("--flows", type=int, default=44_000)
    ap.add_argument("--loops", type=int, default=1)
    ap.add_argument("--buffer", type=int, default=None, help="tcpwatch's -B (KiB)")
    ap.add_argument("--tui", action="store_true", help="the TUI (headless App), not --export")
    ap.add_argument("--runs", type=int, default=1, help="with --tui: runs, ticks pooled")
    ap.add_argument(
        "--keys", action="store_true", help="with --tui: press keys and time key-to-screen"
    )
    args = ap.parse_args(argv)
    for tool in ("tcpreplay", "tcpdump", "ip"):
        if shutil.which(tool) is None:
            print(f"{tool} not found", file=sys.stderr)
            return 2
    capture, packets = ensure_capture(args.packets, args.flows, 1)
    results = []
    for _ in range(args.runs if args.tui else 1):
        setup()
        try:
            if args.tui:
                result = run_tui(capture, args.loops, args.buffer, args.keys)
            else:
                result = run(capture, args.loops, args.buffer)
        finally:
            teardown()
        results.append(result)
        print(f"capture: {capture} ({packets:,} packets) x {args.loops}")
        for key, value in result.items():
            if not key.endswith("_each"):
                print(f"  {key}: {value}")
        if args.tui:
            print(tui_report(result), flush=True)
    if len(results) > 1:
        print(pooled_report(results))
    return 0


def pool(ms: list[float]) -> dict[str, float]:
    """`summary` (as bench/replay_tui.py gives every figure) of values in milliseconds."""
    return summary([t / 1e3 for t in ms])


def pooled_report(results: list[dict[str, object]]) -> str:
    """The ticks of every run together, and how many runs' own p95 met the target."""
    walls = [t for r in results for t in r["tui_tick_ms_each"]]  # type: ignore[attr-defined]
    cpus = [t for r in results for t in r["tui_tick_cpu_ms_each"]]  # type: ignore[attr-defined]
    met = sum(r["tui_tick_ms"]["p95"] <= 50.0 for r in results)  # type: ignore[index]
    rows = [
        f"pooled over {len(results)} runs, ms median / p95 / max: tick {_ms(pool(walls))}, "
        f"its CPU {_ms(pool(cpus))}",
        f"runs whose own tick p95 is <= 50 ms: {met} of {len(results)}",
    ]
    presses: dict[str, list[float]] = {}
    for r in results:
        for label, times in r.get("tui_keys_ms_each", {}).items():  # type: ignore[attr-defined]
            presses.setdefault(label, []).extend(times)
    if presses:
        rows.append("key-to-screen pooled, ms median / p95 / max:")
        rows.extend(f"  {label}: {_ms(pool(times))}" for label, times in presses.items())
    return "\n".join(rows)


if __name__ == "__main__":
    raise SystemExit(main())
