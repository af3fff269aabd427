"""Headless modes: `--print` lines, `--export` records, and the totals line on stderr.

A capture file is read on this thread as fast as it goes (no queue, no batches); live capture and
`--replay` go through the same `Source` the TUI uses, polled until they finish or a signal arrives.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from contextlib import ExitStack
from typing import Any, BinaryIO

from capture.sources import SourceStats
from tui.errors import say
from tui.run import live_source, load_before_drop

POLL_WAIT = 0.05


class _Stop:
    """Set by SIGINT/SIGTERM/SIGHUP: the run ends cleanly and still writes its export."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def __call__(self, signum: int, frame: object) -> None:
        self.event.set()

    def install(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self)


def run_headless(args: argparse.Namespace, expression: str) -> int:
    """Run `--print` / `--export` / `--insights`; returns the exit status."""
    stop = _Stop()
    stop.install()
    if args.read:
        return _run_native(args, stop, expression)
    return _run_live(args, stop, expression)


def _run_live(args: argparse.Namespace, stop: _Stop, expression: str) -> int:
    """A live capture headless: the engine's sniffer thread tracks and writes the lines and
    records as it goes; this loop hands them on until the capture ends or a signal comes."""
    from capture.live import LiveError

    load_before_drop(args, ui=False)  # the live start may drop root
    outputs = {
        "print": args.print,
        "absolute": args.absolute,
        "export": args.export,
        "display_filter": expression,
        "insights": args.insights,
    }
    try:
        source = live_source(args, outputs=outputs)
        source.start()
    except LiveError as exc:
        say(str(exc))
        return 2
    with ExitStack() as stack:
        stack.callback(source.stop)
        try:  # after the drop: the file belongs to the invoking user, as -w's does
            out = _open_binary_output(args, stack)
        except OSError as exc:
            say(f"cannot write {args.output}: {exc.strerror}")
            return 2
        try:
            _follow(source, stop, out)
            source.annotate_all()  # the processes owning each end (pid_*/proc_*)
            rest, records = source.session.finish_export()
            out.write(rest)
            out.flush()
            if args.insights:
                _write_insights(source.session.flows(), args)
        except BrokenPipeError:
            # Whoever read our output is gone (`tcpwatch ... | head`): end as quietly as a
            # command that SIGPIPE ends, with the source stopped (a -w pcap flushed).
            source.stop()
            _silence_stdout()
            return 128 + signal.SIGPIPE
        except OSError as exc:  # the output cannot be written (disk full, quota, I/O error)
            source.stop()
            _silence_stdout()
            say(f"cannot write {args.output or 'standard output'}: {exc.strerror or exc}")
            return 1
        counters = source.session.counters()
        _say_totals(
            source.stats(), counters["flows"], counters["evicted"], records if args.export else None
        )
        if source.error:
            say(source.error)
            return 2
    return 0


def _follow(source: Any, stop: _Stop, out: BinaryIO) -> None:
    """Hand on the engine's lines and records until the capture ends; after a signal, what was
    captured before it still counts."""
    lines = sys.stdout.buffer
    while True:
        source.step()
        polled = source.polled
        if polled.get("lines"):
            lines.write(polled["lines"])
            lines.flush()
        if polled.get("records"):
            out.write(polled["records"])
        if source.error or source.finished:
            return
        if stop.event.is_set():
            source.stop()
            stop.event.clear()
            continue  # one more step takes what the stop left
        stop.event.wait(POLL_WAIT)


def _open_binary_output(args: argparse.Namespace, stack: ExitStack) -> BinaryIO:
    if args.output:
        return stack.enter_context(open(args.output, "wb"))
    return sys.stdout.buffer


def _run_native(args: argparse.Namespace, stop: _Stop, expression: str) -> int:
    """A whole capture file through the native engine: reading, decoding, tracking and the
    outputs all happen in `capture._engine`, outside the GIL."""
    from capture.native import load

    _engine = load()

    if args.output:
        try:  # the engine writes the file; its errors are reported here as for the other modes
            open(args.output, "w").close()  # noqa: SIM115
        except OSError as exc:
            say(f"cannot write {args.output}: {exc.strerror}")
            return 2
    try:
        totals = _engine.run_file(
            args.read,
            print=args.print,
            absolute=args.absolute,
            export=args.export,
            output=args.output,
            max_flows=args.max_flows,
            seed=args.seed,
            filter=expression,
            speed=args.replay,
            insights=args.insights,
            stop=stop.event.is_set,
        )
    except _engine.CaptureError as exc:
        say(str(exc))
        return 2
    except BrokenPipeError:
        _silence_stdout()
        return 128 + signal.SIGPIPE
    except OSError as exc:
        _silence_stdout()
        say(f"cannot write {args.output or 'standard output'}: {exc.strerror or exc}")
        return 1
    if args.insights:
        _write_insights(totals["tracker"].flows(), args)
    malformed = dict(totals["malformed"])
    stats = SourceStats(frames=totals["frames"], tcp=totals["tcp"], malformed=malformed)
    _say_totals(stats, totals["flows"], totals["evicted"], totals["records"])
    if totals["error"]:
        say(totals["error"])
        return 2
    return 0


def _silence_stdout() -> None:
    """Point standard output at /dev/null: what is still buffered for the closed pipe would
    otherwise fail again when the interpreter flushes it at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _write_insights(flows: list[Any], args: argparse.Namespace) -> None:
    """The findings over `flows`: JSON lines after the records with `--export jsonl`, text
    otherwise; on standard error beside CSV records (a CSV reader would take them for rows)."""
    from capture.insights import analyse, format_finding

    out = sys.stderr if args.export == "csv" else sys.stdout
    for finding in analyse(flows, args.thresholds):
        out.write(format_finding(finding, as_json=args.export == "jsonl") + "\n")
    out.flush()


def _say_totals(stats: SourceStats, flows: int, evicted: int, records: int | None) -> None:
    malformed = sum(stats.malformed.values())
    reasons = ", ".join(f"{k}: {v}" for k, v in sorted(stats.malformed.items()))
    parts = [
        f"{stats.frames} frames",
        f"{stats.tcp} TCP segments",
        f"{malformed} malformed" + (f" ({reasons})" if reasons else ""),
        f"{flows} flows",
        f"{evicted} evicted",
    ]
    if stats.kernel_drops or stats.queue_drops:
        parts.append(f"{stats.kernel_drops} kernel drops, {stats.queue_drops} queue drops")
    if records is not None:
        parts.append(f"{records} records written")
    say(", ".join(parts))
