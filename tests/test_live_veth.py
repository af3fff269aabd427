"""Live capture on a real Ethernet interface: two namespaces joined by a veth pair (and a VLAN).

The capture runs in namespace A on its veth end. Both directions must be there (outgoing frames
are the host's own traffic on a real interface), VLAN tags the kernel strips must be put back,
and the export must equal the export of what tcpdump captured alongside.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from captures import pcap_records
from live_traffic import (
    TCPWATCH,
    capturing,
    needs_root,
    needs_tcpdump,
    veth_pair,
    wait_until,
)

from capture.pcapio import CaptureError

pytestmark = [pytest.mark.live, pytest.mark.netns, pytest.mark.slow, needs_root, needs_tcpdump]

REPO = Path(__file__).resolve().parent.parent
# Documentation prefixes, inside namespaces only (RFC 5737, RFC 3849).
SERVERS = ("198.51.100.2", "2001:db8::2")
CLIENT = """
import socket, sys
for host in sys.argv[1:]:
    with socket.create_connection((host, 7000), timeout=5) as c:
        c.sendall(b"over the wire")
        assert c.recv(64) == b"over the wire"
"""
# Sent raw from B: two SYNs tagged VLAN 100 (the kernel moves the tag into metadata on receive;
# this build has no 8021q module for a VLAN device, which a tagged frame does not need).
TAGGED = """
import socket, sys
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Dot1Q, Ether
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("twb", 0))
for seq in (1000, 1000):
    f = Ether(dst=sys.argv[1], src=sys.argv[2]) / Dot1Q(vlan=100) / IP(
        src="203.0.113.2", dst="203.0.113.1") / TCP(sport=40000, dport=7000, flags="S", seq=seq)
    s.send(bytes(f))
"""
SERVER = """
import socket, sys, threading
def serve(host):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam); s.bind((host, 7000)); s.listen(8)
    while True:
        c, _ = s.accept()
        with c:
            while d := c.recv(65536): c.sendall(d)
for h in sys.argv[1:]:
    threading.Thread(target=serve, args=(h,), daemon=True).start()
print("ready", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def pair() -> Iterator[tuple[list[str], list[str]]]:
    """Namespaces A and B (as `ip netns exec` prefixes), veth twa<->twb."""
    with veth_pair("v") as (a, b):
        yield ["ip", "netns", "exec", a], ["ip", "netns", "exec", b]


def _frames(path: Path) -> list[bytes]:
    try:
        return [data for _ts, _wire, data, _lt in pcap_records(path)]
    except CaptureError:
        return []


def test_veth_capture_sees_both_directions_and_vlan_tags(pair, tmp_path) -> None:
    """Connections A->B (IPv4, IPv6) and tagged SYNs B->A: exported as tcpdump's capture says."""
    ns_a, ns_b = pair
    live_pcap, ref_pcap = tmp_path / "live.pcap", tmp_path / "ref.pcap"
    server = subprocess.Popen(
        [*ns_b, sys.executable, "-c", SERVER, *SERVERS], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert server.stdout is not None and server.stdin is not None
    assert server.stdout.readline().strip() == "ready"
    cli = [*ns_a, *TCPWATCH, "-i", "twa", "--export", "jsonl", "-w", str(live_pcap)]
    tw = subprocess.Popen(cli, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    dump = subprocess.Popen(
        [*ns_a, "tcpdump", "-i", "twa", "-n", "-U", "-w", str(ref_pcap), "tcp"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert wait_until(lambda: capturing(tw.pid) or tw.poll() is not None, 15)
        assert dump.stderr is not None and "listening on" in dump.stderr.readline()
        subprocess.run([*ns_a, sys.executable, "-c", CLIENT, *SERVERS], check=True, timeout=30)
        macs = [_mac(ns_a, "twa"), _mac(ns_b, "twb")]
        subprocess.run([*ns_b, sys.executable, "-c", TAGGED, *macs], check=True, timeout=30)
        assert wait_until(lambda: len(_frames(live_pcap)) == len(_frames(ref_pcap)) >= 22, 10)
    finally:
        tw.send_signal(signal.SIGTERM)
        dump.send_signal(signal.SIGINT)
        out, err = tw.communicate(timeout=20)
        dump.communicate(timeout=20)
        server.stdin.close()
        server.wait(timeout=10)
    assert tw.returncode == 0, err
    live = [json.loads(line) for line in out.splitlines()]
    ref = subprocess.run(
        [*TCPWATCH, "-r", str(ref_pcap), "--export", "jsonl"],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    theirs = [json.loads(line) for line in ref.stdout.splitlines()]
    assert _frames(live_pcap) == _frames(ref_pcap)
    assert [(r["resp_h"], r["vlan"], r["conn_state"]) for r in live] == [
        ("198.51.100.2", [], "SF"),
        ("2001:db8::2", [], "SF"),
        ("203.0.113.1", [100], "S0"),
    ]
    keys = ("orig_pkts", "resp_pkts", "orig_bytes", "resp_bytes", "history", "close_kind")
    assert [[r[k] for k in keys] for r in live] == [[r[k] for k in keys] for r in theirs]
    assert all(r["orig_bytes"] == r["resp_bytes"] == 13 for r in live[:2])
    assert live[2]["syn_retries"] == 1 and live[2]["history"] == "S"
    tagged = [f for f in _frames(live_pcap) if f[12:14] == b"\x81\x00"]
    assert len(tagged) == 2 and all(f[14:16] == b"\x00\x64" for f in tagged)


def _mac(ns: list[str], dev: str) -> str:
    out = subprocess.run([*ns, "cat", f"/sys/class/net/{dev}/address"], capture_output=True)
    return out.stdout.decode().strip()


def test_interface_going_away_ends_the_capture_in_one_line(pair) -> None:
    """The captured veth is deleted: tcpwatch stops with one line (not a spin, not a trace)."""
    ns_a, _ns_b = pair
    tw = subprocess.Popen(
        [*ns_a, *TCPWATCH, "-i", "twa", "--export", "jsonl"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert wait_until(lambda: capturing(tw.pid) or tw.poll() is not None, 15)
        subprocess.run([*ns_a, "ip", "link", "del", "twa"], check=True, timeout=20)
        _, err = tw.communicate(timeout=15)
    finally:
        if tw.poll() is None:
            tw.kill()
    assert tw.returncode != 0
    assert "Traceback" not in err
    assert err.splitlines()[-1] == "tcpwatch: live capture on twa stopped: Network is down", err
