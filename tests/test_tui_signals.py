"""The real `tcpwatch` TUI in a pseudo-terminal, ended as people end it: SIGHUP, SIGTERM, SIGINT,
or the terminal window closed. It exits promptly and cleanly, leaves the terminal as it found it,
and a live capture's `-w` pcap holds every frame captured before the signal."""

from __future__ import annotations

import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import termios
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from captures import pcap_records
from live_traffic import (
    TCPWATCH,
    RstMarker,
    Tcpdump,
    capturing,
    echo_server,
    exchange,
    needs_root,
    needs_tcpdump,
    proc_uid,
    wait_until,
)

REPO = Path(__file__).resolve().parent.parent
SMALL = "tests/data/chrissanders_tcp_handshake.pcapng"
ENTER_ALT, LEAVE_ALT = b"\x1b[?1049h", b"\x1b[?1049l"
# What Textual 8.2.8 writes last (LinuxDriver.stop_application_mode): leave the alternate
# screen, show the cursor, then only mode resets (focus and mouse reporting off), no drawing.
RESTORED = re.compile(rb"\x1b\[\?1049l\x1b\[\?25h(?:\x1b\[\?\d+[hl])*\Z")
EXIT_BOUND = 15.0
"""Seconds a signalled tcpwatch may take to exit (~0.3 s measured; the rest is load headroom)."""
# Loaded into the child to record exceptions that could not be printed (its terminal is gone).
HOOK = """
import sys, threading, traceback
def _log(what, exc):
    with open(%r, "a") as fh:
        fh.write(what + ": " + "".join(traceback.format_exception(exc)))
_main = sys.excepthook
sys.excepthook = lambda t, e, tb: (_log("main", e), _main(t, e, tb))
threading.excepthook = lambda a: _log("thread " + str(a.thread and a.thread.name), a.exc_value)
"""


class Terminal:
    """A pseudo-terminal running `tcpwatch ARGS` as its controlling process, 100x30."""

    def __init__(
        self,
        args: list[str],
        hook_dir: Path,
        env: dict[str, str] | None = None,
        stdin_data: bytes | None = None,
    ) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        self.attrs_before = termios.tcgetattr(self.master)
        self.errors = hook_dir / "exceptions.log"
        (hook_dir / "sitecustomize.py").write_text(HOOK % str(self.errors))
        env = dict(os.environ, **(env or {}), TERM="xterm-256color", PYTHONPATH=str(hook_dir))
        # With `stdin_data`, standard input is a pipe carrying it (as `... | tcpwatch -r -`) and
        # the pty is the controlling terminal through standard output only.
        self.proc = subprocess.Popen(
            [*TCPWATCH, *args], cwd=REPO, env=env, stdout=slave, stderr=slave,
            stdin=slave if stdin_data is None else subprocess.PIPE,
            start_new_session=True, preexec_fn=_take_terminal,
        )  # fmt: skip
        os.close(slave)
        if stdin_data is not None:
            assert self.proc.stdin is not None
            self.proc.stdin.write(stdin_data)
            self.proc.stdin.close()
        self.output = b""
        self.closed = False

    def read_until(self, cond: Callable[[bytes], bool], timeout: float) -> bool:
        """Read the screen stream until `cond(output)` holds, the stream ends, or `timeout`."""
        end = time.monotonic() + timeout
        while not cond(self.output) and (left := end - time.monotonic()) > 0:
            ready, _, _ = select.select([self.master], [], [], min(left, 0.2))
            if ready and not self._read():
                break
        return cond(self.output)

    def drawn(self, text: bytes, timeout: float = 30) -> bool:
        """Wait until `text` appears on the alternate screen (the App has drawn it)."""
        return self.read_until(lambda out: text in out.partition(ENTER_ALT)[2], timeout)

    def finish(self) -> int:
        """Read to the end of the stream, then the exit status (bounded)."""
        if not self.closed:
            self.read_until(lambda _out: False, EXIT_BOUND)
        return self.proc.wait(timeout=EXIT_BOUND)

    def close(self) -> None:
        """Close the terminal (as a terminal window closing does): the kernel hangs it up."""
        if not self.closed:
            self.closed = True
            os.close(self.master)

    def stop(self) -> None:
        """Kill what is still running and close the terminal (also after a failed test)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.close()

    def exceptions(self) -> str:
        """Uncaught exceptions of any thread of the child, as it recorded them."""
        return self.errors.read_text() if self.errors.exists() else ""

    def _read(self) -> bool:
        try:
            data = os.read(self.master, 1 << 16)
        except OSError:  # EIO: every slave descriptor is closed (the child has exited)
            return False
        self.output += data
        return bool(data)


def _take_terminal() -> None:
    """In the child, after setsid: make the pty its controlling terminal, as a login shell's."""
    fcntl.ioctl(1, termios.TIOCSCTTY, 0)


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Callable[[list[str]], Terminal]]:
    """Start `tcpwatch ARGS` in a pseudo-terminal; everything started is stopped afterwards."""
    started: list[Terminal] = []

    def start(
        args: list[str], env: dict[str, str] | None = None, stdin_data: bytes | None = None
    ) -> Terminal:
        started.append(Terminal(args, tmp_path, env, stdin_data))
        return started[-1]

    yield start
    for term in started:
        term.stop()


