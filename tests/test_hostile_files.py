"""Hostile capture files through the real CLI: one-line errors, exit status 2, bounded memory.

Every case runs `tcpwatch -r FILE --export jsonl` in a subprocess whose address space is capped
(RLIMIT_AS), so a reader that trusted an absurd length would fail loudly here instead of taking
the machine's memory. A traceback on stderr is a failure whatever the exit status.
"""

from __future__ import annotations

import os
import resource
import struct
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TCPWATCH = [sys.executable, "-m", "tui.cli"]
MEMORY_CAP = 1 << 30  # address space, bytes: far above a normal run, far below 4 GB
TIMEOUT = 60

PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)
# An Ethernet/IPv4/TCP SYN from 10.0.0.1:1234 to 10.0.0.2:80 (checksums not needed here).
SYN = (
    b"\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x01\x08\x00"
    + struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 1, 0x4000, 64, 6, 0, b"\n\0\0\1", b"\n\0\0\2")
    + struct.pack("!HHIIBBHHH", 1234, 80, 1000, 0, 0x50, 0x02, 65535, 0, 0)
)


def record(frame: bytes, caplen: int | None = None, wirelen: int | None = None) -> bytes:
    """One little-endian pcap record (lengths may lie)."""
    n = len(frame)
    return struct.pack("<IIII", 1, 0, n if caplen is None else caplen, wirelen or n) + frame


def block(btype: int, body: bytes, total: int | None = None) -> bytes:
    """One pcapng block; `total` overrides the length fields."""
    length = 12 + len(body) if total is None else total
    return struct.pack("<II", btype, length) + body + struct.pack("<I", length)


SHB = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
IDB = block(1, struct.pack("<HHI", 1, 0, 262144))


def epb(frame: bytes, iface: int = 0) -> bytes:
    """An enhanced packet block for `frame`, padded to 32 bits."""
    pad = b"\0" * (-len(frame) % 4)
    return block(6, struct.pack("<IIIII", iface, 0, 1, len(frame), len(frame)) + frame + pad)


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def run_cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    """The real CLI, memory-capped, with a timeout."""
    return subprocess.run(
        [*TCPWATCH, *args],
        cwd=ROOT,
        input=None if stdin is None else stdin.decode("latin-1"),
        capture_output=True,
        text=True,
        encoding="latin-1",
        timeout=TIMEOUT,
        preexec_fn=_limit_memory,
        check=False,
    )


def assert_failed_cleanly(proc: subprocess.CompletedProcess[str], *words: str) -> list[str]:
    """Exit status 2, no traceback, every stderr line a `tcpwatch:` line; returns those lines."""
    lines = proc.stderr.strip().splitlines()
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert lines, "no message on stderr"
    assert all(line.startswith("tcpwatch: ") for line in lines), lines
    assert len(lines) <= 2, lines  # the error, or the totals and then the warning
    for word in words:
        assert word in lines[-1], (word, lines[-1])
    return lines


def write(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


HARD_ERRORS = {
    "empty": (b"", "empty"),
    "wrong-magic": (b"GIF89a" + bytes(100), "not a pcap"),
    "text-file": (b"hello, world\n" * 10, "not a pcap"),
    "short-magic": (b"\xd4\xc3", ""),
    "truncated-file-header": (PCAP_HEADER[:10], "truncated"),
    "pcap-version-9": (struct.pack("<IHHiIII", 0xA1B2C3D4, 9, 4, 0, 0, 65535, 1), "version"),
    "pcapng-truncated-shb": (SHB[:10], "truncated"),
    "pcapng-bad-byte-order": (SHB[:8] + b"XXXX" + SHB[12:], "byte-order"),
    "pcapng-shb-length-huge": (block(0x0A0D0D0A, SHB[8:-4], total=0xFFFFFFF0), "length"),
    "pcapng-shb-length-odd": (block(0x0A0D0D0A, SHB[8:-4], total=29), "length"),
}


@pytest.mark.parametrize("name", sorted(HARD_ERRORS))
def test_unreadable_file_is_one_line_exit_2(tmp_path: Path, name: str) -> None:
    """A file that is not a readable capture: exit 2 and one `tcpwatch:` line, nothing on stdout."""
    data, word = HARD_ERRORS[name]
    proc = run_cli("-r", write(tmp_path, name, data), "--export", "jsonl")
    lines = assert_failed_cleanly(proc, word)
    assert len(lines) == 1
    assert proc.stdout == ""


CUT_SHORT = {
    "record-header-cut": PCAP_HEADER + record(SYN) + record(SYN)[:9],
    "record-data-cut": PCAP_HEADER + record(SYN) + record(SYN)[:30],
    "record-4GB": PCAP_HEADER + record(SYN) + struct.pack("<IIII", 1, 0, 0xFFFFFFFF, 60) + SYN,
    "record-64MB": PCAP_HEADER + record(SYN) + struct.pack("<IIII", 1, 0, 64 << 20, 60) + SYN,
    "pcapng-epb-length-huge": SHB + IDB + epb(SYN) + block(6, bytes(40), total=0xFFFFFFFC),
    "pcapng-epb-length-small": SHB + IDB + epb(SYN) + block(6, b"", total=4),
    "pcapng-epb-length-unaligned": SHB + IDB + epb(SYN) + block(6, bytes(40), total=50),
    "pcapng-epb-cut": SHB + IDB + epb(SYN) + epb(SYN)[:40],
}


@pytest.mark.parametrize("name", sorted(CUT_SHORT))
def test_corruption_after_data_keeps_what_was_read(tmp_path: Path, name: str) -> None:
    """Corruption after the first record: the flow read is exported, then a warning, exit 2."""
    proc = run_cli("-r", write(tmp_path, name, CUT_SHORT[name]), "--export", "jsonl")
    lines = assert_failed_cleanly(proc)
    assert len(lines) == 2
    assert "1 frames" in lines[0], lines  # the totals line counts the good record
    assert proc.stdout.count("\n") == 1 and '"orig_p":1234' in proc.stdout


def test_unknown_link_type_is_reported(tmp_path: Path) -> None:
    """Frames of a link type tcpwatch cannot decode: counted, named, and the run says so."""
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 147)  # LINKTYPE_USER0
    proc = run_cli("-r", write(tmp_path, "user0.pcap", header + record(SYN)), "--export", "jsonl")
    assert "Traceback" not in proc.stderr
    assert "147" in proc.stderr and "1 frames" in proc.stderr
    assert proc.returncode in (0, 2)


