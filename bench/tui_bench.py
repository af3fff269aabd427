"""TUI benchmark on the native engine: tick and key-to-screen at 100,000 flows under load.

A capture is generated once into bench/out/ (cloned from the real handshake of
tests/data/chrissanders_tcp_handshake.pcapng): FLOWS handshakes from distinct clients in the
first second of capture time, then 100-byte PSH/ACK data segments on random flows, either way,
at RATE per second of capture time for SECONDS. The real `TcpwatchApp` runs headless at 200x60
on the engine's paced replay of it (`-r FILE --replay 1`: the engine's thread reads, decodes
and tracks at RATE packets/s of wall time; the UI only polls it), with every flow kept in view
(linger effectively infinite). Measured once all FLOWS are in the table:

    drain   the tick's poll of the engine (changed ids, snapshots, counts, events)
    update  the model and widget updates of the tick
    render  the main screen's next compositor refresh (layout + render_line of what changed)
    tick    drain + update + render of one tick
    keys    from sending `j` (cursor down), `/` (open the filter bar), `escape` (close it),
            `enter` (open the flow screen), `escape` (back) to the end of the first screen
            update after the key's action ran
    UI CPU  CPU time of the UI thread (the asyncio loop; the engine has its own thread) over
            wall time while the load runs

Headless Textual writes nothing to a terminal, so terminal output time is not included.

    .venv/bin/python bench/tui_bench.py                                   # 100,000 flows, 500k/s
    .venv/bin/python bench/tui_bench.py --flows 1000 --rate 100000 --seconds 6
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import inspect
import os
import random
import statistics
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from captures import read_segments  # noqa: E402

from capture.engine_source import EngineSource  # noqa: E402
from tui.app import TcpwatchApp  # noqa: E402

HANDSHAKE = ROOT / "tests" / "data" / "chrissanders_tcp_handshake.pcapng"
OUT = ROOT / "bench" / "out"
TARGET_TICK_MS = 50.0
TARGET_KEY_MS = 100.0
KEYS = (
    ("j", "j"),
    ("/ (open the filter bar)", "slash"),
    ("escape (close it)", "escape"),
    ("enter (open the flow)", "enter"),
    ("escape (back to the table)", "escape"),
)
PAYLOAD = 100
RECORD = struct.Struct("<IIII")


def write_capture(path: Path, flows: int, rate: float, seconds: float, seed: int = 7) -> int:
    """The benchmark's capture (see the module docstring); the number of packets written."""
    syn, synack, ack = read_segments(HANDSHAKE)[:3]
    ip, tcp = syn.ip_off, syn.tcp_off
    rng = random.Random(seed)
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, syn.linktype))
    t0 = float(int(syn.ts))
    seq_c = [syn.seq + 1] * flows
    seq_s = [synack.seq + 1] * flows

    def client(i: int) -> tuple[bytes, int]:
        return bytes([10, i >> 16 & 255, i >> 8 & 255, i & 255]), 1024 + i % 60000

    def frame(proto: Any, i: int, from_client: bool, seq: int, ackn: int, flags: int) -> bytes:
        data = bytearray(proto.frame[: proto.tcp_off + 20])
        data[tcp + 12] = 0x50  # no options: a 20-byte header
        addr, port = client(i)
        at = ip + (12 if from_client else 16)
        data[at : at + 4] = addr
        struct.pack_into("!H", data, tcp + (0 if from_client else 2), port)
        struct.pack_into("!IIB", data, tcp + 4, seq, ackn, 0)
        data[tcp + 12] = 0x50
        data[tcp + 13] = flags
        plen = PAYLOAD if flags == 0x18 else 0
        struct.pack_into("!H", data, ip + 2, 40 + plen)  # IPv4 total length
        return bytes(data) + bytes(plen)

    n = 0

    def put(ts: float, data: bytes) -> None:
        nonlocal n
        sec = int(ts)
        out.extend(RECORD.pack(sec, int((ts - sec) * 1e6), len(data), len(data)))
        out.extend(data)
        n += 1

    step = 1.0 / (3 * flows)
    for i in range(flows):  # every handshake within the first second
        t = t0 + 3 * i * step
        put(t, frame(syn, i, True, syn.seq, 0, 0x02))
        put(t + step, frame(synack, i, False, synack.seq, syn.seq + 1, 0x12))
        put(t + 2 * step, frame(ack, i, True, syn.seq + 1, synack.seq + 1, 0x10))
    with path.open("wb") as f:
        f.write(out)
        out.clear()
        t, gap = t0 + 1.0, 1.0 / rate
        for _ in range(int(rate * seconds)):
            i = rng.randrange(flows)
            if rng.random() < 0.6:
                put(t, frame(ack, i, True, seq_c[i], seq_s[i], 0x18))
                seq_c[i] = (seq_c[i] + PAYLOAD) & 0xFFFFFFFF
            else:
                put(t, frame(synack, i, False, seq_s[i], seq_c[i], 0x18))
                seq_s[i] = (seq_s[i] + PAYLOAD) & 0xFFFFFFFF
            t += gap
            if len(out) > 1 << 22:
                f.write(out)
                out.clear()
        f.write(out)
    return n


