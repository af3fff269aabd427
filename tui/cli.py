"""The `tcpwatch` command: parse arguments, turn bad input into one line, then run a mode.

Modes: the TUI (default), `--print` (a line per segment), `--export jsonl|csv` (a record per flow),
`--insights` (findings), `-D` (interfaces). Argument parsing stays apart from the App: every
error is reported before any App exists.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from tui.errors import say

EXIT_USAGE = 2

EPILOG = """\
examples:
  tcpwatch                          watch the default interface live (TUI)
  tcpwatch -i lo -p 8080            watch loopback, showing port 8080 flows
  tcpwatch -r capture.pcap          explore a capture file
  ssh host tcpdump -U -w - | tcpwatch -r -
  tcpwatch -r capture.pcap --print -S          tcpdump-like lines, absolute sequence numbers
  tcpwatch -r capture.pcap --export jsonl      one JSON record per flow (Zeek field names)
  tcpwatch -i lo --export csv --duration 10 -o flows.csv
"""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (`tcpwatch --help` shows the usage)."""

    def error(self, message: str) -> NoReturn:
        say(f"{message} (see tcpwatch --help)")
        sys.exit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used to document the options in the README)."""
    p = _Parser(
        prog="tcpwatch",
        description="Watch TCP connections and explain their handshakes and teardowns.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    src = p.add_argument_group("source")
    src.add_argument("-r", "--read", metavar="FILE", help="read a pcap/pcapng file ('-' = stdin)")
    src.add_argument("-i", "--interface", metavar="IFACE", help="capture live on IFACE ('any' ok)")
    src.add_argument("-D", "--list-interfaces", action="store_true", help="list interfaces")
    src.add_argument(
        "-f", "--filter", metavar="EXPR", help="BPF capture filter (live), ANDed with tcp"
    )
    src.add_argument("-B", "--buffer", metavar="KiB", type=int, default=32768, help="socket buffer")
    src.add_argument("-w", "--write", metavar="FILE", help="write captured frames to a pcap (live)")
    src.add_argument("-c", "--count", metavar="N", type=int, help="stop after N frames (live)")
    src.add_argument("--duration", metavar="SECONDS", type=float, help="stop after SECONDS (live)")
    src.add_argument("--no-drop-privileges", action="store_true", help="stay root after opening")
    src.add_argument(
        "--replay",
        metavar="SPEED",
        type=float,
        nargs="?",
        const=1.0,
        help="play -r FILE at its pace",
    )
    sel = p.add_argument_group("selecting flows (every mode)")
    sel.add_argument("-p", "--port", metavar="N", type=int, action="append", help="port (repeat)")
    sel.add_argument("--host", metavar="ADDR", action="append", help="host address (repeat)")
    sel.add_argument("-Y", "--display-filter", metavar="EXPR", help="display filter expression")
    out = p.add_argument_group("headless output")
    out.add_argument("--print", action="store_true", help="one tcpdump-like line per segment")
    out.add_argument("-S", "--absolute", action="store_true", help="absolute sequence numbers")
    out.add_argument("--export", choices=("jsonl", "csv"), help="one record per flow at the end")
    out.add_argument("-o", "--output", metavar="FILE", help="write the export to FILE")
    out.add_argument("--insights", action="store_true", help="print findings (with --export jsonl)")
    out.add_argument(
        "--insight-threshold",
        metavar="NAME=VALUE",
        action="append",
        default=[],
        help="change an insight threshold (repeat), e.g. scan_min_flows=20",
    )
    tun = p.add_argument_group("limits and view")
    tun.add_argument("--max-flows", metavar="N", type=int, default=250_000, help="flows tracked")
    tun.add_argument(
        "--linger",
        metavar="SECONDS",
        type=float,
        help="closed rows stay this long, dimmed (default 10 live and in a replay; a loaded file"
        " keeps them all)",
    )
    return p


def selection_expression(args: argparse.Namespace) -> str:
    """-p, --host and -Y combined into one display-filter expression."""
    terms = []
    if args.port:
        terms.append(" or ".join(f"port {p}" for p in args.port))
    if args.host:
        terms.append(" or ".join(f"host {h}" for h in args.host))
    if args.display_filter:
        terms.append(args.display_filter)
    if len(terms) == 1:
        return terms[0]
    return " and ".join(f"({t})" for t in terms)


def check_arguments(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Reject contradictory or out-of-range options with one line (exit 2)."""
    if args.read and args.interface:
        p.error("use -r FILE or -i IFACE, not both")
    if args.read and (args.write or args.count or args.duration or args.filter):
        p.error("-w, -c, --duration and -f apply to live capture, not to -r FILE")
    if args.replay is not None and (not args.read or args.replay <= 0):
        p.error("--replay needs -r FILE and a positive speed")
    if args.buffer <= 0 or (args.count is not None and args.count <= 0):
        p.error("-B and -c take positive numbers")
    if args.linger is not None and args.linger < 0:
        p.error("--linger takes a number of seconds, 0 or more")
    if args.max_flows < 1:
        p.error("--max-flows must be at least 1")
    if args.output and not args.export:
        p.error("-o FILE goes with --export")
    for port in args.port or ():
        if not 0 <= port <= 65535:
            p.error(f"port {port} is out of range")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `tcpwatch` script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    check_arguments(parser, args)
    from capture.filterexpr import FilterError, compile_filter

    expression = selection_expression(args)
    try:
        compile_filter(expression)
    except FilterError as exc:
        say(f"bad display filter {expression!r}: {exc}")
        return EXIT_USAGE
    from capture.insights import thresholds_from

    try:
        args.thresholds = thresholds_from(args.insight_threshold)
    except ValueError as exc:
        say(str(exc))
        return EXIT_USAGE
    if args.list_interfaces:
        from capture.ifaces import list_interfaces

        print("\n".join(list_interfaces()))
        return 0
    if args.print or args.export or args.insights:
        from tui.headless import run_headless

        return run_headless(args, expression)
    from tui.run import run_tui

    return run_tui(args, expression)


if __name__ == "__main__":
    sys.exit(main())