def _assert_restored(term: Terminal) -> None:
    """The stream ends by leaving the alternate screen, and the line discipline is back."""
    assert RESTORED.search(term.output), term.output[-300:]
    after = termios.tcgetattr(term.master)
    assert after[3] & (termios.ECHO | termios.ICANON) == term.attrs_before[3] & (
        termios.ECHO | termios.ICANON
    )
    assert after[3] == term.attrs_before[3] and after[0] == term.attrs_before[0]


@pytest.mark.parametrize(
    "sig", [signal.SIGHUP, signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name
)
def test_signal_restores_the_terminal(terminal, sig: signal.Signals) -> None:
    """A file in the TUI, then a signal: exit 0 in bounded time, no traceback, terminal restored."""
    # GIVEN the TUI showing a capture it has read to the end
    term = terminal(["-r", SMALL])
    assert term.drawn("■ END".encode()), term.output[-500:]
    assert termios.tcgetattr(term.master)[3] & termios.ECHO == 0  # raw mode while it runs
    # WHEN the signal arrives
    started = time.monotonic()
    term.proc.send_signal(sig)
    status = term.finish()
    # THEN
    assert time.monotonic() - started < EXIT_BOUND
    assert status == 0
    assert b"Traceback" not in term.output and not term.exceptions()
    _assert_restored(term)


def test_closing_the_terminal_ends_the_tui(terminal) -> None:
    """The terminal goes away under the TUI: it exits 0 within the bound (it used to hang on its
    dead output), and no thread of it raised."""
    term = terminal(["-r", SMALL])
    assert term.drawn("■ END".encode()), term.output[-500:]
    started = time.monotonic()
    term.close()
    status = term.proc.wait(timeout=EXIT_BOUND)
    assert time.monotonic() - started < EXIT_BOUND
    assert status == 0
    assert not term.exceptions()


def _frames(path: Path) -> list[bytes]:
    return [data for _ts, _wire, data, _lt in pcap_records(path)]


@pytest.mark.live
@needs_root
@needs_tcpdump
@pytest.mark.parametrize("how", ["SIGHUP", "SIGTERM", "terminal closed"])
def test_live_capture_with_w_is_flushed_on_exit(terminal, tmp_path: Path, how: str) -> None:
    """`tcpwatch -i lo -w FILE` in the TUI, traffic, then the end: FILE is a valid pcap holding
    every frame tcpdump saw, including the last ones (written less than a flush period before)."""
    pcap, ref = tmp_path / "tui.pcap", tmp_path / "ref.pcap"
    marker = RstMarker("127.0.0.1")
    with echo_server("127.0.0.1") as port:
        expr = f"tcp port {port} or tcp port {marker.port}"
        term = terminal(["-i", "lo", "-w", str(pcap), "-f", expr])
        assert wait_until(lambda: capturing(term.proc.pid) or term.proc.poll() is not None, 20)
        assert term.drawn("● LIVE".encode()), term.output[-500:]
        dump = Tcpdump("lo", expr, str(ref))
        try:
            for n in range(3):
                exchange("127.0.0.1", port, b"signal test %d" % n)
            marker.fire()  # the last packet: once tcpdump has it, the kernel has handed out all
            assert wait_until(lambda: dump.saw_rst_to(marker.port), 10)
        finally:
            dump.stop()
        # WHEN it is ended right away, before its next periodic flush could write the tail
        if how == "terminal closed":
            term.close()
            status = term.proc.wait(timeout=EXIT_BOUND)
        else:
            term.proc.send_signal(getattr(signal, how))
            status = term.finish()
            _assert_restored(term)
    assert status == 0
    assert not term.exceptions()
    read = subprocess.run(["tcpdump", "-nr", str(pcap)], capture_output=True, text=True, timeout=20)
    assert read.returncode == 0, read.stderr
    assert _frames(pcap) == _frames(ref)
    assert len(read.stdout.splitlines()) == len(_frames(ref)) >= 3 * 8


@pytest.mark.live
@needs_root
@needs_tcpdump
def test_signal_while_starting_up_leaves_a_valid_pcap(terminal, tmp_path: Path) -> None:
    """SIGTERM as soon as the packet socket is open (the sniffer already writes `-w`, the App is
    not drawn yet): exit 0, a valid pcap, and the terminal either untouched or restored."""
    pcap = tmp_path / "early.pcap"
    term = terminal(["-i", "lo", "-w", str(pcap), "-f", "tcp port 9"])
    assert wait_until(lambda: capturing(term.proc.pid) or term.proc.poll() is not None, 20, 0.001)
    term.proc.send_signal(signal.SIGTERM)
    assert term.finish() == 0
    assert b"Traceback" not in term.output and not term.exceptions()
    if ENTER_ALT in term.output:  # the App was quicker than the signal on this machine
        _assert_restored(term)
    read = subprocess.run(["tcpdump", "-nr", str(pcap)], capture_output=True, text=True, timeout=20)
    assert read.returncode == 0, read.stderr


@pytest.mark.live
@needs_root
def test_every_screen_opens_after_the_drop_to_the_sudo_user(terminal) -> None:
    """Run through sudo, the TUI drops to the invoking user once the socket is open; every
    screen it opens afterwards (flow, frame inspector, insights, help) must still load, even
    when that user cannot read the Python installation (here: nobody and a pyenv under /root),
    and `q` exits cleanly."""
    with echo_server("127.0.0.1") as port:
        term = terminal(
            ["-i", "lo", "-f", f"tcp port {port}"], env={"SUDO_UID": "65534", "SUDO_GID": "65534"}
        )
        assert term.drawn(b"LIVE"), term.output[-2000:]
        assert wait_until(lambda: proc_uid(term.proc.pid) == 65534, 10)
        exchange("127.0.0.1", port, b"after the drop")
        assert term.drawn(f":{port}".encode())
        for keys, marker in (
            (b"\r", b"negotiated"),  # the flow screen
            (b"\x1b[B\r", b"Frame"),  # the second segment in the frame inspector
            (b"\x1b", None),
            (b"i", b"over 1 flow"),  # the insights screen's summary
            (b"\x1b", None),
            (b"?", b"tcpwatch \xe2\x80\x94 keys"),  # help
            (b"\x1b", None),
        ):
            seen = len(term.output)
            os.write(term.master, keys)
            if marker is not None:
                found = term.read_until(lambda out, m=marker, at=seen: m in out[at:], 15)
                assert found, (keys, marker)
            else:
                term.read_until(lambda _out: False, 0.5)
        os.write(term.master, b"q")
        assert term.finish() == 0
    assert b"Traceback" not in term.output and b"Error" not in term.output


def test_a_capture_piped_in_leaves_the_keys_to_the_terminal(terminal) -> None:
    """`ssh host tcpdump -U -w - | tcpwatch -r -`: the capture comes on standard input, the keys
    from the terminal (before: the App read the pcap as keystrokes and the reader saw garbage)."""
    data = (REPO / "tests/data/zeek_nmap-vsn.pcap").read_bytes()
    term = terminal(["-r", "-", "-p", "443"], stdin_data=data)
    assert term.drawn(b"192.168.1.63:443"), term.output[-2000:]
    assert term.drawn(b"END")
    os.write(term.master, b"q")
    assert term.finish() == 0
    assert RESTORED.search(term.output)
    assert b"Traceback" not in term.output and b"corrupt" not in term.output