def ensure_capture(flows: int, rate: float, seconds: float) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"tui-{flows}-{int(rate)}-{seconds:g}.pcap"
    if not path.exists():
        t = time.perf_counter()
        tmp = path.with_suffix(".part")
        n = write_capture(tmp, flows, rate, seconds)
        tmp.rename(path)
        print(f"wrote {path} ({n:,} packets) in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    return path


class KeyClock:
    """Key-to-screen: from a key's press to the end of the first screen update after the
    key's action ran (the App's display and its action dispatch, timed)."""

    def __init__(self, app: TcpwatchApp) -> None:
        self.displays: list[float] = []  # end times of any screen update
        self.action_done = 0.0
        display, dispatch = app._display, app._dispatch_action

        def timed_display(screen: Any, renderable: Any) -> None:
            display(screen, renderable)
            if renderable is not None:
                self.displays.append(time.perf_counter())

        async def timed_dispatch(*args: Any, **kwargs: Any) -> Any:
            out = await dispatch(*args, **kwargs)
            self.action_done = time.perf_counter()
            return out

        app._display = timed_display  # type: ignore[method-assign]
        app._dispatch_action = timed_dispatch  # type: ignore[method-assign]

    async def measure(self, press: Callable[[], Any], timeout: float = 30.0) -> tuple[float, float]:
        """(when, seconds): `press()` (awaited if it gives an awaitable) presses a key; the
        seconds from then to the end of the screen update its action made."""
        self.action_done = 0.0
        t = time.perf_counter()
        pressed = press()
        if inspect.isawaitable(pressed):
            await pressed
        await wait(lambda: self.action_done > 0 and self.displays[-1] > self.action_done, timeout)
        # the first update after the action: the end times only grow, and a live run keeps
        # thousands of them
        end = self.displays[bisect.bisect_right(self.displays, self.action_done)]
        return t, end - t


class Probe:
    """Times the App's ticks (drain, update) and the screens' updates."""

    def __init__(self, app: TcpwatchApp) -> None:
        self.drains: list[float] = []
        self.updates: list[float] = []
        self.renders: list[tuple[float, float]] = []  # (end time, duration) of main repaints
        self.segments: list[int] = []
        self.keys = KeyClock(app)
        tick, show, sip = app.tick, app.show_tick, app.sip
        self.sips: list[float] = []

        def timed_tick() -> None:
            t = time.perf_counter()
            before = app.drain.segments
            tick()
            self.drains.append(time.perf_counter() - t)
            self.segments.append(app.drain.segments - before)

        def timed_show(drained: Any) -> None:
            t = time.perf_counter()
            show(drained)
            self.updates.append(time.perf_counter() - t)

        def timed_sip() -> None:
            t = time.perf_counter()
            sip()
            self.sips.append(time.perf_counter() - t)

        app.tick = timed_tick  # type: ignore[method-assign]
        app.show_tick = timed_show  # type: ignore[method-assign]
        app.sip = timed_sip  # type: ignore[method-assign]
        refresh = app.main._on_timer_update

        def timed_refresh() -> None:
            t = time.perf_counter()
            refresh()
            end = time.perf_counter()
            self.renders.append((end, end - t))

        app.main._on_timer_update = timed_refresh  # type: ignore[method-assign]

    def clear(self) -> None:
        for series in (self.drains, self.updates, self.renders, self.segments, self.sips):
            series.clear()


async def run(flows: int, rate: float, seconds: float) -> dict[str, Any]:
    path = ensure_capture(flows, rate, seconds)
    source = EngineSource(str(path), speed=1.0, max_flows=max(200_000, 2 * flows))
    app = TcpwatchApp(source, source, linger=1e12, replay=True)
    probe = Probe(app)
    result: dict[str, Any] = {"flows": flows, "rate": rate}
    async with app.run_test(size=(200, 60)) as pilot:
        start = time.perf_counter()
        await wait(lambda: len(app.main.model) >= flows and not app.main._pending, seconds + 60)
        result["placed_s"] = time.perf_counter() - start
        probe.clear()
        taken0, wall0, cpu0 = app.drain.segments, time.perf_counter(), time.thread_time()
        engine0 = engine_cpu()
        window = max(1.0, min(seconds * 0.4, seconds - result["placed_s"] - 1.0))
        await asyncio.sleep(window)
        wall, cpu = time.perf_counter() - wall0, time.thread_time() - cpu0
        result["taken_per_s"] = (app.drain.segments - taken0) / wall
        result["ui_cores"] = cpu / wall
        result["engine_cores"] = (engine_cpu() - engine0) / wall
        renders = [d for _, d in probe.renders]
        result["drain_ms"] = summary(probe.drains)
        result["update_ms"] = summary(probe.updates)
        result["render_ms"] = summary(renders)
        result["sip_ms"] = summary(probe.sips)
        n = min(len(probe.drains), len(probe.updates), len(renders))
        ticks = [d + u + r for d, u, r in zip(probe.drains, probe.updates, renders, strict=False)]
        result["tick_ms"] = summary(ticks[:n])
        result["keys"] = await keys(pilot, probe)
        result["shown"] = len(app.main.model)
    return result


def thread_cpu() -> dict[int, tuple[str, float]]:
    """Every thread of this process: its name and CPU seconds (user + system) so far."""
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:
            continue  # the thread ended meanwhile
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat.rsplit(")", 1)[1].split()
        out[int(tid)] = (name, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))
    return out


