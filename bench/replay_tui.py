"""The TUI side of `bench/replay_bench.py --tui`: the real App on a live capture, headless.

Run by replay_bench inside the capturing namespace (`ip netns exec NS .venv/bin/python
bench/replay_tui.py -i VETH [tcpwatch options]`); not meant to be run by hand. The live source
is built as `tcpwatch -i VETH ...` builds it for the TUI (`tui.cli.build_parser`, then
`tui.run.live_source`, `load_before_drop`, the early start, and `TcpwatchApp` with the CLI's
linger), and the App runs headless at 200x60 (`App.run_test`, as bench/tui_bench.py does).

With `--keys` (before the tcpwatch options), the keys of bench/tui_bench.py (`j`, `/`, `escape`,
`enter`, `escape`) are pressed in turn from the first row shown until `stop`, each sent as a
terminal's key reaches the App (a `Key` event from its driver) 50 ms after the screen showed the
last one, and each one's key-to-screen is timed as tui_bench times it: from the press to the end
of the first screen update after the key's action ran. The ticks' figures of such a run are not
those of a run without keys: the flow screen hides the main screen while it is open.

The protocol on the standard streams, every wait bounded:

    stdout  `ready` once the App has mounted, the capture is attached and a tick has run;
            at the end, one line of JSON with the figures (below)
    stdin   a line `stop` (or end of file): the replay is over; the App then goes on until
            the engine has handed over everything queued (the tracked count unchanged and no
            changed flows waiting for 1 s, 60 s at most), then the figures are taken

The figures (the window: see `window` below):

    frames, segments       the engine's decoded frames and tracked TCP segments
    kernel_drops           the kernel's and interface's drops (`pcap_stats`), the status bar's
    queue_drops            frames the sniffer dropped because the tracker's queue was full
    frames_shed            segments tracked without keeping their frames for the flow screen
                           (the tracker sheds them while its queue is a quarter full or more:
                           `session::live::shedding` in the engine)
    flows_tracked          flows the engine holds; flows_in_table: rows of the main table
    tracked_per_s          segments over the window's wall time
    tick_ms                drain + update + render of each tick that began in the window
                           (as tui_bench: the App's `tick`, its `show_tick`, and the main
                           screen's next compositor refresh after it), median / p95 / max
    tick_cpu_ms            the UI thread's CPU time in those (time.thread_time): what is left
                           of tick_ms is the time the thread waited for a core
    tick_parts_ms, tick_parts_cpu_ms
                           the same for each part of the ticks apart: drain, update, render
    tick_ms_each, tick_cpu_ms_each
                           every tick's wall and CPU time, for figures pooled over runs
    ui_cores               CPU of the UI thread (the asyncio loop: the main thread) over the
                           window, from /proc/self/task/TID/stat sampled every 50 ms
    machine_busy_cores     CPU the whole machine spent busy over the window (/proc/stat: all
                           processes, tcpreplay and tcpdump included; out of os.cpu_count()),
                           and machine_stolen_cores, what the hypervisor took
    threads                per thread name: CPU cores over the window and CPU seconds over the
                           whole run (`tcpwatch-sniffe[r]`, `tcpwatch-tracke[r]`: the engine's
                           threads, names cut at 15 characters by the kernel)
    keys_ms                with `--keys`: per key, key-to-screen of the presses begun within
                           the window, median / p95 / max; keys_ms_each, every press's

The window runs from the last drain of the App (tick or sip, ~50 a second) that saw no segment
yet to the first drain at which the tracked count had reached its final value: the time the App
took to see every segment tracked. Both ends are late by at most one drain interval, so
`tracked_per_s` is a lower bound of the rate the engine tracked at as the App saw it.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from textual import events

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from tui_bench import KEYS, KeyClock, summary, thread_cpu  # noqa: E402

from tui.app import TcpwatchApp  # noqa: E402
from tui.cli import build_parser  # noqa: E402
from tui.run import live_source, load_before_drop, view_linger  # noqa: E402

READY_TIMEOUT = 60.0
STOP_TIMEOUT = 900.0
SETTLE = 1.0
SETTLE_TIMEOUT = 60.0
SAMPLE_EVERY = 0.05
CLK_TCK = os.sysconf("SC_CLK_TCK")
REPORT = os.dup(1)
"""Standard output as we got it: Textual redirects `sys.stdout` while the App runs."""


def say(line: str) -> None:
    os.write(REPORT, (line + "\n").encode())


def machine_cpu() -> tuple[float, float]:
    """CPU seconds the whole machine has spent busy (not idle, not waiting for I/O) and stolen
    by its hypervisor so far, over all CPUs (/proc/stat)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]
    steal = fields[7] if len(fields) > 7 else 0
    return (sum(fields[:8]) - idle - steal) / CLK_TCK, steal / CLK_TCK


