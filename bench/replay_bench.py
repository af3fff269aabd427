"""Live capture under load Python cannot make: `tcpreplay --topspeed` over a veth pair.

Creates two network namespaces joined by a veth pair (removed at the end), replays the
realistic capture of bench/gencap.py (see bench/ingest_bench.py) from one end as fast as
tcpreplay goes (`--topspeed --preload-pcap`), and captures on the other end, at the same time:

    tcpwatch -i VETH --export jsonl -o OUT          (the engine's sniffer, tracker and writer)
    tcpdump -i VETH -B 32768 -w /dev/null           (the peer)

It reports the rate tcpreplay offered, what each captured and dropped, and whether tcpwatch's
records equal those of `tcpwatch -r` on the same capture (timestamps and uids aside).

    sudo .venv/bin/python bench/replay_bench.py [--packets 1000000] [--loops 1] [--buffer KiB]

Needs root, iproute2, tcpreplay and tcpdump (Debian packages).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TCPWATCH = str(ROOT / ".venv" / "bin" / "tcpwatch")
sys.path.insert(0, str(ROOT / "bench"))
from ingest_bench import ensure_capture  # noqa: E402

NS_A, NS_B = "twbenchA", "twbenchB"
VETH_A, VETH_B = "twbA", "twbB"
TIMELESS = {"ts", "uid", "duration", "irtt", "rtt_syn_synack", "rtt_synack_ack", "syn_retry_gaps"}


def sh(*cmd: str) -> None:
    subprocess.run(cmd, check=True, timeout=30)


def setup() -> None:
    """The two namespaces and the veth pair, up, with large queues."""
    teardown()
    sh("ip", "netns", "add", NS_A)
    sh("ip", "netns", "add", NS_B)
    sh("ip", "link", "add", VETH_A, "netns", NS_A, "type", "veth", "peer", VETH_B, "netns", NS_B)
    for ns, dev in ((NS_A, VETH_A), (NS_B, VETH_B)):
        sh("ip", "-n", ns, "link", "set", dev, "mtu", "9000", "txqueuelen", "10000", "up")


def teardown() -> None:
    for ns in (NS_A, NS_B):
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30, check=False)


def in_ns(ns: str, *cmd: str) -> list[str]:
    return ["ip", "netns", "exec", ns, *cmd]


def comparable(lines: list[str]) -> list[tuple[object, ...]]:
    """Records with the fields that depend on capture timing and flow numbering left out."""
    out = []
    for line in lines:
        r = json.loads(line)
        out.append(tuple(sorted((k, json.dumps(v)) for k, v in r.items() if k not in TIMELESS)))
    return sorted(out)


def run(capture: Path, loops: int, buffer_kib: int | None = None) -> dict[str, object]:
    """One replay with both captures running; their figures."""
    out = Path(tempfile.mkdtemp(prefix="tcpwatch-replay-"))
    os.chmod(out, 0o777)
    tw_out, tw_err = out / "live.jsonl", out / "tcpwatch.err"
    dump_err = out / "tcpdump.err"
    with tw_err.open("w") as err:
        tcpwatch = subprocess.Popen(
            in_ns(NS_B, TCPWATCH, "-i", VETH_B, "--export", "jsonl", "-o", str(tw_out))
            + (["-B", str(buffer_kib)] if buffer_kib else []),
            stderr=err,
            stdout=subprocess.DEVNULL,
        )
    with dump_err.open("w") as err:
        tcpdump = subprocess.Popen(
            in_ns(NS_B, "tcpdump", "-i", VETH_B, "-n", "-B", "32768", "-w", "/dev/null"),
            stderr=err,
        )
    time.sleep(2.0)  # both attached (tcpwatch imports, opens, drops nothing here: root)
    replay = subprocess.run(
        in_ns(NS_A, "tcpreplay", "--topspeed", "--preload-pcap", f"--loop={loops}", "-i", VETH_A)
        + [str(capture)],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    time.sleep(1.0)
    for proc in (tcpwatch, tcpdump):
        proc.send_signal(signal.SIGINT)
    tcpwatch.wait(timeout=120)
    tcpdump.wait(timeout=30)
    rate = re.search(r"Rated: [\d.]+ Bps, [\d.]+ Mbps, ([\d.]+) pps", replay.stdout)
    sent = re.search(r"Actual: (\d+) packets", replay.stdout)
    dump = dump_err.read_text()
    got = re.search(r"(\d+) packets captured", dump)
    dropped = re.search(r"(\d+) packets dropped by kernel", dump)
    totals = tw_err.read_text().strip().splitlines()[-1]
    frames = re.search(r"(\d+) frames", totals)
    kdrops = re.search(r"(\d+) kernel drops", totals)
    qdrops = re.search(r"(\d+) queue drops", totals)
    live = tw_out.read_text().splitlines()
    offline = subprocess.run(
        [TCPWATCH, "-r", str(capture), "--export", "jsonl"],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    ).stdout.splitlines()
    # A looped replay sends each flow again: only a single pass compares with `-r`.
    same = comparable(live) == comparable(offline) if loops == 1 else "n/a (looped)"
    shutil.rmtree(out, ignore_errors=True)
    return {
        "sent": int(sent.group(1)) if sent else None,
        "offered_pps": float(rate.group(1)) if rate else None,
        "tcpdump_captured": int(got.group(1)) if got else None,
        "tcpdump_dropped": int(dropped.group(1)) if dropped else None,
        "tcpwatch_frames": int(frames.group(1)) if frames else None,
        "tcpwatch_kernel_drops": int(kdrops.group(1)) if kdrops else 0,
        "tcpwatch_queue_drops": int(qdrops.group(1)) if qdrops else 0,
        "tcpwatch_records": len(live),
        "records_equal_to_-r": same,
        "tcpwatch_totals": totals,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--packets", type=int, default=1_000_000)
    ap.add_argument("--flows", type=int, default=44_000)
    ap.add_argument("--loops", type=int, default=1)
    ap.add_argument("--buffer", type=int, default=None, help="tcpwatch's -B (KiB)")
    args = ap.parse_args(argv)
    for tool in ("tcpreplay", "tcpdump", "ip"):
        if shutil.which(tool) is None:
            print(f"{tool} not found", file=sys.stderr)
            return 2
    capture, packets = ensure_capture(args.packets, args.flows, 1)
    setup()
    try:
        result = run(capture, args.loops, args.buffer)
    finally:
        teardown()
    print(f"capture: {capture} ({packets:,} packets) x {args.loops}")
    for key, value in result.items():
        print(f"  {key}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
