"""Render the README screenshots by driving the real App headless over a bundled real capture.

    scripts/screenshots            # writes screenshots/*.svg, and *.png when cairosvg is present

Each shot is the App as a user sees it after a few keys: the main screen (120x40 and 80x24), a
filtered view, the filter bar being typed in, a flow's ladder, the frame inspector, the events
feed and the insights. The view's clock is capture time, and the feed's times are written in
UTC here, so those pictures are the same on every run.

One more shot is live (`live-processes`, when the script may capture: root or CAP_NET_RAW): the
App captures on loopback while this script makes the traffic itself, a small echo server and its
clients in this process, so the process column names it. Its ports, pid and ages differ from run
to run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from textual.pilot import Pilot  # noqa: E402

from capture.engine_source import EngineSource  # noqa: E402
from tui.app import TcpwatchApp  # noqa: E402

CAPTURE = ROOT / "tests" / "data" / "chrissanders_http_espn_fail.pcapng"
OUT = ROOT / "screenshots"

SHOTS: tuple[tuple[str, tuple[int, int], tuple[str, ...], str | None], ...] = (
    ("main", (120, 40), (), None),
    ("main-200x60", (200, 60), (), None),
    ("main-80x24", (80, 24), (), None),
    ("filtered", (120, 40), ("slash", *"retries > 0 or conn S1", "enter", "s", "s"), None),
    ("filter-bar", (120, 30), ("slash", *"port 80 and (flags rst or irtt > 50ms)"), None),
    ("flow-ladder", (140, 45), ("down", "enter"), "FlowScreen"),
    (
        "frame-inspector",
        (140, 45),
        ("down", "enter", "wait:FlowScreen", "down", "enter", "field:seq"),
        None,
    ),
    ("help", (120, 40), ("question_mark",), "HelpScreen"),
    ("events", (120, 30), ("e",), "EventsScreen"),
    ("insights", (120, 40), ("i",), "InsightsScreen"),
)
"""(name, terminal size, keys, screen to wait for). `wait:Name` waits mid-sequence;
`field:label` moves the frame inspector's cursor to that field (the hex dump marks its bytes)."""


