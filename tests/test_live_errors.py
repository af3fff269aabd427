"""Live capture's failures through the real CLI: one line on stderr, non-zero exit, no traceback;
and the privilege drop after the socket is open."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from captures import pcap_records
from live_traffic import (
    NOBODY,
    TCPWATCH,
    capturing,
    echo_server,
    exchange,
    needs_root,
    proc_uid,
    wait_until,
)

from capture.pcapio import CaptureError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIBPCAP = "/usr/lib/x86_64-linux-gnu/libpcap.so.0.8"


def _run(args: list[str], prefix: list[str] | None = None) -> tuple[int, list[str]]:
    proc = subprocess.run(
        [*(prefix or []), *TCPWATCH, *args], capture_output=True, text=True, timeout=30, cwd=REPO
    )
    return proc.returncode, proc.stderr.splitlines()


def _one_line_error(rc: int, err: list[str]) -> str:
    assert rc != 0
    assert len(err) == 1, err
    assert "Traceback" not in err[0]
    assert err[0].startswith("tcpwatch: ")
    return err[0]


@needs_root
def test_unknown_interface_lists_the_real_ones() -> None:
    """`-i nosuch0`: one line naming it and listing the interfaces that exist."""
    line = _one_line_error(*_run(["-i", "nosuch0", "--print"]))
    assert "'nosuch0'" in line
    assert all(name in line for _, name in socket.if_nameindex())


@needs_root
def test_bad_filter_names_the_expression() -> None:
    """`-f 'port porrt'`: one line naming the user's expression and libpcap's reason."""
    line = _one_line_error(*_run(["-i", "lo", "-f", "port porrt", "--print"]))
    assert "'port porrt'" in line and "unknown port" in line


@needs_root
def test_unwritable_write_path() -> None:
    """`-w` into a directory that does not exist: one line naming the path."""
    line = _one_line_error(*_run(["-i", "lo", "-w", "/nonexistent-dir/x.pcap", "--print"]))
    assert "/nonexistent-dir/x.pcap" in line


@needs_root
def test_unprivileged_user_is_told_how_to_capture() -> None:
    """As nobody: sudo or setcap on the interpreter, and that -r needs no privilege."""
    line = _one_line_error(*_run(["-i", "lo", "--print"], NOBODY))
    assert "sudo" in line and "setcap cap_net_raw,cap_net_admin+eip" in line and "-r FILE" in line


@needs_root
@pytest.mark.skipif(not os.path.exists(LIBPCAP), reason="libpcap0.8 is not installed here")
def test_missing_libpcap_says_what_to_install() -> None:
    """With libpcap hidden (a private mount namespace), the error says to install libpcap0.8."""
    real = os.path.realpath(LIBPCAP)
    cmd = " ".join([*TCPWATCH, "-i", "lo", "-f", "'port 80'", "--print"])
    proc = subprocess.run(
        ["unshare", "-m", "sh", "-c", f"mount --bind /dev/null {real} && exec {cmd}"],
        capture_output=True, text=True, timeout=30, cwd=REPO,
    )  # fmt: skip
    line = _one_line_error(proc.returncode, proc.stderr.splitlines())
    assert "libpcap0.8" in line


def test_reading_a_file_without_libpcap_says_what_to_install() -> None:
    """The native engine links libpcap: without it even `-r FILE` is one line naming it."""
    real = os.path.realpath(LIBPCAP)
    capture = os.path.join(REPO, "tests", "data", "chrissanders_tcp_handshake.pcapng")
    cmd = " ".join([*TCPWATCH, "-r", capture, "--export", "jsonl"])
    proc = subprocess.run(
        ["unshare", "-m", "sh", "-c", f"mount --bind /dev/null {real} && exec {cmd}"],
        capture_output=True, text=True, timeout=30, cwd=REPO,
    )  # fmt: skip
    line = _one_line_error(proc.returncode, proc.stderr.splitlines())
    assert "native engine cannot be loaded" in line and "libpcap0.8" in line


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory the dropped-to user can reach and write (pytest's tmp_path is root-only)."""
    path = Path(tempfile.mkdtemp(prefix="tcpwatch-test-", dir="/tmp"))
    path.chmod(0o777)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _frames_in(path: Path) -> int:
    try:
        return len(pcap_records(path))
    except CaptureError:  # not there yet
        return 0


