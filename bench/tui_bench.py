"""TUI benchmark: drain + render per tick, and key-to-screen latency, at 1,000 and 100,000 flows.

For each size, a capture from bench/gencap.py (generated once into bench/out/) is decoded into
memory. Everything but the last segments is fed to a real `FlowTracker` first (the flows
"loaded"); the rest arrives through a paced `Source` at `--rate` segments per second of wall time
while the real `TcpwatchApp` runs headless at 200x60 with every flow kept on screen (linger
effectively infinite). Measured, per tick:

    tick    the App's drain timer callback: poll + tracker.ingest + model update + widget updates
    render  the screen's next compositor refresh (layout + render_line of what changed)

and, for keys pressed while segments keep arriving, the time from the key being sent to the end
of the first compositor refresh after its action ran ("down" moves the cursor, "s" re-sorts).
Headless Textual does not write to a terminal, so terminal output time is not included.

    .venv/bin/python bench/tui_bench.py                      # 1,000 and 100,000 flows
    .venv/bin/python bench/tui_bench.py --flows 100000 --seconds 8
    .venv/bin/python bench/tui_bench.py --flows 100000 --seconds 8 --no-sips   # ticks only
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from capture.decode import Decoder  # noqa: E402
from capture.flows import FlowTracker  # noqa: E402
from capture.pcapio import open_capture  # noqa: E402
from capture.segment import Segment  # noqa: E402
from capture.sources import SourceStats  # noqa: E402
from tui.app import TcpwatchApp  # noqa: E402
from tui.main_screen import MainScreen  # noqa: E402
from widgets.conn_table import ConnectionTable  # noqa: E402

HANDSHAKE = ROOT / "tests" / "data" / "chrissanders_tcp_handshake.pcapng"
TARGET_TICK_MS = 50.0
TARGET_KEY_MS = 100.0


class PacedSource:
    """A `Source` handing out prepared segments at a fixed rate of wall time."""

    def __init__(self, segments: list[Segment], rate: float) -> None:
        self.description = f"bench: {len(segments):,} segments at {rate:,.0f}/s"
        self.capture_filter = ""
        self.error: str | None = None
        self._segs = segments
        self._rate = rate
        self._handed = 0
        self._t0 = 0.0

    def start(self) -> None:
        self._t0 = time.perf_counter()

    def poll(self, max_segments: int) -> list[Segment]:
        due = min(len(self._segs), int((time.perf_counter() - self._t0) * self._rate))
        n = max(0, min(max_segments, due - self._handed))
        out = self._segs[self._handed : self._handed + n]
        self._handed += n
        return out

    @property
    def backlog(self) -> int:
        """Segments due but not yet taken by the App."""
        due = min(len(self._segs), int((time.perf_counter() - self._t0) * self._rate))
        return due - self._handed

    @property
    def finished(self) -> bool:
        return self._handed >= len(self._segs)

    def stats(self) -> SourceStats:
        return SourceStats(frames=self._handed, tcp=self._handed)

    def stop(self) -> None:
        pass


def clone(proto: Segment, **changes: Any) -> Segment:
    """A copy of `proto` with some fields changed (the raw frame stays the prototype's)."""
    seg = Segment()
    for name in Segment.__slots__:
        setattr(seg, name, changes.get(name, getattr(proto, name)))
    return seg


class Traffic:
    """`flows` established connections, then data on them: cloned from a real handshake."""

    def __init__(self, flows: int, rate: float) -> None:
        syn, synack, ack = decode_all(HANDSHAKE)[:3]
        self.syn, self.synack, self.ack = syn, synack, ack
        self.rate = rate
        self.clients = [bytes([10, i >> 16 & 255, i >> 8 & 255, i & 255]) for i in range(flows)]
        self.seq_c = [syn.seq + 1] * flows
        self.seq_s = [synack.seq + 1] * flows
        self.ts = syn.ts
        self.frame_no = 0

    def _next(self, proto: Segment, **changes: Any) -> Segment:
        self.ts += 1.0 / self.rate
        self.frame_no += 1
        return clone(proto, ts=self.ts, frame_no=self.frame_no, **changes)

    def handshakes(self) -> list[Segment]:
        """SYN, SYN/ACK, ACK for every flow."""
        out = []
        for i, client in enumerate(self.clients):
            port = 1024 + i % 60000
            out.append(self._next(self.syn, src=client, sport=port))
            out.append(self._next(self.synack, dst=client, dport=port))
            out.append(self._next(self.ack, src=client, sport=port))
        return out

    def data(self, count: int, seed: int = 7) -> list[Segment]:
        """`count` data segments (100 bytes, PSH/ACK) on random flows, either direction."""
        rng = random.Random(seed)
        out = []
        n = len(self.clients)
        for _ in range(count):
            i = rng.randrange(n)
            port = 1024 + i % 60000
            if rng.random() < 0.6:
                seq, ack = self.seq_c[i], self.seq_s[i]
                seg = self._next(self.ack, src=self.clients[i], sport=port, seq=seq, ack=ack,
                                 flags=0x18, payload_len=100)  # fmt: skip
                self.seq_c[i] = (seq + 100) & 0xFFFFFFFF
            else:
                seq, ack = self.seq_s[i], self.seq_c[i]
                seg = self._next(self.synack, dst=self.clients[i], dport=port, seq=seq, ack=ack,
                                 flags=0x18, payload_len=100)  # fmt: skip
                self.seq_s[i] = (seq + 100) & 0xFFFFFFFF
            out.append(seg)
        return out


def decode_all(path: Path) -> list[Segment]:
    decoder = Decoder()
    decode = decoder.decode
    out = []
    reader = open_capture(str(path))
    try:
        for n, (ts, wire_len, data, linktype) in enumerate(reader, 1):
            seg = decode(data, ts, wire_len, linktype, n)
            if seg is not None:
                out.append(seg)
    finally:
        reader.close()
    return out


class Probe:
    """Times the App's ticks and the main screen's compositor refreshes."""

    def __init__(self, app: TcpwatchApp) -> None:
        self.ticks: list[float] = []
        self.renders: list[tuple[float, float]] = []  # (end time, duration)
        self.segments: list[int] = []
        self.drains: list[float] = []
        self.sips: list[float] = []
        self.updates: list[float] = []
        self.action_done = 0.0
        self.in_sip = False
        step = app.drain.step

        def timed_step(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            out = step(*args, **kwargs)
            if not self.in_sip:
                self.drains.append(time.perf_counter() - t)
            return out

        app.drain.step = timed_step  # type: ignore[method-assign]
        sip = app.sip

        def timed_sip() -> None:
            t = time.perf_counter()
            self.in_sip = True
            try:
                sip()
            finally:
                self.in_sip = False
            self.sips.append(time.perf_counter() - t)

        app.sip = timed_sip  # type: ignore[method-assign]
        tick = app.tick

        def timed_tick() -> None:
            t = time.perf_counter()
            before = app.drain.segments
            tick()
            self.ticks.append(time.perf_counter() - t)
            self.segments.append(app.drain.segments - before)

        app.tick = timed_tick  # type: ignore[method-assign]
        show = app.show_tick

        def timed_show(drained: Any) -> None:
            t = time.perf_counter()
            show(drained)
            self.updates.append(time.perf_counter() - t)

        app.show_tick = timed_show  # type: ignore[method-assign]
        screen = app.main
        refresh = screen._on_timer_update

        def timed_refresh() -> None:
            t = time.perf_counter()
            refresh()
            end = time.perf_counter()
            self.renders.append((end, end - t))

        screen._on_timer_update = timed_refresh  # type: ignore[method-assign]


async def run(flows: int, rate: float, seconds: float, sips: bool = True) -> dict[str, Any]:
    traffic = Traffic(flows, rate)
    preload = traffic.handshakes() + traffic.data(flows * 2)
    stream = traffic.data(int(rate * seconds))
    tracker = FlowTracker(max_flows=max(200_000, flows * 2))
    t = time.perf_counter()
    for seg in preload:
        tracker.ingest(seg)
    load_s = time.perf_counter() - t
    source = PacedSource(stream, rate)
    app = TcpwatchApp(source, tracker, linger=1e12, replay=True)
    if not sips:  # the ticks' drains alone, as before sips existed (for comparison)
        app.sip = lambda: None  # type: ignore[method-assign]
    probe = Probe(app)
    result: dict[str, Any] = {"flows": len(tracker.flows), "load_s": load_s}
    async with app.run_test(size=(200, 60)) as pilot:
        # The first ticks place every loaded flow (at most UPDATE_LIMIT a tick).
        await wait(lambda: len(app.main.model) == len(tracker.flows) and not app.main._pending)
        result["first_tick_ms"] = max(probe.updates, default=0.0) * 1e3
        result["placing_ticks"] = len(probe.updates)
        result["shown"] = len(app.main.model)
        probe.ticks.clear()
        probe.segments.clear()
        probe.renders.clear()
        probe.drains.clear()
        probe.sips.clear()
        probe.updates.clear()
        window = time.perf_counter()
        taken = app.drain.segments
        await asyncio.sleep(seconds * 0.6)
        window = time.perf_counter() - window
        taken = app.drain.segments - taken
        steady_ticks, steady_renders = list(probe.ticks), [d for _, d in probe.renders]
        drains, updates = list(probe.drains), list(probe.updates)
        result["drain_ms"] = summary(drains)
        result["update_ms"] = summary(updates)
        result["ingest_us"] = 1e6 * sum(drains) / max(1, sum(probe.segments))
        result["segments_per_tick"] = statistics.mean(probe.segments or [0])
        result["taken_per_s"] = taken / window
        result["by_ticks_per_s"] = sum(probe.segments) / window
        result["sip_ms"] = summary(list(probe.sips))
        result["keys"] = await keys(app, pilot, probe)
    result["tick_ms"] = summary(steady_ticks)
    result["render_ms"] = summary(steady_renders)
    result["shown_after"] = result["shown"]
    return result


async def keys(app: TcpwatchApp, pilot: Any, probe: Probe) -> dict[str, dict[str, float]]:
    """Key-to-screen latency for cursor moves and sort changes, under load."""
    table = app.main.query_one(ConnectionTable)
    screen: MainScreen = app.main
    wrap(table, "action_cursor", probe)
    wrap(screen, "action_cycle_sort", probe)
    out: dict[str, dict[str, float]] = {}
    for key, times in (("down", 50), ("s", len(SORTS))):
        lat = []
        for _ in range(times):
            probe.action_done = 0.0
            t = time.perf_counter()
            await pilot.press(key)
            await wait(
                lambda: probe.action_done and any(e > probe.action_done for e, _ in probe.renders)
            )
            end = next(e for e, _ in probe.renders if e > probe.action_done)
            lat.append(end - t)
            await asyncio.sleep(0.05)
        out[key] = summary(lat)
    return out


SORTS = ("idle", "bytes", "pkts", "state", "orig", "resp", "rtt", "age", "id")


def wrap(obj: Any, name: str, probe: Probe) -> None:
    method = getattr(obj, name)

    def timed(*args: Any) -> Any:
        result = method(*args)
        probe.action_done = time.perf_counter()
        return result

    setattr(obj, name, timed)


async def wait(cond: Any, timeout: float = 120.0) -> None:
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


def report(results: list[dict[str, Any]], rate: float) -> str:
    """A Markdown table of the runs and a verdict per size against the targets."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        f"{rate:,.0f} segments/s arriving; App 200x60 headless; {os.cpu_count()} CPUs, load "
        f"average {load}; ms as median / p95 / max",
        "",
        "| flows | segs/tick | drain (tracker) | update (model+widgets) | render | sip between "
        "ticks | key down→screen | key s→screen | segments taken/s (by ticks) |",
        "| ---: | ---: | --- | --- | --- | --- | --- | --- | ---: |",
    ]
    lines.extend(
        f"| {r['shown']:,} | {r['segments_per_tick']:,.0f} | {_f(r['drain_ms'])} | "
        f"{_f(r['update_ms'])} | {_f(r['render_ms'])} | {_f(r['sip_ms'])} | "
        f"{_f(r['keys']['down'])} | {_f(r['keys']['s'])} | "
        f"{r['taken_per_s']:,.0f} ({r['by_ticks_per_s']:,.0f}) |"
        for r in results
    )
    lines.append("")
    for r in results:
        ui = r["update_ms"]["p95"] + r["render_ms"]["p95"]
        whole = r["drain_ms"]["p95"] + ui
        lines.append(
            f"{r['shown']:,} flows: tracker {r['ingest_us']:.1f} us/segment; UI update+render p95 "
            f"{ui:.1f} ms, with the drain {whole:.1f} ms (target {TARGET_TICK_MS:.0f}); key down "
            f"p95 {r['keys']['down']['p95']:.0f} ms (target {TARGET_KEY_MS:.0f}); placing the "
            f"loaded flows took {r['placing_ticks']} ticks, the longest {r['first_tick_ms']:.0f} ms"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--flows", type=int, action="append", help="flow counts (default 1000, 100000)")
    ap.add_argument("--rate", type=float, default=50_000.0, help="segments per second arriving")
    ap.add_argument("--seconds", type=float, default=6.0, help="length of the streamed part")
    ap.add_argument(
        "--no-sips", action="store_true", help="drain at ticks only (the App before sips)"
    )
    args = ap.parse_args(argv)
    results = [
        asyncio.run(run(n, args.rate, args.seconds, sips=not args.no_sips))
        for n in args.flows or [1_000, 100_000]
    ]
    print(report(results, args.rate))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
