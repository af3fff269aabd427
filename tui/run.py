"""Build the data source the arguments ask for, and run the TUI on it."""

from __future__ import annotations

import argparse
import math

from capture.pcapio import CaptureError
from capture.sources import FileSource, ReplaySource, Source
from tui.errors import say


class SourceError(Exception):
    """A source could not be opened; the message is one line."""


def make_source(args: argparse.Namespace) -> Source:
    """A file, replay or live source for the arguments. Raises `SourceError` with one line."""
    try:
        if args.read and args.replay is not None:
            return ReplaySource(args.read, speed=args.replay)
        if args.read:
            return FileSource(args.read)
    except CaptureError as exc:
        raise SourceError(str(exc)) from None
    from capture.live import LiveError, LiveSource

    try:
        return LiveSource(
            iface=args.interface,
            bpf=args.filter,
            buffer_kib=args.buffer,
            write_path=args.write,
            count=args.count,
            duration=args.duration,
            drop_privileges=not args.no_drop_privileges,
        )
    except LiveError as exc:
        raise SourceError(str(exc)) from None


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
    from capture.flows import FlowTracker

    try:
        source = make_source(args)  # the App starts it once mounted
        _start_live(source)
    except SourceError as exc:
        say(str(exc))
        return 2
    from tui.app import TcpwatchApp

    tracker = FlowTracker(max_flows=args.max_flows)
    app = TcpwatchApp(
        source,
        tracker,
        display_filter=expression,
        linger=view_linger(args),
        replay=args.replay is not None,
        insight_thresholds=args.thresholds,
    )
    try:
        app.run()
    finally:
        source.stop()
    if source.error:
        say(source.error)
        return 1
    return 0


def _start_live(source: Source) -> None:
    """Open a live socket before any App exists, so that a failure is one line, not a trace
    inside the App (LiveSource.start is idempotent: the App's own start does nothing then)."""
    from capture.live import LiveError, LiveSource

    if isinstance(source, LiveSource):
        try:
            source.start()
        except LiveError as exc:
            raise SourceError(str(exc)) from None