def _start(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [*TCPWATCH, *args], cwd=REPO, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert wait_until(lambda: capturing(proc.pid) or proc.poll() is not None, 15)
    assert proc.poll() is None, proc.communicate()
    return proc


@pytest.mark.live
@needs_root
@pytest.mark.parametrize("keep_root", [False, True])
def test_root_is_dropped_to_the_sudo_user_after_the_socket_opens(shared_dir, keep_root) -> None:
    """Run through sudo (SUDO_UID), the capture continues as that user; -w belongs to it."""
    pcap = shared_dir / "x.pcap"
    env = {**os.environ, "SUDO_UID": "65534", "SUDO_GID": "65534", "SUDO_USER": "nobody"}
    with echo_server("127.0.0.1") as port:
        args = ["-i", "lo", "-f", f"port {port}", "-w", str(pcap), "--export", "jsonl"]
        proc = _start([*args, "--no-drop-privileges"] if keep_root else args, env)
        expected = 0 if keep_root else 65534
        # The drop follows the socket's opening by a moment: wait for it (bounded), not a sleep.
        assert wait_until(lambda: proc_uid(proc.pid) == expected, 10), proc_uid(proc.pid)
        exchange("127.0.0.1", port, b"after the drop")
        assert wait_until(lambda: _frames_in(pcap) >= 10, 10)
        uid = proc_uid(proc.pid)  # still the same while capturing
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert uid == expected
    assert pcap.stat().st_uid == uid
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["resp_p"] for r in records] == [port]
    assert records[0]["conn_state"] == "SF"
    # The echo server is this (root) test process: after the drop to nobody its socket's owner
    # is still known, through the root helper (capture/live/sockettable.py).
    assert records[0]["pid_resp"] == os.getpid(), records[0]


@pytest.mark.live
@needs_root
def test_sigterm_leaves_a_valid_pcap_the_export_and_the_totals(tmp_path) -> None:
    """SIGTERM mid-capture: exit 0, the export written, totals printed, the pcap readable."""
    pcap = tmp_path / "x.pcap"
    with echo_server("::1") as port:
        proc = _start(["-i", "lo", "-f", f"port {port}", "-w", str(pcap), "--export", "jsonl"])
        for n in range(3):
            exchange("::1", port, b"round %d" % n)
        assert wait_until(lambda: _frames_in(pcap) >= 30, 10)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert len(out.splitlines()) == 3
    frames = len(pcap_records(pcap))
    assert f"{frames} frames" in err
    read = subprocess.run(["tcpdump", "-nr", str(pcap)], capture_output=True, text=True, timeout=10)
    assert read.returncode == 0 and len(read.stdout.splitlines()) == frames


@pytest.mark.live
@needs_root
def test_print_streams_lines_while_capturing() -> None:
    """`--print` lines arrive while the capture runs (line-buffered), not at the end."""
    with echo_server("127.0.0.1") as port:
        proc = _start(["-i", "lo", "-f", f"port {port}", "--print"])
        try:
            exchange("127.0.0.1", port, b"live line")
            assert proc.stdout is not None
            first = proc.stdout.readline()  # blocks until tcpwatch writes it; bounded below
        finally:
            proc.send_signal(signal.SIGTERM)
            # read() through the same buffered reader: communicate() would skip what it holds
            rest, err = proc.stdout.read(), proc.stderr.read()
            proc.wait(timeout=15)
    assert proc.returncode == 0, err
    lines = [first, *rest.splitlines()]
    assert f".{port}" in first or f":{port}" in first, first
    assert len(lines) >= 10, err
    assert "Flags [S]" in first or "[S]" in first


