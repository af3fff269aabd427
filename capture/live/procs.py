"""Socket → process attribution from the kernel's socket table (psutil), on its own thread.

A refresh (about once a second) builds fresh lookup tables and swaps them in whole, so readers on
other threads never see a half-built table and never wait. Owners of sockets that have gone are
remembered (bounded) and reported as stale: a flow's client is usually gone by the time its last
FIN is seen. Processes that vanish mid-refresh or deny access are normal, not errors.
"""

from __future__ import annotations

import socket
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, Protocol

import psutil

REFRESH_SECONDS = 1.0
REMEMBER = 65536
"""How many vanished sockets keep their last known owner."""

Endpoint = tuple[bytes, int]
_WILD4 = bytes(4)
_WILD6 = bytes(16)
_MAPPED = bytes(10) + b"\xff\xff"


@dataclass(frozen=True, slots=True)
class ProcInfo:
    """The process owning a socket: pid, name, user; `stale` once the socket has gone."""

    pid: int
    name: str
    user: str
    stale: bool = False

    def label(self) -> str:
        """`name[pid]`, marked when the socket is gone."""
        return f"{self.name}[{self.pid}]" + (" (gone)" if self.stale else "")


class _Annotatable(Protocol):
    orig_addr: bytes
    orig_port: int
    resp_addr: bytes
    resp_port: int
    proc_orig: str | None
    proc_resp: str | None
    pid_orig: int | None
    pid_resp: int | None


def addr_bytes(text: str) -> bytes:
    """An address as raw bytes; IPv4-mapped IPv6 becomes IPv4, as the capture shows it."""
    if ":" in text:
        raw = socket.inet_pton(socket.AF_INET6, text.split("%")[0])
        return raw[12:] if raw[:12] == _MAPPED else raw
    return socket.inet_pton(socket.AF_INET, text)


