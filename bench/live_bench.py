"""Live capture benchmark: tcpwatch headless vs `tcpdump -w /dev/null` on the same loopback load.

A bounded load generator (separate processes, 127.0.0.1 only) makes many short connections and
paced bulk streams of small segments for a fixed time; tcpwatch (`-i lo --export jsonl -o
/dev/null`: decoding and flow tracking) and tcpdump capture it at the same time with the same
filter. Each stage raises the load; for each we report packets/s seen, kernel and queue drops,
and tcpwatch's CPU time per packet.

    sudo .venv/bin/python bench/live_bench.py                 # default stages
    sudo .venv/bin/python bench/live_bench.py --pin           # tcpwatch on CPU 1, the rest on 0
    sudo .venv/bin/python bench/live_bench.py --stages 100000,200000 --seconds 5

Needs root (packet sockets) and tcpdump. Prints one Markdown table row per stage.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PAYLOAD = 200


def _server(port: int) -> None:
    """Echo for short connections, sink for streams: first byte says which."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(1024)

    def handle(conn: socket.socket) -> None:
        with conn:
            kind = conn.recv(1)
            if kind == b"e":
                conn.sendall(conn.recv(4096))
                conn.recv(1)
                return
            while conn.recv(1 << 20):
                pass

    while True:
        conn, _ = srv.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


def _short(port: int, seconds: float) -> None:
    """Short connections (about 10 packets each) back to back until the time is up."""
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        with socket.create_connection(("127.0.0.1", port)) as c:
            c.sendall(b"e" + b"q" * 63)
            c.recv(4096)
        n += 1
    print(json.dumps({"short_conns": n}))


def _stream(port: int, seconds: float, rate: float) -> None:
    """One connection sending PAYLOAD-byte segments (TCP_NODELAY) paced at `rate` per second."""
    c = socket.create_connection(("127.0.0.1", port))
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.sendall(b"s")
    block = b"x" * PAYLOAD
    start = time.monotonic()
    sent = 0
    while (now := time.monotonic()) - start < seconds:
        due = int((now - start) * rate)
        while sent < due:
            c.send(block)
            sent += 1
        time.sleep(0.0005)
    c.close()
    print(json.dumps({"stream_sends": sent}))


def _inject(port: int, seconds: float, rate: float, count: int = 1 << 62) -> None:
    """Synthetic TCP frames sent raw on lo, paced: 1,000 flows of 100-byte segments.

    Their TCP checksums are wrong on purpose, so the stack drops them silently (no RSTs): a
    cheap load that reaches rates Python connections cannot, for finding the capture's ceiling.
    """
    import struct

    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind(("lo", 0))
    frames = []
    for flow in range(1000):
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 140, 0, 0x4000, 64, 6, 0,
                         bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1]))  # fmt: skip
        csum = _ip_checksum(ip)
        ip = ip[:10] + struct.pack("!H", csum) + ip[12:]
        tcp = struct.pack("!HHIIBBHHH", 20000 + flow, port, 1000, 1, 0x50, 0x18, 512, 0xBAD, 0)
        frames.append(bytes(12) + b"\x08\x00" + ip + tcp + bytes(100))
    start = time.monotonic()
    sent = 0
    while (now := time.monotonic()) - start < seconds and sent < count:
        due = min(int((now - start) * rate), count)
        while sent < due:
            s.send(frames[sent % 1000])
            sent += 1
        time.sleep(0.0005)
    print(json.dumps({"injected": sent}))


def _ip_checksum(header: bytes) -> int:
    total = sum(int.from_bytes(header[i : i + 2], "big") for i in range(0, len(header), 2))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


READ_PATHS = ("recv_into", "recvmsg_into+SO_TIMESTAMPNS", "tpacket_v3 ring")


def _proc_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_capturing(pid: int, timeout: float = 15.0) -> None:
    sys.path.insert(0, str(REPO / "tests"))
    from live_traffic import capturing, wait_until

    if not wait_until(lambda: capturing(pid), timeout):
        raise SystemExit("tcpwatch did not start capturing")


