"""Reading pcap/pcapng (byte orders, time units, pipes, cut files) and writing pcap."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from capture.pcapio import CaptureError, CaptureReader, PcapWriter, open_capture

DATA = Path(__file__).parent / "data"


def first_ts(truth_name: str) -> Decimal:
    truth = json.loads((DATA / truth_name).read_text())
    return min(Decimal(c["first_ts"]) for c in truth["conversations"])


@pytest.mark.parametrize(
    "name",
    [
        "tcpdump_tcp-handshake-nano.pcap",  # little-endian, nanoseconds
        "pcapplusplus_nanosecs_big_endian.pcap",  # big-endian, nanoseconds
        "zeek_tcp_options.pcap",  # little-endian, microseconds
        "zeek_vlan-pcp-dei.pcapng",  # pcapng
    ],
)
def test_timestamps_match_tshark(name: str) -> None:
    """The first TCP frame's time equals tshark's to the microsecond, whatever the format."""
    records = list(open_capture(str(DATA / name)))
    assert abs(Decimal(repr(records[0][0])) - first_ts(name + ".truth.json")) < Decimal("1e-6")


def test_pcapng_with_many_interfaces_keeps_each_link_type() -> None:
    """Frames carry the link type of their own interface."""
    reader = open_capture(str(DATA / "pcapplusplus_many_interfaces-1.pcapng"))
    kinds = {linktype for _, _, _, linktype in reader}
    assert len(reader.linktypes) == 11
    assert {0, 1} <= kinds


def test_writer_round_trip_is_valid_for_tcpdump(tmp_path: Path) -> None:
    """What PcapWriter writes reads back identically, and tcpdump reads it too."""
    src = list(open_capture(str(DATA / "tcpdump_print-flags.pcap")))
    out = tmp_path / "copy.pcap"
    writer = PcapWriter(str(out), src[0][3])
    for ts, wire_len, data, _ in src:
        writer.write(ts, data, wire_len)
    writer.close()
    back = list(open_capture(str(out)))
    assert [(r[1], r[2]) for r in back] == [(r[1], r[2]) for r in src]
    assert all(abs(a[0] - b[0]) < 1e-6 for a, b in zip(back, src, strict=True))
    if shutil.which("tcpdump"):
        run = subprocess.run(["tcpdump", "-n", "-r", str(out)], capture_output=True, text=True)
        assert run.returncode == 0
        assert len(run.stdout.splitlines()) == len(src)


def test_cut_file_yields_what_was_read_and_says_so(tmp_path: Path) -> None:
    """A file cut inside its last record gives the whole records before it, then an error."""
    whole = (DATA / "tcpdump_print-flags.pcap").read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(whole[:-10])
    reader = open_capture(str(cut))
    assert len(list(reader)) == 9
    assert "ends inside a record" in reader.error


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
    with pytest.raises(CaptureError, match=message) as err:
        open_capture(str(path))
    assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    """A missing path and a directory are reported, not raised as OSError."""
    with pytest.raises(CaptureError, match="no such file"):
        open_capture(str(tmp_path / "nope.pcap"))
    with pytest.raises(CaptureError, match="is a directory"):
        open_capture(str(tmp_path))


def test_pipe_delivers_records_before_the_writer_finishes() -> None:
    """Reading `-r -` from a pipe yields a record as soon as it is complete (tcpdump -U)."""
    whole = (DATA / "tcpdump_print-flags.pcap").read_bytes()
    read_fd, write_fd = os.pipe()
    with os.fdopen(read_fd, "rb", buffering=1 << 16) as rd, os.fdopen(write_fd, "wb") as wr:
        wr.write(whole[: 24 + 16 + 74 + 5])  # header, first record, part of the second
        wr.flush()
        reader = CaptureReader(rd, "pipe")
        records = iter(reader)
        started = time.monotonic()
        first = next(records)
        assert time.monotonic() - started < 5
        assert len(first[2]) == 74


def test_stdin_dash_through_the_cli() -> None:
    """`tcpwatch -r - --export jsonl` reads a capture from standard input."""
    data = (DATA / "tcpdump_print-flags.pcap").read_bytes()
    run = subprocess.run(
        [sys.executable, "-m", "tui.cli", "-r", "-", "--export", "jsonl"],
        input=data,
        capture_output=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    records = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(records) == 1 and records[0]["conn_state"] == "SF"


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
        cwd=Path(__file__).parent.parent,
    )  # fmt: skip
    assert out.stdout.split()[0] == "EFBIG", out.stderr
    size = path.stat().st_size
    assert (size - 24) % 116 == 0 and 4000 < size <= 5000  # 16-byte header + 100 bytes each
    reader = open_capture(str(path))
    frames = [data for _, _, data, _ in reader]
    assert reader.error == ""
    assert len(frames) == (size - 24) // 116
    assert all(data == bytes([i % 256]) * 100 for i, data in enumerate(frames))
    if shutil.which("tcpdump"):
        dump = subprocess.run(
            ["tcpdump", "-r", str(path)], capture_output=True, text=True, timeout=30
        )
        assert dump.returncode == 0 and "truncated" not in dump.stderr, dump.stderr


@pytest.mark.parametrize("name", ["zeek_nmap-vsn.pcap", "chrissanders_http_ip4and6.pcapng"])
def test_a_gzipped_capture_reads_as_the_capture_inside(tmp_path: Path, name: str) -> None:
    import gzip

    plain = list(open_capture(str(DATA / name)))
    packed = tmp_path / (name + ".gz")
    packed.write_bytes(gzip.compress((DATA / name).read_bytes()))
    reader = open_capture(str(packed))
    assert list(reader) == plain
    assert reader.error == ""
    reader.close()
    piped = subprocess.run(
        [sys.executable, "-m", "tui.cli", "-r", "-", "--export", "jsonl"],
        input=packed.read_bytes(), capture_output=True, cwd=Path(__file__).parent.parent,
        timeout=60,
    )  # fmt: skip
    direct = subprocess.run(
        [sys.executable, "-m", "tui.cli", "-r", str(DATA / name), "--export", "jsonl"],
        capture_output=True, cwd=Path(__file__).parent.parent, timeout=60,
    )  # fmt: skip
    assert piped.returncode == direct.returncode == 0
    assert piped.stdout == direct.stdout


def test_a_gzipped_capture_cut_short_gives_what_was_read_then_says_so(tmp_path: Path) -> None:
    import gzip

    data = gzip.compress((DATA / "zeek_nmap-vsn.pcap").read_bytes())
    cut = tmp_path / "cut.pcap.gz"
    cut.write_bytes(data[: len(data) // 2])
    reader = open_capture(str(cut))
    records = list(reader)
    assert 0 < len(records) < len(list(open_capture(str(DATA / "zeek_nmap-vsn.pcap"))))
    assert reader.error == f"{cut}: compressed capture cut short"
    with pytest.raises(CaptureError, match="compressed capture cut short"):
        CaptureReader(io.BytesIO(data[:5]), "x")