class Sampler(threading.Thread):
    """Reads every thread's CPU time (and the machine's) every SAMPLE_EVERY, off the UI
    thread; the machine's under the key 0, as (busy, stolen) seconds."""

    def __init__(self) -> None:
        super().__init__(name="bench-sampler", daemon=True)
        self.samples: list[tuple[float, dict[int, Any]]] = []
        self.done = threading.Event()

    def run(self) -> None:
        while True:
            now: dict[int, Any] = dict(thread_cpu())
            now[0] = machine_cpu()
            self.samples.append((time.perf_counter(), now))
            if self.done.is_set():
                return
            self.done.wait(SAMPLE_EVERY)

    def around(self, t0: float, t1: float) -> tuple[Any, Any]:
        """The last sample at or before t0 and the first at or after t1 (or the nearest)."""
        times = [t for t, _ in self.samples]
        i = max(0, bisect.bisect_right(times, t0) - 1)
        j = min(len(times) - 1, bisect.bisect_left(times, t1))
        return self.samples[i], self.samples[j]


class Probe:
    """Times the App's drains, tick updates and main-screen repaints, each with its start."""

    def __init__(self, app: TcpwatchApp) -> None:
        self.steps: list[tuple[float, int]] = []  # (end of a drain step, segments so far)
        # (start, duration, the UI thread's CPU time in it) of `tick` (the drain)
        self.ticks: list[tuple[float, float, float]] = []
        self.updates: list[tuple[float, float, float]] = []  # of `show_tick`
        self.renders: list[tuple[float, float, float]] = []  # of the main screen's refresh
        self.sips: list[tuple[float, float, float]] = []  # of `sip` (a step between ticks)
        drain, step = app.drain, app.drain.step

        def timed_step(*args: Any, **kwargs: Any) -> Any:
            out = step(*args, **kwargs)
            self.steps.append((time.perf_counter(), drain.segments))
            return out

        drain.step = timed_step  # type: ignore[method-assign]
        self.key_clock = KeyClock(app)  # key-to-screen, as bench/tui_bench.py times it
        self.keys: dict[str, list[tuple[float, float]]] = {label: [] for label, _ in KEYS}
        for name, series in (("tick", self.ticks), ("show_tick", self.updates), ("sip", self.sips)):
            setattr(app, name, self._timed(getattr(app, name), series))
        app.main._on_timer_update = self._timed(  # type: ignore[method-assign]
            app.main._on_timer_update, self.renders
        )

    @staticmethod
    def _timed(fn: Any, series: list[tuple[float, float, float]]) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            t, cpu = time.perf_counter(), time.thread_time()
            out = fn(*args, **kwargs)
            series.append((t, time.perf_counter() - t, time.thread_time() - cpu))
            return out

        return timed

    def window(self) -> tuple[float, float, int]:
        """(start, end, segments) of the window the module docstring defines."""
        final = self.steps[-1][1] if self.steps else 0
        if final == 0:
            return 0.0, 0.0, 0
        first = next(i for i, (_, n) in enumerate(self.steps) if n > 0)
        start = self.steps[first - 1][0] if first else self.steps[0][0]
        end = next(t for t, n in self.steps if n == final)
        return start, end, final

    def tick_times(self, t0: float, t1: float, cpu: bool = False) -> list[float]:
        """drain + update + render of each tick begun within [t0, t1]: the update is the first
        `show_tick` after the drain, the render the first repaint begun after the update
        (`cpu`: the UI thread's CPU time in them, rather than the wall time)."""
        return [sum(parts) for parts in self.tick_parts(t0, t1, cpu)]

    def tick_parts(self, t0: float, t1: float, cpu: bool = False) -> list[tuple[float, ...]]:
        """(drain, update, render) of each tick `tick_times` sums."""
        out = []
        u_starts = [s for s, _, _ in self.updates]
        r_starts = [s for s, _, _ in self.renders]
        for start, drain, drain_cpu in self.ticks:
            if not t0 <= start <= t1:
                continue
            i = bisect.bisect_left(u_starts, start + drain)
            if i == len(u_starts):
                continue
            u_start, update, update_cpu = self.updates[i]
            j = bisect.bisect_left(r_starts, u_start + update)
            if j == len(r_starts):
                continue
            _, render, render_cpu = self.renders[j]
            if cpu:
                out.append((drain_cpu, update_cpu, render_cpu))
            else:
                out.append((drain, update, render))
        return out


