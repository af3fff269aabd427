"""What `tcpwatch` says about itself: --version, --help's defaults, filter grammar and exit
statuses, hints for tcpdump's habits, and one line (not a spinning TUI) without a terminal."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from capture import filterexpr
from tui.filter_help import FILTER_KEYWORDS, FILTER_TERMS

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent
ENV = {"TZ": "UTC", "PATH": "/usr/bin:/bin"}


def tcpwatch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args], capture_output=True, text=True, cwd=ROOT,
        timeout=60, env=ENV, stdin=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(flag: str) -> None:
    """`--version` and `-V` print the installed version and exit 0."""
    run = tcpwatch(flag)
    assert run.returncode == 0
    assert run.stdout.strip() == f"tcpwatch {version('tcpwatch')}"


def test_help_shows_defaults_filter_grammar_and_exit_statuses() -> None:
    """--help names -B's and --max-flows' defaults, every filter term, and the exit statuses."""
    run = tcpwatch("--help")
    assert run.returncode == 0
    text = " ".join(run.stdout.split())
    assert "socket buffer in KiB (default 32768" in text
    assert "(default 250000)" in text
    for keyword in FILTER_KEYWORDS:
        assert f" {keyword} " in text, keyword
    assert "exit status:" in text
    for status in ("0 success", "1 a live capture failed", "2 bad arguments", "141 "):
        assert status in text, status


def test_filter_help_lists_every_term_the_parser_accepts() -> None:
    """The help's list of filter terms is the parser's list."""
    assert set(FILTER_KEYWORDS) == set(filterexpr.keywords())
    listed = " ".join(term for term, _ in FILTER_TERMS).split()
    assert set(FILTER_KEYWORDS) <= set(listed)


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (["-n", "-r", "x.pcap"], "tcpwatch never resolves names or ports, so -n is not needed"),
        (["-nn", "-r", "x.pcap"], "tcpwatch never resolves names or ports"),
        (["-vv", "-r", "x.pcap"], "for a line per segment use --print"),
        (["-nr", "x.pcap"], "write -nr x.pcap as -r x.pcap"),
        (["-i", "lo", "tcp", "port", "80"], "-f 'tcp port 80' filters the live capture (BPF)"),
        (["-r", "x.pcap", "port", "80"], "-Y 'port 80' selects the flows shown"),
    ],
)
def test_tcpdump_habits_get_a_hint(args: list[str], hint: str) -> None:
    """tcpdump's -n, -v and a trailing BPF expression: argparse's line, then a hint line."""
    run = tcpwatch(*args)
    assert run.returncode == 2
    lines = run.stderr.splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith("tcpwatch: unrecognized arguments: ")
    assert lines[1].startswith("tcpwatch: hint: ") and hint in lines[1], lines[1]


def test_an_unknown_long_option_gets_no_hint() -> None:
    run = tcpwatch("--bogus")
    assert run.returncode == 2
    assert run.stderr.splitlines() == [
        "tcpwatch: unrecognized arguments: --bogus (see tcpwatch --help)"
    ]


def test_tui_without_a_terminal_is_one_line(tmp_path: Path) -> None:
    """`tcpwatch -r x.pcap </dev/null >out 2>err` from a script without a terminal: one line
    and status 2, at once (it used to spin writing escape codes into err)."""
    out, err = tmp_path / "out", tmp_path / "err"
    with out.open("w") as o, err.open("w") as e:
        run = subprocess.run(
            [sys.executable, "-m", "tui.cli", "-r", str(DATA / "zeek_nmap-vsn.pcap")],
            stdin=subprocess.DEVNULL, stdout=o, stderr=e, cwd=ROOT, env=ENV, timeout=30,
            start_new_session=True,
        )  # fmt: skip
    assert run.returncode == 2
    assert out.read_text() == ""
    lines = err.read_text().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tcpwatch: the TUI needs a terminal"), lines
    assert "--print or --export" in lines[0]


def test_tui_drawing_into_a_file_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys from a terminal but standard error sent to a file: refused, with the reason."""
    from tui import terminal

    monkeypatch.setattr(terminal.os, "isatty", lambda fd: fd == 0)
    assert "draws on standard error" in terminal.terminal_problem()
    monkeypatch.setattr(terminal.os, "isatty", lambda fd: fd == 2)
    assert "needs a terminal for its keys" in terminal.terminal_problem()
    monkeypatch.setattr(terminal.os, "isatty", lambda fd: True)
    assert terminal.terminal_problem() == ""


def test_a_source_error_comes_before_the_terminal_check() -> None:
    """Without a terminal, a capture file that does not exist is still what is reported."""
    run = tcpwatch("-r", "/nonexistent/x.pcap")
    assert run.returncode == 2
    lines = run.stderr.splitlines()
    assert len(lines) == 1 and "x.pcap" in lines[0], lines
