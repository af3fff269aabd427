"""Terminal safety: a capture full of escape sequences, C1 controls, BEL, markup and bidi
overrides (tests/data/make_hostile.py) must not reach any output raw.

Headless: `--print`, `--export jsonl|csv`, `--insights`, and the one-line errors (file names are
untrusted too). TUI: the raw terminal stream the compositor would write for the main screen and
for the flow screen with the hostile frame open in the inspector and the hex dump.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from captures import engine

from capture.safetext import csv_cell

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"
HOSTILE = [DATA / "hostile.pcap", DATA / "hostile.pcapng"]
HOSTILE_NAME = "evil\x1b]0;title\x07[bold]\u202e\x9b2J.pcap"

# Anything a terminal would act on: C0 controls but newline, DEL, C1, and the bidi/separator set.
RAW_CONTROL = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]"
)


def _load_generator():  # noqa: ANN202 - a module object
    spec = importlib.util.spec_from_file_location("make_hostile", DATA / "make_hostile.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def assert_clean(raw: bytes, what: str) -> str:
    """Valid UTF-8 (a stray 0x9b byte is CSI to an 8-bit terminal) without any raw control."""
    text = raw.decode("utf-8")  # raises on raw C1 bytes
    bad = RAW_CONTROL.search(text)
    if bad is not None:
        near = text[max(0, bad.start() - 40) : bad.start() + 40]
        pytest.fail(f"{what}: raw {bad.group()!r} at {bad.start()}: {near!r}")
    return text


def run_cli(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args],
        cwd=ROOT,
        capture_output=True,
        timeout=60,
        check=False,
    )


def test_committed_captures_match_their_generator() -> None:
    """hostile.pcap/.pcapng are exactly what make_hostile.py writes (no hand edits, no drift)."""
    gen = _load_generator()
    frames = gen.frames()
    assert (DATA / "hostile.pcap").read_bytes() == gen.pcap(frames)
    assert (DATA / "hostile.pcapng").read_bytes() == gen.pcapng(frames)
    assert all(b"\x1b]0;" in f for f in frames if len(f) > 200)


MODES = [
    ["--print"],
    ["--print", "-S"],
    ["--export", "jsonl"],
    ["--export", "csv"],
    ["--insights", "--export", "jsonl"],
]


@pytest.mark.parametrize("capture", HOSTILE, ids=lambda p: p.suffix)
@pytest.mark.parametrize("mode", MODES, ids=lambda m: " ".join(m))
def test_headless_output_has_no_raw_control(capture: Path, mode: list[str]) -> None:
    """Every headless mode over the hostile capture: clean stdout and stderr, every flow seen."""
    proc = run_cli("-r", str(capture), *mode)
    assert proc.returncode == 0, proc.stderr
    out = assert_clean(proc.stdout, "stdout")
    assert_clean(proc.stderr, "stderr")
    assert "10.66.0.1" in out and "fd00::1" in out  # the flows were really there


@pytest.mark.parametrize("cut", [0, 7, 1000], ids=["missing", "not-a-capture", "cut-short"])
def test_hostile_file_name_in_errors_is_escaped(tmp_path: Path, cut: int) -> None:
    """One-line errors and warnings name the file, escaped."""
    path = tmp_path / HOSTILE_NAME
    if cut:
        data = (DATA / "hostile.pcap").read_bytes()
        path.write_bytes(data[:cut] if cut == 1000 else b"garbage")
    proc = run_cli("-r", str(path), "--print")
    assert proc.returncode == 2
    err = assert_clean(proc.stderr, "stderr")
    assert "evil" in err


@pytest.mark.parametrize("cell", ['=HYPERLINK("http://x")', "+1+1", "-2", "@SUM(A1)", "\t=1"])
def test_csv_cells_are_not_formulas(cell: str) -> None:
    """A spreadsheet must not evaluate a cell: leading = + - @ (and tab) are neutralised."""
    assert csv_cell(cell)[0] not in "=+-@\t\r"


# ---- TUI ------------------------------------------------------------------------------------

SIZE = (160, 50)
TIMEOUT = 15.0


async def _until(pilot, cond, what: str) -> None:  # noqa: ANN001
    deadline = time.monotonic() + TIMEOUT
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.02)


def terminal_stream(app) -> str:  # noqa: ANN001
    """What the App would write to the terminal for a full redraw of the current screen."""
    return app.screen._compositor.render_full_update().render_segments(app.console)


def assert_terminal_clean(stream: str, where: str) -> None:
    """The App's own CSI sequences are fine; anything from the capture must not be raw."""
    for bad in ("\x07", "\x1b]", "\x1bP", "\x1b\\", "\x1b[2J", "\x1b[H", "\x00", "\x7f", "\r"):
        assert bad not in stream, f"{where}: {bad!r} reached the terminal"
    assert not re.search("[\x80-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]", stream), where
    # every ESC left must start one of the App's own CSI sequences
    for m in re.finditer("\x1b", stream):
        assert re.match(r"\x1b\[[0-9;?]*[A-Za-z]", stream[m.start() :]), (
            where,
            stream[m.start() : m.start() + 12],
        )


def assert_no_live_markup(widget) -> None:  # noqa: ANN001
    """No segment of a widget carries a link or click action taken from the capture."""
    for y in range(widget.size.height):
        for seg in widget.render_line(y):
            style = seg.style
            if style is None:
                continue
            assert not (style.link and "evil" in style.link), style.link
            click = (style.meta or {}).get("@click", "")
            assert "app.quit" not in str(click), click


async def test_tui_shows_the_hostile_capture_escaped() -> None:
    """Main screen, then the flow screen with the hostile frames in the inspector and hex dump."""
    from tui.app import TcpwatchApp
    from tui.flow_screen import FlowScreen
    from widgets.hexdump import HexDump
    from widgets.inspector import Inspector

    app = TcpwatchApp(*engine(str(HOSTILE[0])), linger=1e9)
    async with app.run_test(size=SIZE) as pilot:
        await _until(pilot, lambda: app.drain.finished and app.ticks > 2, "the file loaded")
        await pilot.pause()
        assert_terminal_clean(terminal_stream(app), "main screen")
        for frame_no in (1, 4, 5):  # the SYN with the evil option, client data, server data
            app.push_screen(FlowScreen(app.tracker, 1, select_frame=frame_no))
            await _until(
                pilot,
                lambda n=frame_no: isinstance(app.screen, FlowScreen) and app.screen.inspected == n,
                f"frame {frame_no} inspected",
            )
            await pilot.pause()
            screen = app.screen
            inspector, hexdump = screen.query_one(Inspector), screen.query_one(HexDump)
            await _until(
                pilot, lambda i=inspector, h=hexdump: i.lines and h.data, "inspector filled"
            )
            await pilot.pause()
            stream = terminal_stream(app)
            assert_terminal_clean(stream, f"flow screen, frame {frame_no}")
            assert_no_live_markup(inspector)
            assert_no_live_markup(hexdump)
            if frame_no == 5:  # markup is shown as the text it is, not applied
                texts = [inspector.line_text(i) for i in range(len(inspector.lines))]
                row = next(i for i, t in enumerate(texts) if t.startswith("  text: "))
                inspector.scroll_to(y=row, animate=False)
                await pilot.pause()
                shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", terminal_stream(app))
                assert "text: [bold]BOLD[/bold] [link=https://evil.example]LINK[/link]" in shown
                assert "......[bold]BOLD" in shown  # the hex dump's ASCII column
                assert_no_live_markup(inspector)
            app.pop_screen()
            await pilot.pause()