CHARS = {"slash": "/", "escape": "\x1b", "enter": "\r"}
"""The character each named key of KEYS types (the others type themselves)."""


def press(app: TcpwatchApp, key: str) -> None:
    """A key pressed as a terminal sends it: a `Key` event from the App's driver. (Pilot's
    `press` sends the same, then waits for the process to idle, which a busy engine thread
    never lets it do: a second each time.)"""
    event = events.Key(key, CHARS.get(key, key))
    event.set_sender(app)
    assert app._driver is not None
    app._driver.send_message(event)


async def press_keys(app: TcpwatchApp, probe: Probe, stop: threading.Event) -> None:
    """Press KEYS in turn from the first row shown until `stop`, timing each (see `Probe`):
    `enter` needs a flow under the cursor to open."""
    await wait(lambda: len(app.main.model) > 0 or stop.is_set(), STOP_TIMEOUT, "a first row")
    while not stop.is_set():
        for label, key in KEYS:
            pressed = await probe.key_clock.measure(lambda key=key: press(app, key), READY_TIMEOUT)
            probe.keys[label].append(pressed)
            await asyncio.sleep(0.05)


def read_stop(stop: threading.Event) -> None:
    """Sets `stop` at a line `stop` or at the end of standard input."""
    for line in sys.stdin:
        if line.strip() == "stop":
            break
    stop.set()


async def wait(cond: Any, timeout: float, what: str) -> None:
    deadline = time.perf_counter() + timeout
    while not cond():
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:g} s")
        await asyncio.sleep(0.05)


async def settle(app: TcpwatchApp) -> None:
    """Until the tracked count has not moved, and no changed flow waited, for SETTLE s."""
    deadline = time.perf_counter() + SETTLE_TIMEOUT
    seen, since = -1, time.perf_counter()
    while time.perf_counter() < deadline:
        now = time.perf_counter()
        if app.drain.segments != seen or app.drain.backlog:
            seen, since = app.drain.segments, now
        elif now - since >= SETTLE:
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"the engine did not settle within {SETTLE_TIMEOUT:g} s")


