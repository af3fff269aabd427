"""Build the data source the arguments ask for, and run the TUI on it."""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import signal
import sys
from collections.abc import Iterator
from typing import Any

from capture.engine_source import EngineSource
from capture.pcapio import CaptureError
from capture.sources import Source
from tui.errors import say


class SourceError(Exception):
    """A source could not be opened; the message is one line."""


def make_source(args: argparse.Namespace) -> Source:
    """A file, replay or live source for the arguments. Raises `SourceError` with one line."""
    try:
        if args.read:
            return EngineSource(
                args.read, speed=args.replay, max_flows=args.max_flows, seed=args.seed
            )
    except CaptureError as exc:
        raise SourceError(str(exc)) from None
    from capture.live import LiveError

    try:
        return live_source(args)
    except LiveError as exc:
        raise SourceError(str(exc)) from None


def live_source(args: argparse.Namespace, **headless: Any) -> Any:
    """The `LiveSource` the arguments ask for (not started); `headless`: its `outputs` for a
    headless run. Raises `LiveError` with one line."""
    from capture.live import LiveSource

    return LiveSource(
        iface=args.interface,
        bpf=args.filter,
        buffer_kib=args.buffer,
        write_path=args.write,
        count=args.count,
        duration=args.duration,
        drop_privileges=not args.no_drop_privileges,
        max_flows=args.max_flows,
        seed=args.seed,
        **headless,
    )


DEFAULT_LINGER = 10.0


def view_linger(args: argparse.Namespace) -> float:
    """How long closed flows stay in the table: a whole loaded file keeps every flow in view."""
    if args.linger is not None:
        return float(args.linger)
    if args.read and args.replay is None:
        return math.inf
    return DEFAULT_LINGER


def run_tui(args: argparse.Namespace, expression: str) -> int:
    """Run the App until the user quits; returns the exit status."""
    try:
        _keys_from_terminal(args)
        source = make_source(args)  # may wait (a FIFO without a writer): ^C still ends it here
    except SourceError as exc:
        say(str(exc))
        return 2
    request = QuitRequest()
    if args.interface is not None or not args.read:
        load_before_drop(args)
    # Before the live start: its sniffer writes `-w` while the App is still being built.
    with exit_on_signals(request):
        try:
            _start_live(source)  # the App starts any other source once mounted
        except SourceError as exc:
            say(str(exc))
            return 2
        try:
            if not request.asked:
                _run_app(source, args, expression, request)
        finally:
            source.stop()
    if source.error:
        say(source.error)
        return 1
    return 0