@pytest.mark.live
@needs_root
def test_write_failing_mid_capture_is_reported_in_one_line(shared_dir) -> None:
    """`-w` onto a 64 KiB filesystem that fills up: the sniffer's error ends the run, one line
    names the file and the reason, the exit status is non-zero, no traceback."""
    pcap = shared_dir / "small" / "x.pcap"
    pcap.parent.mkdir()
    cli = " ".join([*TCPWATCH, "-i", "lo", "-f", "'port {port}'", "-w", str(pcap), "--print"])
    with echo_server("127.0.0.1") as port:
        # a private mount namespace: the tiny tmpfs is seen by this command only
        script = f"mount -t tmpfs -o size=64k tmpfs {pcap.parent} && exec {cli.format(port=port)}"
        proc = subprocess.Popen(
            ["unshare", "-m", "sh", "-c", script], cwd=REPO, text=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        assert wait_until(lambda: capturing(proc.pid) or proc.poll() is not None, 15)
        exchange("127.0.0.1", port, os.urandom(300_000))
        try:
            _, err = proc.communicate(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
    lines = err.splitlines()
    assert proc.returncode != 0
    assert "Traceback" not in err
    assert lines[-1] == f"tcpwatch: cannot write {pcap}: No space left on device", err


@pytest.mark.live
@needs_root
def test_count_and_duration_end_a_headless_capture() -> None:
    """`-c 5` exits after five frames; `--duration 0.5` exits on time; both print totals."""
    with echo_server("127.0.0.1") as port:
        proc = _start(["-i", "lo", "-f", f"port {port}", "-c", "5", "--print"])
        exchange("127.0.0.1", port, b"count me")
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert len(out.splitlines()) == 5
    assert "5 frames" in err
    started = time.monotonic()
    rc, err_lines = _run(["-i", "lo", "-f", "port 9", "--duration", "0.5", "--export", "jsonl"])
    assert rc == 0 and time.monotonic() - started < 10
    assert len(err_lines) == 1 and err_lines[0].startswith("tcpwatch: 0 frames, "), err_lines


@pytest.mark.live
@needs_root
def test_cap_net_raw_alone_is_enough_to_capture() -> None:
    """As nobody with only CAP_NET_RAW (what setcap grants): the capture runs and sees traffic."""
    with_cap = [*NOBODY, "--inh-caps=+net_raw", "--ambient-caps=+net_raw"]
    with echo_server("127.0.0.1") as port:
        proc = subprocess.Popen(
            [*with_cap, *TCPWATCH, "-i", "lo", "-f", f"port {port}", "-c", "4", "--print"],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert wait_until(lambda: capturing(proc.pid) or proc.poll() is not None, 15)
        assert proc_uid(proc.pid) == 65534
        exchange("127.0.0.1", port, b"capability")
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert len(out.splitlines()) == 4


@pytest.mark.live
@needs_root
def test_listening_sockets_orient_a_connection_seen_mid_stream() -> None:
    """A connection opened before the capture, whose server speaks first once it runs: our
    listener makes the server the responder (the first packet's sender would be taken as the
    originator otherwise)."""
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        port = srv.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as cl:
            conn, _ = srv.accept()
            with conn:
                proc = _start(["-i", "lo", "-f", f"port {port}", "--export", "jsonl"])
                conn.sendall(b"server speaks first")
                assert cl.recv(64) == b"server speaks first"
                cl.sendall(b"client answers")
                assert conn.recv(64) == b"client answers"
                cport = cl.getsockname()[1]
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert len(records) == 1
    r = records[0]
    assert (r["orig_p"], r["resp_p"], r["direction_inferred"]) == (cport, port, True)
    assert r["pid_resp"] == os.getpid()


@pytest.mark.live
@needs_root
def test_tui_mode_start_failure_is_one_line_before_any_ui(tmp_path) -> None:
    """Run through sudo with `-w` where the invoking user cannot write: after the drop the file
    cannot be opened; the TUI mode says so in one line before starting the App."""
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    env = {**os.environ, "SUDO_UID": "65534", "SUDO_GID": "65534"}
    proc = subprocess.run(
        [*TCPWATCH, "-i", "lo", "-w", str(private / "x.pcap")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    line = _one_line_error(proc.returncode, proc.stderr.splitlines())
    assert str(private / "x.pcap") in line and "Permission denied" in line
    assert proc.stdout == ""  # no App was drawn


@pytest.mark.live
@needs_root
def test_insights_after_the_drop_to_the_sudo_user(tmp_path) -> None:
    """`--insights` analyses at the end, long after the drop: what it imports is loaded before,
    so it works even when the user dropped to cannot read the Python installation."""
    with socket.socket() as probe:  # a port nobody listens on: connections are refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "SUDO_UID": "65534", "SUDO_GID": "65534"}
    args = ["-i", "lo", "-f", f"tcp port {port}", "--export", "jsonl", "--insights"]
    proc = _start([*args, "--duration", "3"], env)
    assert wait_until(lambda: proc_uid(proc.pid) == 65534, 10)
    for _ in range(3):
        with socket.socket() as client, contextlib.suppress(OSError):
            client.settimeout(1)
            client.connect(("127.0.0.1", port))
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    findings = [json.loads(line) for line in out.splitlines() if '"finding"' in line]
    assert [f["kind"] for f in findings] == ["refused"], out


@pytest.mark.live
@needs_root
def test_print_to_a_reader_that_goes_away_still_flushes_the_pcap(shared_dir) -> None:
    """`tcpwatch -i lo --print -w FILE | head -1`: once the pipe is gone the capture stops
    (status 141, no traceback) and FILE holds whole records up to then."""
    pcap = shared_dir / "piped.pcap"
    with echo_server("127.0.0.1") as port:
        args = ["-i", "lo", "-f", f"port {port}", "--print", "-w", str(pcap)]
        proc = subprocess.Popen(
            [*TCPWATCH, *args], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            assert wait_until(lambda: capturing(proc.pid) or proc.poll() is not None, 15)
            exchange("127.0.0.1", port, b"first")
            assert proc.stdout is not None and proc.stdout.readline()
            proc.stdout.close()
            # More traffic: its lines hit the closed pipe (bounded: it ends within a few rounds).
            assert wait_until(
                lambda: exchange("127.0.0.1", port, b"more") or proc.poll() is not None, 15, 0.2
            )
            err = proc.stderr.read().decode() if proc.stderr else ""
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.wait(timeout=15) == 141, err
    assert "Traceback" not in err
    frames = pcap_records(pcap)
    assert len(frames) >= 10  # the first exchange at least, every record whole
