"""The `tcpwatch` command: parse arguments, turn bad input into one line, then run a mode.

Modes: the TUI (default), `--print` (a line per segment), `--export jsonl|csv` (a record per flow),
`--insights` (findings), `-D` (interfaces). Argument parsing stays apart from the App: every
error is reported before any App exists.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Sequence
from typing import NoReturn

from tui.errors import say
from tui.filter_help import filter_help

EXIT_USAGE = 2

EPILOG = f"""\
examples:
  tcpwatch                          watch the default interface live (TUI)
  tcpwatch -i lo -p 8080            watch loopback, showing port 8080 flows
  tcpwatch -r capture.pcap          explore a capture file
  ssh host tcpdump -U -w - | tcpwatch -r -
  tcpwatch -r capture.pcap --print -S          tcpdump-like lines, absolute sequence numbers
  tcpwatch -r capture.pcap --export jsonl      one JSON record per flow (Zeek field names)
  tcpwatch -i lo --export csv --duration 10 -o flows.csv

display filter (-Y EXPR, and / in the TUI):
{filter_help()}

exit status:
  0    success: the TUI was quit, or the whole input was read
  1    a live capture failed, or the output could not be written
  2    bad arguments or filter; a capture file missing, not a capture, or cut short;
       the TUI without a terminal
  141  whoever read the output went away (128 + SIGPIPE)
"""

TCPDUMP_HINTS = {
    "n": "tcpwatch never resolves names or ports, so -n is not needed",
    "v": "for a line per segment use --print; the TUI's flow screen shows every field",
}
"""What tcpdump's habits mean here, by option letter (`-n`, `-nn`, `-vv`, `-nv` ...)."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (`tcpwatch --help` shows the usage)."""

    def error(self, message: str) -> NoReturn:
        say(f"{message} (see tcpwatch --help)")
        sys.exit(EXIT_USAGE)

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> argparse.Namespace:
        """As argparse does, but arguments left over get a hint for tcpdump's habits."""
        parsed, extra = self.parse_known_args(args, namespace)
        if extra:
            hint = tcpdump_hint(extra, reading=bool(getattr(parsed, "read", None)))
            say(f"unrecognized arguments: {' '.join(extra)} (see tcpwatch --help)")
            if hint:
                say("hint: " + hint)
            sys.exit(EXIT_USAGE)
        return parsed


def tcpdump_hint(extra: Sequence[str], reading: bool = False) -> str:
    """One line saying what tcpdump habits among `extra` mean for tcpwatch ("" for none).

    `-n`, `-v` (also doubled, or combined as in `-nr FILE`) and a filter expression written
    after the options, as tcpdump takes it; `reading`: a file is read (no capture filter then).
    """
    hints: list[str] = []
    words: list[str] = []
    rest = list(extra)
    while rest:
        word = rest.pop(0)
        if word.startswith("--"):
            continue  # a long option of no known habit: argparse's line says it
        if not word.startswith("-") or len(word) < 2:
            words.append(word)
            continue
        letters = word[1:]
        for letter in letters:
            text = TCPDUMP_HINTS.get(letter)
            if text and text not in hints:
                hints.append(text)
        kept = [f"-{c}" for c in letters if c not in TCPDUMP_HINTS]
        if kept and len(kept) < len(letters):
            if kept[-1][1] in _VALUED and rest:
                value = rest.pop(0)
                word, kept = f"{word} {value}", [*kept, value]
            hints.append(f"write {word} as {' '.join(kept)}")
    if words and words != ["tcp"]:
        expr = shlex.quote(" ".join(words))
        # Only TCP is shown: a display filter has no `tcp` term (`tcp port 80` -> `port 80`).
        shown = " ".join(
            words[2:] if words[:2] == ["tcp", "and"] else words[words[:1] == ["tcp"] :]
        )
        where = f"-Y {shlex.quote(shown)} selects the flows shown" if shown else ""
        if not reading:
            where = f"-f {expr} filters the live capture (BPF)" + (", " + where if where else "")
        hints.append(f"a filter expression goes after an option: {where}")
    return "; ".join(hints)