def figures(app: TcpwatchApp, probe: Probe, sampler: Sampler) -> dict[str, Any]:
    stats = app.source.stats()
    t0, t1, segments = probe.window()
    out: dict[str, Any] = {
        "frames": stats.frames,
        "kernel_drops": stats.kernel_drops,
        "queue_drops": stats.queue_drops,
        "frames_shed": stats.frames_shed,
        "segments": app.drain.segments,
        "flows_tracked": len(app.tracker.flows),
        "flows_in_table": len(app.main.model),
        "window_s": t1 - t0,
        "tracked_per_s": segments / (t1 - t0) if t1 > t0 else 0.0,
        "tick_ms": summary(probe.tick_times(t0, t1)),
        "tick_cpu_ms": summary(probe.tick_times(t0, t1, cpu=True)),
        # each tick's, in ms, for figures pooled over runs (`replay_bench.py --runs`)
        "tick_ms_each": [round(t * 1e3, 2) for t in probe.tick_times(t0, t1)],
        "tick_cpu_ms_each": [round(t * 1e3, 2) for t in probe.tick_times(t0, t1, cpu=True)],
        "tick_parts_ms": {
            part: summary([parts[i] for parts in probe.tick_parts(t0, t1)])
            for i, part in enumerate(("drain", "update", "render"))
        },
        "tick_parts_cpu_ms": {
            part: summary([parts[i] for parts in probe.tick_parts(t0, t1, cpu=True)])
            for i, part in enumerate(("drain", "update", "render"))
        },
        "ticks_total": app.ticks,
        # where the UI thread's time goes: repaints and sips in the window, each a second
        "render_ms": summary([d for s, d, _ in probe.renders if t0 <= s <= t1]),
        "renders_per_s": sum(t0 <= s <= t1 for s, _, _ in probe.renders) / max(t1 - t0, 1e-9),
        "sip_ms": summary([d for s, d, _ in probe.sips if t0 <= s <= t1]),
        "sips_per_s": sum(t0 <= s <= t1 for s, _, _ in probe.sips) / max(t1 - t0, 1e-9),
    }
    if any(probe.keys.values()):
        window = {
            label: [d for t, d in presses if t0 <= t <= t1] for label, presses in probe.keys.items()
        }
        out["keys_ms"] = {label: summary(times) for label, times in window.items()}
        # each press's, in ms, for figures pooled over runs (`replay_bench.py --runs`)
        out["keys_ms_each"] = {
            label: [round(d * 1e3, 2) for d in times] for label, times in window.items()
        }
    (s0, cpu0), (s1, cpu1) = sampler.around(t0, t1)
    wall = max(s1 - s0, 1e-9)
    main = os.getpid()
    threads: dict[str, dict[str, float]] = {}
    last = sampler.samples[-1][1]
    (busy0, steal0), (busy1, steal1) = cpu0[0], cpu1[0]
    out["machine_busy_cores"] = (busy1 - busy0) / wall
    out["machine_stolen_cores"] = (steal1 - steal0) / wall
    for tid, (name, total) in last.items():
        if tid == 0:
            continue
        key = name
        if tid == main:
            key = "UI (main)"
        elif tid == sampler.native_id:
            key = "sampler (this bench)"
        elif name.startswith("python"):
            key = "other Python threads"
        row = threads.setdefault(key, {"window_cores": 0.0, "cpu_s": 0.0, "threads": 0})
        row["cpu_s"] += total
        row["threads"] += 1
        if tid in cpu1:
            row["window_cores"] += (cpu1[tid][1] - cpu0.get(tid, (name, 0.0))[1]) / wall
    out["ui_cores"] = threads.get("UI (main)", {}).get("window_cores", 0.0)
    out["cpu_window_s"] = wall
    out["threads"] = threads
    return out


async def run(argv: list[str]) -> dict[str, Any]:
    keys = argv[:1] == ["--keys"]
    parser = build_parser()
    args = parser.parse_args(argv[1:] if keys else argv)
    args.seed = int.from_bytes(os.urandom(8))  # as tui.cli.main: one seed for the run
    source = live_source(args)
    load_before_drop(args)
    source.start()  # as tui.run._start_live: before the App exists
    app = TcpwatchApp(source, source, linger=view_linger(args))
    probe = Probe(app)
    sampler = Sampler()
    stop = threading.Event()
    threading.Thread(target=read_stop, args=(stop,), name="bench-stdin", daemon=True).start()
    try:
        async with app.run_test(size=(200, 60)):
            sampler.start()
            await wait(lambda: app.main.is_mounted and app.ticks >= 1, READY_TIMEOUT, "ready")
            say("ready")
            if keys:
                await press_keys(app, probe, stop)
            await wait(stop.is_set, STOP_TIMEOUT, "stop")
            await settle(app)
            sampler.done.set()
            sampler.join(5.0)
            result = figures(app, probe, sampler)
    finally:
        source.stop()
    return result


def main() -> int:
    result = asyncio.run(run(sys.argv[1:]))
    say(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