def _keys_from_terminal(args: argparse.Namespace) -> None:
    """Standard input is not the terminal (`ssh host tcpdump -U -w - | tcpwatch -r -`): the App
    reads its keys from descriptor 0, so the controlling terminal goes there, and the capture
    is read from the pipe through `sys.stdin`, moved to another descriptor."""
    if os.isatty(0):
        return
    try:
        tty = os.open("/dev/tty", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        if args.read == "-":
            raise SourceError(
                "-r - reads the capture from standard input, so the TUI needs a terminal for "
                "its keys and there is none: use --print or --export"
            ) from None
        return  # nothing better to offer: the App reports what it can
    pipe = os.dup(0)
    os.dup2(tty, 0)
    os.close(tty)
    sys.stdin = open(pipe, encoding="utf-8", errors="replace")  # noqa: SIM115 - the process's


def load_before_drop(args: argparse.Namespace, ui: bool = True) -> None:
    """Import now what the App will import later, when a live start is about to drop root.

    After the drop, modules are read as the invoking user, who may not be able to read the
    Python installation root used (a pyenv under /root, say): a screen opened later would then
    fail to import. Everything the App, its screens and the frame inspector need is loaded first
    (the list: the modules a Pilot walk through every screen imported after start-up).
    """
    from capture.live import privs

    if args.no_drop_privileges or privs.sudo_user() is None:
        return
    import importlib

    for name in _HEADLESS_BEFORE_DROP:
        importlib.import_module(name)
    if not ui:
        return
    for name in _LOADED_BEFORE_DROP:
        importlib.import_module(name)
    from rich._unicode_data import load

    load()  # the cell-width table for this terminal's Unicode version (imported by name)


_HEADLESS_BEFORE_DROP = (
    "capture.insights",
    "capture.insights.rules",
    "capture.insights.listen",
    "encodings.ascii",  # the sysctls are read as ASCII (capture.live.procs), after the drop
)
"""What a headless run imports late: `--insights` analyses at the end."""
_LOADED_BEFORE_DROP = (
    "capture.dissect",
    "capture.insights.rules",
    "capture.insights.listen",
    "scapy.config",
    "scapy.packet",
    "scapy.utils",
    "scapy.layers.inet",
    "scapy.layers.inet6",
    "scapy.layers.l2",
    "concurrent.futures.thread",  # asyncio's default executor: Textual's thread workers
    "textual.drivers.linux_driver",
    "textual.layouts.factory",
    "textual.layouts.horizontal",
    "textual.layouts.stream",
    "textual.scrollbar",
    "tui.app",
    "tui.flow_screen",
    "tui.insights_screen",
    "tui.help_screen",
    "tui.terminal",
)


def _run_app(source: Source, args: argparse.Namespace, expression: str, request: Any) -> None:
    from tui.app import TcpwatchApp

    tracker = source  # the engine that reads the capture (or the interface) tracks its flows
    app = TcpwatchApp(
        source,
        tracker,
        display_filter=expression,
        linger=view_linger(args),
        replay=args.replay is not None,
        insight_thresholds=args.thresholds,
    )
    _survive_terminal_loss(app)
    request.app = app
    app.quit_requested = request.asked  # a signal may have come just before the line above
    app.run()


EXIT_SIGNALS = (signal.SIGHUP, signal.SIGTERM, signal.SIGINT)
"""Signals that end the TUI as `q` does: a closed terminal (SIGHUP), `kill`, `kill -INT`."""


class QuitRequest:
    """Where an exit signal is noted: here from the start, and in the App once there is one."""

    def __init__(self) -> None:
        self.asked = False
        self.app: Any = None

    def __call__(self, _signum: int, _frame: object) -> None:
        self.asked = True
        if self.app is not None:
            self.app.quit_requested = True  # its next tick exits


@contextlib.contextmanager
def exit_on_signals(handler: Any) -> Iterator[None]:
    """While inside, an exit signal calls `handler` (a `QuitRequest`) instead of killing us.

    Killed by default, the process would leave the terminal in the alternate screen with input
    unechoed, and the last half second of a `-w` pcap unwritten (possibly a record cut short).
    The handler only sets a flag: a signal handler runs between any two bytecodes of the
    event loop, where calling into the App is not safe. Held until the source has stopped, so a
    late signal cannot cut the pcap's closing either.
    """

    # A signal ignored on purpose (`nohup tcpwatch`) stays ignored.
    mine = [sig for sig in EXIT_SIGNALS if signal.getsignal(sig) is not signal.SIG_IGN]
    previous = {sig: signal.signal(sig, handler) for sig in mine}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _survive_terminal_loss(app: Any) -> None:
    """Draw through `tui.terminal.TerminalDriver` where Textual would use its Linux driver."""
    from textual.drivers.linux_driver import LinuxDriver

    from tui.terminal import TerminalDriver

    if app.driver_class is LinuxDriver:
        app.driver_class = TerminalDriver


def _start_live(source: Source) -> None:
    """Open a live socket before any App exists, so that a failure is one line, not a trace
    inside the App (LiveSource.start is idempotent: the App's own start does nothing then)."""
    from capture.live import LiveError, LiveSource

    if isinstance(source, LiveSource):
        try:
            source.start()
        except LiveError as exc:
            raise SourceError(str(exc)) from None