@pytest.mark.parametrize(("code", "length"), [(9, 1), (14, 8)], ids=["if_tsresol", "if_tsoffset"])
def test_interface_option_cut_by_the_block_end(tmp_path: Path, code: int, length: int) -> None:
    """An IDB whose last option announces a value the block does not hold: no traceback."""
    idb = block(1, struct.pack("<HHI", 1, 0, 262144) + struct.pack("<HH", code, length))
    proc = run_cli("-r", write(tmp_path, "idb.pcapng", SHB + idb + epb(SYN)), "--export", "jsonl")
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode in (0, 2)
    assert all(line.startswith("tcpwatch: ") for line in proc.stderr.splitlines())


def test_packet_of_an_undeclared_pcapng_interface_is_not_lost_silently(tmp_path: Path) -> None:
    """An EPB naming interface 7 when only 0 exists: counted (malformed) or warned about."""
    data = SHB + IDB + epb(SYN) + epb(SYN, iface=7)
    proc = run_cli("-r", write(tmp_path, "iface.pcapng", data), "--export", "jsonl")
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 0
    assert "2 frames, 1 TCP segments, 1 malformed" in proc.stderr, proc.stderr
    assert "undeclared pcapng interface: 1" in proc.stderr


def test_directory(tmp_path: Path) -> None:
    """A directory: one line naming the problem."""
    assert_failed_cleanly(run_cli("-r", str(tmp_path), "--export", "jsonl"), "directory")


def test_missing_file(tmp_path: Path) -> None:
    """A path that does not exist."""
    assert_failed_cleanly(run_cli("-r", str(tmp_path / "nope.pcap"), "--print"), "no such file")


def test_dev_zero_is_rejected_without_reading_it_all() -> None:
    """/dev/zero never ends: the magic check must stop it at once, in bounded memory."""
    assert_failed_cleanly(run_cli("-r", "/dev/zero", "--export", "jsonl"), "not a pcap")


@pytest.mark.parametrize(
    ("payload", "status"),
    [(PCAP_HEADER + record(SYN), 0), (b"garbage through a pipe" * 100, 2)],
    ids=["capture", "garbage"],
)
def test_fifo(tmp_path: Path, payload: bytes, status: int) -> None:
    """A named pipe is read like a stream: a capture through it works, garbage is one line."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)

    def feed() -> None:
        with fifo.open("wb") as fh:  # blocks until tcpwatch opens the other end
            fh.write(payload)

    writer = threading.Thread(target=feed, name="fifo-writer", daemon=True)
    writer.start()
    proc = run_cli("-r", str(fifo), "--export", "jsonl")
    writer.join(timeout=TIMEOUT)
    assert not writer.is_alive()
    if status:
        assert_failed_cleanly(proc, "not a pcap")
    else:
        assert proc.returncode == 0, proc.stderr
        assert '"orig_p":1234' in proc.stdout


def test_stdin_garbage() -> None:
    """`-r -` with garbage on standard input."""
    assert_failed_cleanly(run_cli("-r", "-", "--print", stdin=b"\x00" * 4096), "not a pcap")


def test_stdin_cut_short() -> None:
    """`-r -` whose stream stops inside a record: what was read is printed, then a warning."""
    proc = run_cli("-r", "-", "--print", stdin=PCAP_HEADER + record(SYN) + record(SYN)[:20])
    assert_failed_cleanly(proc)
    assert proc.stdout.count("\n") == 1 and "10.0.0.1.1234 > " in proc.stdout