_VALUED = frozenset("riwcBfpoY")
"""tcpwatch's one-letter options that take a value (`-nr FILE`: FILE belongs to -r)."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used to document the options in the README)."""
    p = _Parser(
        prog="tcpwatch",
        # Each option's help names its default where it has one (see `-B`, `--max-flows`).
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
    src.add_argument(
        "-B",
        "--buffer",
        metavar="KiB",
        type=int,
        default=32768,
        help="socket buffer in KiB (default %(default)s, live)",
    )
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
    p.add_argument(
        "-V", "--version", action=_VersionAction, help="show program's version number and exit"
    )
    sel = p.add_argument_group("selecting flows (every mode)")
    sel.add_argument("-p", "--port", metavar="N", type=int, action="append", help="port (repeat)")
    sel.add_argument("--host", metavar="ADDR", action="append", help="host address (repeat)")
    sel.add_argument(
        "-Y", "--display-filter", metavar="EXPR", help="display filter expression (see below)"
    )
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
    out.add_argument(
        "--seed",
        metavar="N",
        type=int,
        help="flow uids from seed N, the same on every run (default: a new seed each run, as"
        " Zeek's uids differ between runs)",
    )
    tun = p.add_argument_group("limits and view")
    tun.add_argument(
        "--max-flows",
        metavar="N",
        type=int,
        default=250_000,
        help="flows tracked at most; beyond, closed then idle flows are evicted "
        "(default %(default)s)",
    )
    tun.add_argument(
        "--linger",
        metavar="SECONDS",
        type=float,
        help="closed rows stay this long, dimmed (default 10 live and in a replay; a loaded file"
        " keeps them all)",
    )
    return p


class _VersionAction(argparse.Action):
    """argparse's "version" action, the version looked up only when asked: importlib.metadata
    took a few tens of milliseconds of every run's start-up."""

    def __init__(self, option_strings: Sequence[str], dest: str, help: str | None = None) -> None:
        super().__init__(
            option_strings, argparse.SUPPRESS, nargs=0, default=argparse.SUPPRESS, help=help
        )

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[object] | None,
        option_string: str | None = None,
    ) -> NoReturn:
        sys.stdout.write(f"tcpwatch {_version()}\n")
        parser.exit()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    try:
        return version("tcpwatch")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "(not installed)"


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
    if args.seed is not None and not 0 <= args.seed < 1 << 64:
        p.error("--seed takes a number from 0 to 2**64-1")
    for port in args.port or ():
        if not 0 <= port <= 65535:
            p.error(f"port {port} is out of range")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `tcpwatch` script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    check_arguments(parser, args)
    if args.seed is None:  # one seed for the run: every engine object of it makes the same uids
        args.seed = int.from_bytes(os.urandom(8))  # (`secrets` costs a headless run 5 ms)
    from capture.filterexpr import FilterError, compile_filter
    from capture.native import EngineUnavailable

    expression = selection_expression(args)
    try:
        compile_filter(expression)  # the language is the engine's
    except FilterError as exc:
        say(f"bad display filter {expression!r}: {exc}")
        return EXIT_USAGE
    except EngineUnavailable as exc:
        say(str(exc))
        return 1
    args.thresholds = None  # the defaults; `capture.insights` is imported only when needed
    if args.insight_threshold:
        from capture.insights import thresholds_from

        try:
            args.thresholds = thresholds_from(args.insight_threshold)
        except ValueError as exc:
            say(str(exc))
            return EXIT_USAGE
    if args.list_interfaces:
        from capture.native import load

        try:
            print("\n".join(load().interface_lines()), flush=True)
        except BrokenPipeError:  # `tcpwatch -D | head`: end as SIGPIPE would, quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 141
        return 0
    try:
        return _run_mode(args, expression)
    except EngineUnavailable as exc:
        say(str(exc))
        return 1


def _run_mode(args: argparse.Namespace, expression: str) -> int:
    if args.print or args.export or args.insights:
        from tui.headless import run_headless

        return run_headless(args, expression)
    from tui.run import run_tui

    return run_tui(args, expression)


if __name__ == "__main__":
    sys.exit(main())
