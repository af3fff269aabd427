"""Captures read by the engine through its Python surface and the CLI (pipes, gzip, cut and bad
files), and `capture.pcapio.PcapWriter`.

The reader's own cases (byte orders, time units, pcapng interfaces, cut files, gzip cut at every
offset, pipes) are checked on the engine: capture/engine/src/reader/tests*.rs and
capture/engine/tests/bundled_captures.rs.
"""

from __future__ import annotations

import gzip
import json
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from capture import _engine
from capture.pcapio import PcapWriter

ROOT = Path(__file__).parent.parent
DATA = Path(__file__).parent / "data"


def pcap_records(path: Path) -> list[tuple[float, int, bytes]]:
    """The (time, wire length, data) of each record of a little-endian microsecond pcap, as
    PcapWriter writes it; asserts the file ends on a whole record."""
    raw = path.read_bytes()
    assert raw[:4] == struct.pack("<I", 0xA1B2C3D4)
    out, pos = [], 24
    while pos < len(raw):
        sec, usec, caplen, wire = struct.unpack_from("<IIII", raw, pos)
        assert pos + 16 + caplen <= len(raw), "the file ends inside a record"
        out.append((sec + usec / 1e6, wire, raw[pos + 16 : pos + 16 + caplen]))
        pos += 16 + caplen
    return out


def read(path: Path) -> dict[str, object]:
    """The engine's counters after reading `path` (frames, tcp, flows, error...)."""
    return _engine.Tracker(frames_per_flow=0).read_file(str(path))


def cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args],
        input=stdin, capture_output=True, cwd=ROOT, timeout=60,
    )  # fmt: skip


def test_cut_file_yields_what_was_read_and_says_so(tmp_path: Path) -> None:
    """A file cut inside its last record gives the whole records before it, then an error."""
    whole = (DATA / "tcpdump_print-flags.pcap").read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(whole[:-10])
    counters = read(cut)
    assert counters["frames"] == 9
    assert "ends inside a record" in str(counters["error"])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file"),
        (b"GIF89a" + b"\0" * 30, "not a pcap or pcapng file"),
        (b"\xd4\xc3\xb2\xa1\x02\x00", "truncated pcap file header"),
    ],
)
def test_bad_files_raise_one_line(tmp_path: Path, content: bytes, message: str) -> None:
    """Files that are not captures fail at open with one line naming the file."""
    path = tmp_path / "bad.pcap"
    path.write_bytes(content)
    with pytest.raises(_engine.CaptureError, match=message) as err:
        read(path)
    assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    """A missing path and a directory are reported, not raised as OSError."""
    with pytest.raises(_engine.CaptureError, match="no such file"):
        read(tmp_path / "nope.pcap")
    with pytest.raises(_engine.CaptureError, match="is a directory"):
        read(tmp_path)


def test_stdin_dash_through_the_cli() -> None:
    """`tcpwatch -r - --export jsonl` reads a capture from standard input."""
    data = (DATA / "tcpdump_print-flags.pcap").read_bytes()
    run = cli("-r", "-", "--export", "jsonl", stdin=data)
    assert run.returncode == 0, run.stderr
    records = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(records) == 1 and records[0]["conn_state"] == "SF"


@pytest.mark.parametrize("name", ["zeek_nmap-vsn.pcap", "chrissanders_http_ip4and6.pcapng"])
def test_a_gzipped_capture_reads_as_the_capture_inside(tmp_path: Path, name: str) -> None:
    """A gzipped capture reads as the one inside, from a file and from standard input."""
    packed = tmp_path / (name + ".gz")
    packed.write_bytes(gzip.compress((DATA / name).read_bytes()))
    plain = read(DATA / name)
    assert read(packed) == plain and plain["error"] is None and plain["frames"]
    piped = cli("-r", "-", "--export", "jsonl", "--seed", "1", stdin=packed.read_bytes())
    direct = cli("-r", str(DATA / name), "--export", "jsonl", "--seed", "1")  # the same uids
    assert piped.returncode == direct.returncode == 0
    assert piped.stdout == direct.stdout and direct.stdout


def test_a_gzipped_capture_cut_short_gives_what_was_read_then_says_so(tmp_path: Path) -> None:
    data = gzip.compress((DATA / "zeek_nmap-vsn.pcap").read_bytes())
    cut = tmp_path / "cut.pcap.gz"
    cut.write_bytes(data[: len(data) // 2])
    counters = read(cut)
    assert 0 < counters["frames"] < read(DATA / "zeek_nmap-vsn.pcap")["frames"]  # type: ignore[operator]
    assert counters["error"] == f"{cut}: compressed capture cut short"
    tiny = tmp_path / "tiny.pcap.gz"
    tiny.write_bytes(data[:5])
    with pytest.raises(_engine.CaptureError, match="compressed capture cut short"):
        read(tiny)


def test_writer_round_trip_is_valid_for_tcpdump(tmp_path: Path) -> None:
    """What PcapWriter writes reads back identically (engine and tcpdump read it too)."""
    out = tmp_path / "copy.pcap"
    src = pcap_records(DATA / "tcpdump_print-flags.pcap")
    writer = PcapWriter(str(out), 1)
    for ts, wire_len, data in src:
        writer.write(ts, data, wire_len)
    writer.close()
    back = pcap_records(out)
    assert [(r[1], r[2]) for r in back] == [(r[1], r[2]) for r in src]
    assert all(abs(a[0] - b[0]) < 1e-6 for a, b in zip(back, src, strict=True))
    assert read(out) == read(DATA / "tcpdump_print-flags.pcap")
    if shutil.which("tcpdump"):
        run = subprocess.run(["tcpdump", "-n", "-r", str(out)], capture_output=True, text=True)
        assert run.returncode == 0
        assert len(run.stdout.splitlines()) == len(src)


_FILLER = """
import errno, resource, signal, sys
from capture.pcapio import PcapWriter
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # past the limit, write() fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (5000, 5000))
writer = PcapWriter(sys.argv[1], 1)
try:
    for i in range(1000):
        writer.write(1700000000 + i, bytes([i % 256]) * 100, 100)
        if i % 7 == 6:
            writer.flush()
except OSError as exc:
    print(errno.errorcode[exc.errno], writer.written)
"""


@pytest.mark.parametrize("flush_at", [1 << 16, 300])
def test_a_full_disk_leaves_the_pcap_ending_on_a_whole_record(
    tmp_path: Path, flush_at: int
) -> None:
    """A write that fails part-way through a record (here: the file size limit, as a full disk
    does) cuts the file back to the last whole record: it reads to its end without error."""
    path = tmp_path / "full.pcap"
    script = _FILLER.replace(
        "PcapWriter(sys.argv[1], 1)", f"PcapWriter(sys.argv[1], 1)\nwriter.FLUSH_AT = {flush_at}"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=60,
        cwd=ROOT,
    )  # fmt: skip
    assert out.stdout.split()[0] == "EFBIG", out.stderr
    size = path.stat().st_size
    assert (size - 24) % 116 == 0 and 4000 < size <= 5000  # 16-byte header + 100 bytes each
    frames = [data for _, _, data in pcap_records(path)]
    assert len(frames) == (size - 24) // 116
    assert all(data == bytes([i % 256]) * 100 for i, data in enumerate(frames))
    counters = read(path)
    assert counters["error"] is None and counters["frames"] == len(frames)
    if shutil.which("tcpdump"):
        dump = subprocess.run(
            ["tcpdump", "-r", str(path)], capture_output=True, text=True, timeout=30
        )
        assert dump.returncode == 0 and "truncated" not in dump.stderr, dump.stderr
