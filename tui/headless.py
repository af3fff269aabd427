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
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from typing import Any, TextIO

from capture.export import CsvWriter, JsonlWriter, make_writer
from capture.filterexpr import compile_filter
from capture.flows import Flow, FlowTracker
from capture.pcapio import CaptureError
from capture.printer import SegmentPrinter
from capture.segment import Segment
from capture.sources import Source, SourceStats
from tui.errors import say
from tui.run import SourceError, load_before_drop, make_source

INSIGHT_FRAMES = 1
POLL_BATCH = 4096
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
    """A live capture headless (the Python pipeline, until the engine's sniffer takes it)."""
    selected = compile_filter(expression)
    with ExitStack() as stack:
        try:
            out = _open_output(args, stack)
        except OSError as exc:
            say(f"cannot write {args.output}: {exc.strerror}")
            return 2
        writer = make_writer(args.export, out) if args.export else None
        tracker = FlowTracker(
            max_flows=args.max_flows,
            # --insights reads handshake and teardown frames (RST with data, a SYN/ACK's ack):
            # a one-frame ring keeps those pinned; plain print/export keeps none.
            frames_per_flow=INSIGHT_FRAMES if args.insights else 0,
            on_evict=_exporter(writer, selected) if writer else None,
            # Live flows stay to the end: they are annotated with their processes then.
            linger=None,
            # A flow that has seen one SYN only (a flood's, a scan's) stays packed until it
            # grows or is exported: a flood's memory is ~275 B a flow instead of ~2.3 KB.
            # (--print needs each segment's flow at once, so it never makes embryos.)
            embryos=not args.insights,
        )
        printer = SegmentPrinter(absolute=args.absolute) if args.print else None
        load_before_drop(args, ui=False)  # the live start may drop root
        try:
            segments, stats, finish, annotate = _segments(args, stop, tracker)
        except (CaptureError, SourceError) as exc:
            say(str(exc))
            return 2
        # The live source sees the signal itself and still hands over what it had captured
        # before it (`_polled`).
        try:
            _track(segments, tracker, printer, selected, threading.Event())
            error = finish()
            tracker.finish()
            if writer is not None:
                export = _exporter(writer, selected)
                for flow in tracker.iter_flows():
                    annotate(flow)  # live: the processes owning each end (pid_*/proc_*)
                    export(flow)
                writer.close()
            if args.insights:
                _print_insights(tracker, args, out if writer is None else sys.stdout)
        except BrokenPipeError:
            # Whoever read our output is gone (`tcpwatch ... | head`): end as quietly as a
            # command that SIGPIPE ends, with the source stopped (a -w pcap flushed).
            finish()
            _silence_stdout()
            return 128 + signal.SIGPIPE
        except OSError as exc:  # the output cannot be written (disk full, quota, I/O error)
            finish()
            _silence_stdout()
            say(f"cannot write {args.output or 'standard output'}: {exc.strerror or exc}")
            return 1
        _print_totals(stats(), tracker, writer)
        if error:
            say(error)
            return 2
    return 0


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


def _open_output(args: argparse.Namespace, stack: ExitStack) -> TextIO:
    if args.output:
        return stack.enter_context(open(args.output, "w", encoding="utf-8", newline=""))
    return sys.stdout


def _segments(
    args: argparse.Namespace, stop: _Stop, tracker: FlowTracker
) -> tuple[
    Iterable[list[Segment]], Callable[[], SourceStats], Callable[[], str], Callable[[Flow], None]
]:
    """A live source's segments (in batches), a way to read the counters, a `finish` giving a
    final error, and `annotate` (sets the owning processes on a flow)."""
    source = make_source(args)
    try:
        source.start()
    except Exception as exc:  # e.g. LiveError: opening the socket or -w failed (one line)
        raise SourceError(str(exc)) from None
    annotate = getattr(source, "annotate", lambda flow: None)
    # our listening sockets orient flows already under way
    tracker.listen_ports = getattr(source, "listen_ports", tracker.listen_ports)
    return _polled(source, stop), source.stats, lambda: _finish_source(source), annotate


def _polled(source: Source, stop: _Stop) -> Iterator[list[Segment]]:
    while not stop.event.is_set():
        batch = source.poll(POLL_BATCH)
        yield batch
        if source.error or (source.finished and not batch):
            return
        if not batch:
            stop.event.wait(POLL_WAIT)
    source.stop()  # after a signal, what was captured before it still counts
    while batch := source.poll(POLL_BATCH):
        yield batch


def _finish_source(source: Source) -> str:
    source.stop()
    return source.error or ""


def _track(
    batches: Iterable[list[Segment]],
    tracker: FlowTracker,
    printer: SegmentPrinter | None,
    selected: Callable[[Any], bool],
    stop: threading.Event,
) -> None:
    """Feed the tracker (and print) batch by batch until the input ends or `stop` is set."""
    ingest, add = tracker.ingest, tracker.add
    write = sys.stdout.write
    for batch in batches:
        if stop.is_set():
            return
        if printer is None:
            for seg in batch:
                add(seg)
            continue
        for seg in batch:
            flow = ingest(seg)
            if selected(flow):
                write(printer.line(seg, flow) + "\n")
        # Once per batch: a live batch is what arrived since the last poll, so lines still
        # stream as they come (a pipe sees them at once) without a write per line.
        sys.stdout.flush()


def _exporter(
    writer: JsonlWriter | CsvWriter | None, selected: Callable[[Any], bool]
) -> Callable[[Flow], None]:
    def export(flow: Flow) -> None:
        if writer is not None and selected(flow):
            writer.write(flow.record())

    return export


def _write_insights(flows: list[Any], args: argparse.Namespace) -> None:
    """The findings over `flows`: JSON lines after the records with `--export jsonl`, text
    otherwise; on standard error beside CSV records (a CSV reader would take them for rows)."""
    from capture.insights import analyse, format_finding

    out = sys.stderr if args.export == "csv" else sys.stdout
    for finding in analyse(flows, args.thresholds):
        out.write(format_finding(finding, as_json=args.export == "jsonl") + "\n")
    out.flush()


def _print_insights(tracker: FlowTracker, args: argparse.Namespace, out: TextIO) -> None:
    try:
        from capture.insights import analyse, format_finding
    except ImportError:
        say("--insights is not available in this build")
        return
    for finding in analyse(tracker.all_flows(), args.thresholds):
        out.write(format_finding(finding, as_json=args.export == "jsonl") + "\n")


def _print_totals(
    stats: SourceStats, tracker: FlowTracker, writer: JsonlWriter | CsvWriter | None
) -> None:
    records = None if writer is None else writer.count
    _say_totals(stats, tracker.flow_count, tracker.evicted, records)


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