def _load(
    cmd: list[str], port: int, seconds: float, pps: float, short_procs: int, inject: bool
) -> list[subprocess.Popen[str]]:
    """Start the load: short connections plus paced streams, or injected frames."""

    def worker(*args: object) -> subprocess.Popen[str]:
        argv = [*cmd, "--worker", *(str(a) for a in args)]
        return subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)

    if inject:
        return [worker("inject", port, seconds, pps)]
    # ~10 packets per short connection; a paced stream gives a segment and (mostly) an ACK.
    streams = max(1, int(pps // 100_000) + 1)
    load = [worker("short", port, seconds) for _ in range(short_procs)]
    return load + [worker("stream", port, seconds, pps / 2 / streams) for _ in range(streams)]


def stage(
    target_pps: float, seconds: float, pin: bool, short_procs: int, inject: bool
) -> dict[str, float]:
    """One run: start both captures, apply the load, stop both, read their counters."""
    port = 47000 + int(target_pps) % 1000
    me = [sys.executable, __file__]
    cpu0 = ["taskset", "-c", "0"] if pin else []
    cpu1 = ["taskset", "-c", "1"] if pin else []
    server = subprocess.Popen([*cpu0, *me, "--worker", "server", str(port)])
    expr = f"port {port}"
    cmd = ["-m", "tui.cli", "-i", "lo", "-f", expr, "--export", "jsonl", "-o", "/dev/null"]
    tw = subprocess.Popen(
        [*cpu1, sys.executable, *cmd], cwd=REPO, stderr=subprocess.PIPE, text=True
    )
    dump = subprocess.Popen(
        [*cpu0, "tcpdump", "-i", "lo", "-n", "-B", "32768", "-w", "/dev/null", "tcp", "and", expr],
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _wait_capturing(tw.pid)
        assert dump.stderr is not None
        dump.stderr.readline()
        # ~10 packets per short connection; a paced stream gives a segment and (mostly) an ACK.
        streams = max(1, int(target_pps // 100_000) + 1)
        rate = target_pps / 2 / streams
        t0, c0 = time.monotonic(), _proc_cpu(tw.pid)
        load = [
            subprocess.Popen(
                [*cpu0, *me, "--worker", "short", str(port), str(seconds)],
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(short_procs)
        ]
        load += [subprocess.Popen([*cpu0, *me, "--worker", "stream", str(port), str(seconds),
                                   str(rate)], stdout=subprocess.PIPE, text=True)
                 for _ in range(streams)]  # fmt: skip
        for p in load:
            p.wait(timeout=seconds + 30)
        elapsed = time.monotonic() - t0
        time.sleep(1.5)  # both rings hand over their last blocks
        cpu = _proc_cpu(tw.pid) - c0
    finally:
        tw.send_signal(signal.SIGINT)
        dump.send_signal(signal.SIGINT)
        _, tw_err = tw.communicate(timeout=120)
        _, td_err = dump.communicate(timeout=30)
        server.kill()
        server.wait()
    return _result(target_pps, seconds, elapsed, cpu, tw_err, td_err)


def _num(pattern: str, text: str) -> int:
    m = re.search(pattern, text)
    return int(m.group(1)) if m else 0


def _result(
    target: float, load_seconds: float, elapsed: float, cpu: float, tw: str, td: str
) -> dict[str, float]:
    frames = _num(r"(\d+) frames", tw)
    return {
        "target_pps": target,
        "seconds": round(elapsed, 2),
        "tcpdump_pkts": _num(r"(\d+) packets captured", td),
        "tcpdump_drops": _num(r"(\d+) packets dropped by kernel", td),
        "tcpwatch_frames": frames,
        "tcpwatch_pps": round(frames / load_seconds),
        "kernel_drops": _num(r"(\d+) kernel drops", tw),
        "queue_drops": _num(r"(\d+) queue drops", tw),
        "flows": _num(r"(\d+) flows", tw),
        "cpu_us_per_pkt": round(cpu / max(frames, 1) * 1e6, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    ap.add_argument("--stages", default="50000,100000,150000,200000,300000")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--short-procs", type=int, default=1)
    ap.add_argument("--pin", action="store_true", help="tcpwatch on CPU 1, everything else on 0")
    ap.add_argument(
        "--inject", action="store_true", help="load: synthetic frames sent raw on lo instead"
    )
    args = ap.parse_args()
    if args.worker:
        kind, *rest = args.worker
        if kind == "server":
            _server(int(rest[0]))
        elif kind == "inject":
            _inject(int(rest[0]), float(rest[1]), float(rest[2]), *map(int, rest[3:]))
        elif kind == "short":
            _short(int(rest[0]), float(rest[1]))
        else:
            _stream(int(rest[0]), float(rest[1]), float(rest[2]))
        return
    cols = ("target_pps", "seconds", "tcpdump_pkts", "tcpdump_drops", "tcpwatch_frames",
            "tcpwatch_pps", "kernel_drops", "queue_drops", "flows", "cpu_us_per_pkt")  # fmt: skip
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for target in (float(x) for x in args.stages.split(",")):
        row = stage(target, args.seconds, args.pin, args.short_procs, args.inject)
        print("| " + " | ".join(str(row[c]) for c in cols) + " |", flush=True)


if __name__ == "__main__":
    main()