def named_thread_cpu(name: str) -> float | None:
    """CPU seconds so far of this process's thread called `name` (None: none runs)."""
    return next((cpu for named, cpu in thread_cpu().values() if named == name), None)


def engine_cpu() -> float:
    """CPU seconds of the engine's reading thread so far (it names itself)."""
    return named_thread_cpu("tcpwatch-reader") or 0.0


async def keys(pilot: Any, probe: Probe) -> dict[str, dict[str, float]]:
    """Key-to-screen for each of KEYS, several rounds, under load."""
    lat: dict[str, list[float]] = {label: [] for label, _ in KEYS}
    for _ in range(12):
        for label, key in KEYS:
            _, seconds = await probe.keys.measure(lambda key=key: pilot.press(key))
            lat[label].append(seconds)
            await asyncio.sleep(0.05)
    return {label: summary(v) for label, v in lat.items()}


async def wait(cond: Any, timeout: float = 30.0) -> None:
    deadline = time.perf_counter() + timeout
    while not cond():
        if time.perf_counter() > deadline:
            raise TimeoutError("benchmark condition not reached")
        await asyncio.sleep(0.002)


def summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0, "median": 0.0, "p95": 0.0, "max": 0.0}
    ordered = sorted(values)
    return {
        "n": len(values),
        "median": statistics.median(ordered) * 1e3,
        "p95": ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1e3,
        "max": ordered[-1] * 1e3,
    }


def _f(s: dict[str, float]) -> str:
    return f"{s['median']:.1f} / {s['p95']:.1f} / {s['max']:.1f}"


def report(r: dict[str, Any]) -> str:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        f"{r['flows']:,} flows ({r['shown']:,} in the table), {r['rate']:,.0f} packets/s offered "
        f"by the engine's replay; App 200x60 headless; {os.cpu_count()} CPUs, load average "
        f"{load}; ms as median / p95 / max",
        f"all flows in the table {r['placed_s']:.1f} s after the start",
        "",
        "| part | ms |",
        "| --- | --- |",
        f"| drain (poll) | {_f(r['drain_ms'])} |",
        f"| update | {_f(r['update_ms'])} |",
        f"| render | {_f(r['render_ms'])} |",
        f"| **tick** (drain + update + render) | {_f(r['tick_ms'])} |",
        f"| sip between ticks | {_f(r['sip_ms'])} |",
    ]
    lines += [f"| key {k} → screen | {_f(s)} |" for k, s in r["keys"].items()]
    worst_key = max(s["p95"] for s in r["keys"].values())
    lines += [
        "",
        f"segments tracked/s while measured: {r['taken_per_s']:,.0f}; UI thread "
        f"{r['ui_cores']:.2f} cores; the engine's thread {r['engine_cores']:.2f} cores "
        f"({r['engine_cores'] / max(r['taken_per_s'], 1) * 1e6:.2f} us of CPU a segment)",
        f"targets: tick p95 {r['tick_ms']['p95']:.1f} ms (<= {TARGET_TICK_MS:.0f}); worst key p95 "
        f"{worst_key:.1f} ms (<= {TARGET_KEY_MS:.0f}); UI thread {r['ui_cores']:.2f} (<= 1 core)",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--flows", type=int, default=100_000, help="flows in view (default 100000)")
    ap.add_argument("--rate", type=float, default=500_000.0, help="packets/s after the handshakes")
    ap.add_argument("--seconds", type=float, default=12.0, help="length of the data part")
    args = ap.parse_args(argv)
    print(report(asyncio.run(run(args.flows, args.rate, args.seconds))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