class ProcessMapper:
    """Maps local TCP endpoints to processes; `start()` runs the refresh thread."""

    def __init__(
        self,
        interval: float = REFRESH_SECONDS,
        connections: Callable[[], Iterable[Any]] | None = None,
    ) -> None:
        """`connections` stands in for `psutil.net_connections(kind="tcp")` (same records)."""
        self.interval = interval
        self.error: str | None = None
        self._connections = connections or (lambda: psutil.net_connections(kind="tcp"))
        self._by_tuple: dict[tuple[bytes, int, bytes, int], ProcInfo] = {}
        self._by_local: dict[Endpoint, ProcInfo] = {}
        self._listen: dict[Endpoint, ProcInfo] = {}
        self._local_addrs: frozenset[bytes] = frozenset()
        self._seen_addrs: set[bytes] = set()
        """Local addresses of every socket the table has shown (bounded: see `refresh`)."""
        self._owning: frozenset[bytes] = frozenset()
        """`_seen_addrs` as of the last refresh, swapped in whole for readers."""
        self._gone: OrderedDict[tuple[bytes, int, bytes, int], ProcInfo] = OrderedDict()
        self._gone_local: OrderedDict[Endpoint, ProcInfo] = OrderedDict()
        self._gone_listen: OrderedDict[Endpoint, ProcInfo] = OrderedDict()
        self._procs: dict[int, tuple[float, str, str]] = {}
        self.listen_ports: set[Endpoint | int] = set()
        """Listening endpoints for `FlowTracker.listen_ports`, kept up to date in place:
        (addr, port), or the bare port for a wildcard bind (every local address)."""
        self.listen_version = 0
        """Bumped by each refresh that changed `listen_ports` (after changing it)."""
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    def read_table_with(self, connections: Callable[[], Iterable[Any]]) -> None:
        """Read the socket table through `connections` from now on (a root helper, say)."""
        self._connections = connections

    def start(self) -> None:
        """Start the refresh thread (named, daemon); the first table is built at once."""
        self._thread = threading.Thread(target=self._run, name="tcpwatch-procs", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the refresh thread and wait for it (bounded)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)

    def wait_ready(self, timeout: float) -> bool:
        """Wait until the first refresh is done."""
        return self._ready.wait(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.refresh()
            except Exception as exc:  # psutil failing as a whole: report, keep the old table
                self.error = f"process table unavailable: {' '.join(str(exc).split())}"
            self._ready.set()
            self._stop.wait(self.interval)

    def refresh(self) -> None:
        """Read the socket table once and swap in new lookup tables."""
        by_tuple: dict[tuple[bytes, int, bytes, int], ProcInfo] = {}
        by_local: dict[Endpoint, ProcInfo] = {}
        listen: dict[Endpoint, ProcInfo] = {}
        for conn in self._connections():
            info = self._process(conn.pid)
            if info is None or not conn.laddr:
                continue
            local = (addr_bytes(conn.laddr[0]), int(conn.laddr[1]))
            if conn.status == psutil.CONN_LISTEN:
                listen[local] = info
            elif conn.raddr:
                by_tuple[(*local, addr_bytes(conn.raddr[0]), int(conn.raddr[1]))] = info
                by_local.setdefault(local, info)
        self._remember(self._by_tuple, by_tuple, self._gone)
        self._remember(self._by_local, by_local, self._gone_local)
        self._remember(self._listen, listen, self._gone_listen)
        self._local_addrs = _local_addresses()
        self._by_tuple, self._by_local, self._listen = by_tuple, by_local, listen
        seen = {key[0] for table in (by_tuple, by_local, listen) for key in table}
        self._seen_addrs |= seen
        if len(self._seen_addrs) > REMEMBER:  # sockets bound to ever new (non-local) addresses
            gone = (self._gone, self._gone_local, self._gone_listen)
            self._seen_addrs = seen | {key[0] for table in gone for key in table}
        self._owning = frozenset(self._seen_addrs)
        keys = {port if addr in (_WILD4, _WILD6) else (addr, port) for addr, port in listen}
        if keys != self.listen_ports:
            # In place, removals first: a tracker holding this set never sees it empty
            # mid-refresh.
            self.listen_ports.difference_update(self.listen_ports - keys)
            self.listen_ports.update(keys)
            self.listen_version += 1
        live = {info.pid for info in (*by_tuple.values(), *listen.values())}
        self._procs = {pid: v for pid, v in self._procs.items() if pid in live}

    @staticmethod
    def _remember(
        old: dict[Any, ProcInfo], new: dict[Any, ProcInfo], gone: OrderedDict[Any, ProcInfo]
    ) -> None:
        for key, info in old.items():
            if key not in new:
                gone[key] = replace(info, stale=True)
                gone.move_to_end(key)
        for key in new:
            gone.pop(key, None)
        while len(gone) > REMEMBER:
            gone.popitem(last=False)

    def _process(self, pid: int | None) -> ProcInfo | None:
        if not pid:
            return None
        try:
            proc = psutil.Process(pid)
            created = proc.create_time()
            cached = self._procs.get(pid)
            if cached is None or cached[0] != created:  # a new process reusing the pid
                cached = (created, proc.name(), _user(proc))
                self._procs[pid] = cached
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            return None
        except psutil.AccessDenied:
            return ProcInfo(pid, "?", "?")
        return ProcInfo(pid, cached[1], cached[2])

    def owner(self, addr: bytes, port: int, peer: Endpoint | None = None) -> ProcInfo | None:
        """The process owning the local endpoint (`addr`, `port`), or None when unknown.

        With `peer`, the exact connection is tried first; then a listening socket (the server
        side, even after the accepted socket is gone); then any socket on that endpoint; then
        the last known owners (stale).
        """
        if peer is not None:
            found = self._by_tuple.get((addr, port, *peer))
            if found is not None:
                return found
        found = self._listener(addr, port) or self._by_local.get((addr, port))
        if found is not None:
            return found
        if peer is not None:
            found = self._gone.get((addr, port, *peer))
        local = (addr, port)
        return found or self._gone_listen.get(local) or self._gone_local.get(local)

    def _listener(self, addr: bytes, port: int) -> ProcInfo | None:
        found = self._listen.get((addr, port))
        if found is None and self._is_local(addr):
            found = self._listen.get((_WILD4 if len(addr) == 4 else _WILD6, port))
            if found is None and len(addr) == 4:  # a dual-stack listener on [::]
                found = self._listen.get((_WILD6, port))
        return found

    def may_own(self, addr: bytes) -> bool:
        """Whether a socket here may own an endpoint at `addr`: it is one of this host's
        addresses (loopback included), or one the socket table has shown (a socket bound to
        another, `IP_TRANSPARENT`). `owner` finds no owner for any other address."""
        return addr in self._owning or self._is_local(addr)

    def _is_local(self, addr: bytes) -> bool:
        """One of this host's addresses, or any loopback address (127/8 is all this host's)."""
        return addr in self._local_addrs or (len(addr) == 4 and addr[0] == 127)

    def listening(self) -> set[Endpoint]:
        """Listening endpoints; wildcard binds appear with an all-zero address."""
        return set(self._listen)

    def listen_keys(self) -> set[Endpoint | int]:
        """A copy of `listen_ports`."""
        return set(self.listen_ports)

    def is_listening(self, addr: bytes, port: int) -> bool:
        """Whether a local socket listens on this endpoint (wildcard binds included)."""
        return self._listener(addr, port) is not None

    def annotate(self, flow: _Annotatable) -> None:
        """Set `pid_orig/proc_orig` and `pid_resp/proc_resp` on a flow where the owner is known.

        An owner known only from memory (its socket already gone when the flow was first
        attributed) is marked `name (gone)`; an owner seen live is kept as it was.
        """
        mine = self.owner(flow.orig_addr, flow.orig_port, (flow.resp_addr, flow.resp_port))
        if mine is not None and (flow.pid_orig is None or not mine.stale):
            flow.pid_orig, flow.proc_orig = mine.pid, _shown(mine)
        theirs = self.owner(flow.resp_addr, flow.resp_port, (flow.orig_addr, flow.orig_port))
        if theirs is not None and (flow.pid_resp is None or not theirs.stale):
            flow.pid_resp, flow.proc_resp = theirs.pid, _shown(theirs)


def _shown(info: ProcInfo) -> str:
    return f"{info.name} (gone)" if info.stale else info.name


def _user(proc: psutil.Process) -> str:
    try:
        return str(proc.username())
    except (psutil.AccessDenied, KeyError):
        try:
            return str(proc.uids().real)
        except psutil.Error:
            return "?"


def _local_addresses() -> frozenset[bytes]:
    out = set()
    for addrs in psutil.net_if_addrs().values():
        for a in addrs:
            if a.family in (socket.AF_INET, socket.AF_INET6):
                try:
                    out.add(addr_bytes(a.address))
                except OSError:
                    continue
    return frozenset(out)


@dataclass(frozen=True, slots=True)
class RetrySchedule:
    """When Linux retransmits an unanswered SYN (or SYN/ACK), from the sysctls."""

    retries: int
    timeouts: tuple[float, ...]
    """The timeout before each retransmission, then the last wait before giving up."""

    def retry_offsets(self) -> list[float]:
        """Seconds after the first transmission at which each retransmission is due."""
        out, t = [], 0.0
        for gap in self.timeouts[:-1]:
            t += gap
            out.append(t)
        return out

    @property
    def give_up_after(self) -> float:
        """Seconds after the first transmission at which the kernel gives up."""
        return sum(self.timeouts)

    def next_retry(self, first_ts: float, retries_seen: int) -> float | None:
        """Expected time of the next retransmission, or None when the next event is giving up."""
        offsets = self.retry_offsets()
        if retries_seen >= len(offsets):
            return None
        return first_ts + offsets[retries_seen]


INITIAL_RTO = 1.0
"""TCP_TIMEOUT_INIT (RFC 6298 section 2.1)."""
RTO_MAX = 120.0
SYSCTL_DIR = "/proc/sys/net/ipv4"


def retry_schedule(
    synack: bool = False, sysctl_dir: str = SYSCTL_DIR, syn_retries: int | None = None
) -> RetrySchedule:
    """The schedule for SYNs (client side) or SYN/ACKs (server side) on this host.

    SYN/ACKs: `tcp_synack_retries` retransmissions, exponential from 1 s (1, 3, 7, 15, 31 s;
    given up at 63 s). SYNs: the retry count is turned into a time budget as if the timeouts
    doubled, (2^(n+1) - 1) s (Linux `tcp_model_timeout`), while the first
    `tcp_syn_linear_timeouts` retransmissions (Linux 6.x; absent means 0) keep a 1 s timeout:
    with the defaults (6 retries, 4 linear) SYNs go at 1, 2, 3, 4, 5, 7, 11, 19, 35, 67 s and the
    kernel gives up at 131 s; on older kernels at 1, 3, 7, 15, 31, 63 s and gives up at 127 s.
    `syn_retries` stands for a socket's own TCP_SYNCNT.
    """
    if synack:
        retries = _sysctl(sysctl_dir, "tcp_synack_retries", 5)
        return RetrySchedule(retries, tuple(INITIAL_RTO * (1 << k) for k in range(retries + 1)))
    retries = syn_retries if syn_retries is not None else _sysctl(sysctl_dir, "tcp_syn_retries", 6)
    linear = _sysctl(sysctl_dir, "tcp_syn_linear_timeouts", 0)
    budget = _model_timeout(retries)
    timeouts: list[float] = []
    elapsed, k = 0.0, 0
    while elapsed < budget:  # each timer expiry past the budget gives up instead of resending
        rto = min(INITIAL_RTO * (1 << max(0, k - linear)), RTO_MAX)
        timeouts.append(rto)
        elapsed += rto
        k += 1
    return RetrySchedule(len(timeouts) - 1, tuple(timeouts))


def _model_timeout(boundary: int) -> float:
    # Linux tcp_model_timeout() with the SYN's base RTO of 1 s.
    thresh = 6  # ilog2(TCP_RTO_MAX / 1 s)
    if boundary <= thresh:
        return float((2 << boundary) - 1) * INITIAL_RTO
    return float((2 << thresh) - 1) * INITIAL_RTO + (boundary - thresh) * RTO_MAX


def _sysctl(directory: str, name: str, default: int) -> int:
    try:
        with open(f"{directory}/{name}", encoding="ascii") as fh:
            return int(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        return default