async def until(pilot: Pilot[None], cond: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not reach the expected state")
        await pilot.pause()


async def pick_field(pilot: Pilot[None], label: str) -> None:
    """Put the open inspector's cursor on the first field called `label`."""
    from widgets.inspector import Inspector  # noqa: PLC0415

    inspector = pilot.app.screen.query_one(Inspector)
    await until(pilot, lambda: bool(inspector.lines))
    target = next(i for i, line in enumerate(inspector.lines) if line.label == label)
    await pilot.press("tab", *["down"] * target)
    await until(pilot, lambda: inspector.cursor == target)


async def shoot(name: str, size: tuple[int, int], keys: tuple[str, ...], wait: str | None) -> Path:
    # A relative path, so the status bar in the pictures names no directory of this machine.
    source = EngineSource(str(CAPTURE.relative_to(ROOT)))
    app = TcpwatchApp(source, source, linger=1e9)
    async with app.run_test(size=size) as pilot:
        start = app.ticks
        await until(pilot, lambda: app.drain.finished and app.ticks > start + 1)
        for key in keys:
            if key.startswith("wait:"):
                screen = key[5:]
                await until(pilot, lambda s=screen: type(app.screen).__name__ == s)  # type: ignore[misc]
            elif key.startswith("field:"):
                await pick_field(pilot, key[6:])
            else:
                await pilot.press(key)
        if wait:
            await until(pilot, lambda: type(app.screen).__name__ == wait)
        app.clear_notifications()
        await pilot.pause()
        path = OUT / f"{name}.svg"
        app.save_screenshot(filename=path.name, path=str(OUT))
    return path


@contextlib.contextmanager
def echo_server() -> Iterator[int]:
    """A loopback echo server on a thread of this process; yields its port."""
    srv = socket.create_server(("127.0.0.1", 0))
    srv.settimeout(0.2)
    done = threading.Event()

    def echo(conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(4096):
                conn.sendall(data)

    def serve() -> None:
        while not done.is_set():
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue
            threading.Thread(target=echo, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, name="echo-server", daemon=True)
    thread.start()
    try:
        yield srv.getsockname()[1]
    finally:
        done.set()
        thread.join()
        srv.close()


def free_port() -> int:
    """A loopback port nothing listens on (a connection there is refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


KEPT = 4
"""Connections the live shot keeps open."""


async def shoot_live(size: tuple[int, int] = (160, 24)) -> Path | None:
    """The App live on `lo`, over connections this script makes: KEPT kept open (and pinged, so
    the process column fills in as attribution catches up), two closed, one refused."""
    from capture.live import LiveError, LiveSource  # noqa: PLC0415

    refused = free_port()
    with echo_server() as port:
        try:
            bpf = f"tcp port {port} or tcp port {refused}"
            source = LiveSource("lo", bpf, drop_privileges=False)
        except LiveError as err:
            print(f"live-processes skipped: {err}", file=sys.stderr)
            return None
        app = TcpwatchApp(source, source)
        async with app.run_test(size=size) as pilot:
            await until(pilot, lambda: app.ticks > 2)
            kept = [socket.create_connection(("127.0.0.1", port)) for _ in range(KEPT)]
            for size in (100, 3000):
                with socket.create_connection(("127.0.0.1", port)) as once:
                    once.sendall(b"x" * size)
                    once.shutdown(socket.SHUT_WR)
                    while once.recv(4096):
                        pass
            with socket.socket() as nobody, contextlib.suppress(ConnectionRefusedError):
                nobody.connect(("127.0.0.1", refused))
            table = app.main.table

            def attributed() -> bool:
                open_flows = [f for f in source.flows.values() if f.state_orig == "ESTABLISHED"]
                return len(open_flows) == KEPT and all(f.proc_orig for f in open_flows)

            deadline = time.monotonic() + 20
            while not (attributed() and any(c.key == "proc" for c in table.columns)):
                if time.monotonic() > deadline:
                    seen = [(f.state_orig, f.proc_orig) for f in source.flows.values()]
                    shown = [c.key for c in table.columns]
                    raise TimeoutError(f"the process column did not fill in: {seen} {shown}")
                for n, conn in enumerate(kept, 1):
                    conn.sendall(b"ping\n" * n)
                    conn.recv(4096)
                await pilot.pause(0.2)
            start = app.ticks
            await until(pilot, lambda: app.ticks > start + 1)
            app.clear_notifications()
            await pilot.pause()
            app.save_screenshot(filename="live-processes.svg", path=str(OUT))
            for conn in kept:
                conn.close()
    return OUT / "live-processes.svg"


def to_png(svg: Path) -> Path | None:
    """A PNG beside `svg` (cairosvg), with a locally installed monospace font for alignment."""
    try:
        import cairosvg  # noqa: PLC0415  (optional: only for the PNG copies)
    except ImportError:
        return None
    text = svg.read_text(encoding="utf-8")
    # The SVG names Fira Code (a web font); a rasteriser without it falls back to a proportional
    # bold face and columns drift. DejaVu Sans Mono is everywhere.
    text = re.sub(r'font-family: "?Fira Code"?', 'font-family: "DejaVu Sans Mono"', text)
    png = svg.with_suffix(".png")
    cairosvg.svg2png(bytestring=text.encode(), write_to=str(png))
    return png


def main() -> int:
    os.chdir(ROOT)
    os.environ["TZ"] = "UTC"  # the events feed writes local times: the same picture everywhere
    time.tzset()
    OUT.mkdir(exist_ok=True)
    shots = [asyncio.run(shoot(name, size, keys, wait)) for name, size, keys, wait in SHOTS]
    shots.append(asyncio.run(shoot_live()))
    for svg in shots:
        if svg is None:
            continue
        png = to_png(svg)
        print(
            svg.relative_to(ROOT),
            "and",
            png.relative_to(ROOT) if png else "(no PNG: pip install cairosvg)",
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
