"""Live capture: the engine's sniffer thread (libpcap) feeding flows the engine owns.

`LiveSource` opens the capture through the engine (`capture._engine.Session.live`: the
interface, the kernel filter, `-w`, the privilege check with its hint), drops root if asked,
then starts the engine's threads without the GIL: the sniffer drains the ring and writes `-w`,
a tracker thread decodes and tracks what it hands over (frames it had no room for are counted
as queue drops).
Python keeps what Python is for: the process that owns each end (psutil, on its own thread),
our listening sockets (they orient flows seen mid-stream), and the privilege drop. The App and
the headless modes read it as any `EngineSource`: what changed since the last step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from capture.engine_source import FRAMES_PER_FLOW, EngineSource, EngineStep
from capture.live import privs
from capture.live.procs import ProcessMapper
from capture.live.sockettable import RootSocketTable
from capture.native import load
from capture.sources import SourceStats

DEFAULT_BUFFER_KIB = 32768
"""The ring is the receive buffer: 32 MiB holds ~150,000 small frames, seconds of scheduling
stalls at loopback rates (default socket buffers, ~200 KiB, overflow within milliseconds).
See BENCHMARKS.md "Live capture"."""


class LiveError(Exception):
    """Live capture cannot start or failed (one-line message for the user)."""


@dataclass(slots=True)
class _Owners:
    """A flow's ends and their owners, as `ProcessMapper.annotate` reads and sets them."""

    orig_addr: bytes
    orig_port: int
    resp_addr: bytes
    resp_port: int
    pid_orig: int | None
    proc_orig: str | None
    pid_resp: int | None
    proc_resp: str | None


class LiveSource(EngineSource):
    """A network interface read live by the engine (see the module docstring)."""

    def __init__(
        self,
        iface: str | None = None,
        bpf: str | None = None,
        buffer_kib: int = DEFAULT_BUFFER_KIB,
        write_path: str | None = None,
        count: int | None = None,
        duration: float | None = None,
        drop_privileges: bool = True,
        processes: bool = True,
        max_flows: int = 100_000,
        outputs: dict[str, Any] | None = None,
        seed: int | None = None,
    ) -> None:
        """Open the capture (the step that needs privilege); nothing is read before `start`.

        Raises `LiveError` (one line) for an unknown interface, a bad filter, an unwritable
        `write_path`, or missing privilege (saying how to get it). `outputs` (headless runs):
        `print`, `absolute`, `export`, `display_filter`, `insights` for the engine to write as
        it goes; `seed` fixes the flows' uids (None: the engine draws one).
        """
        engine = load()
        try:  # everything that can be said before anything opens
            self.iface, kernel_filter = engine.check_live(
                iface or "", filter=bpf or None, write_path=write_path
            )
        except engine.CaptureError as exc:
            raise LiveError(str(exc)) from None
        self._open_args: dict[str, Any] = {
            "filter": bpf or None,
            "buffer_kib": buffer_kib,
            "write_path": write_path,
            "count": count,
            "duration": duration,
            "max_flows": max_flows,
            "frames_per_flow": FRAMES_PER_FLOW,
            "seed": seed,
            **(outputs or {}),
        }
        self.bpf = bpf or ""
        """The capture filter as given (`-f`), without the built-in TCP-only part."""
        description = f"live {self.iface}" + (f" ({bpf})" if bpf else "")
        self._adopt(None, description, kernel_filter)
        self.write_path = write_path
        self.drop_privileges = drop_privileges
        self.dropped_to: str | None = None
        self._table: RootSocketTable | None = None
        self._started = False
        self.procs: ProcessMapper | None = ProcessMapper() if processes else None
        """Socket → process attribution (its own thread), started and stopped with the source."""
        self._listeners_sent = -1
        """The `listen_version` of the listening endpoints the engine has (-1: none yet)."""

    def start(self) -> None:
        """Open the capture (the step that needs privilege), drop privileges if asked, then
        start the engine's sniffer thread (it creates `-w` now, as the invoking user) and
        process attribution. A second call does nothing, so a caller may start early (to
        report an error before any UI exists)."""
        if self._started:
            return
        self._started = True
        engine = load()
        try:
            self.session = engine.Session.live(self.iface, **self._open_args)
        except engine.CaptureError as exc:
            self.finished = True
            raise LiveError(str(exc)) from None
        try:
            if self.drop_privileges:
                self._keep_socket_owners()
                self.dropped_to = privs.drop_privileges()
            self.session.start()
        except OSError as exc:
            self.session.stop()
            raise LiveError(_one_line(exc)) from None
        except engine.CaptureError as exc:
            self.session.stop()
            raise LiveError(str(exc)) from None
        if self.procs is not None:
            self.procs.start()
            # The first socket table, before segments are tracked: our listeners orient flows
            # already under way (bounded; a slow /proc only delays attribution).
            self.procs.wait_ready(1.0)
            self._send_listeners()

    def _keep_socket_owners(self) -> None:
        """About to drop root under sudo: a root helper keeps reading every socket's owner
        (`capture.live.sockettable`); without it, other users' processes would be unknown."""
        if self.procs is None or privs.sudo_user() is None:
            return
        try:
            self._table = RootSocketTable()
        except OSError:
            return  # attribution then covers this user's processes only
        self.procs.read_table_with(self._table.connections)

    def stop(self) -> None:
        """Stop the sniffer and wait for it: `-w` flushed and closed, the handle closed."""
        if self.session is None:
            self.finished = True
        else:
            self.session.stop()
        if self.procs is not None:
            self.procs.stop()
        if self._table is not None:
            self._table.stop()

    def stats(self) -> SourceStats:
        """Frames, TCP segments, malformed and non-TCP counts, kernel and queue drops so far."""
        if self.session is None:
            return SourceStats()
        stats = super().stats()
        stats.kernel_drops = int(self.polled.get("kernel_drops", 0))
        stats.queue_drops = int(self.polled.get("queue_drops", 0))
        return stats

    def step(
        self,
        max_changed: int | None = None,
        first: Sequence[int] = (),
        matching: Any = None,
        max_events: int | None = None,
    ) -> Any:
        """`EngineSource.step`, then our listeners and the owners of the flows that changed."""
        if self.session is None:  # not started yet
            return EngineStep()
        out = super().step(max_changed, first, matching, max_events)
        if self.procs is not None:
            self._send_listeners()
            for fid in out.changed:
                flow = self.flows.get(fid)
                if flow is not None:
                    self.annotate(flow)
        return out

    def _send_listeners(self) -> None:
        """Hand the engine our listening endpoints when they changed (it takes its lock: each
        step would wait for the tracker's batch in hand)."""
        assert self.procs is not None
        version = self.procs.listen_version
        if version != self._listeners_sent:
            self._listeners_sent = version
            self.session.set_listen_ports(list(self.procs.listen_keys()))

    def annotate(self, flow: Any) -> None:
        """Name the processes owning the flow's ends (in the engine, which keeps them)."""
        procs = self.procs
        if procs is None:
            return
        if not (procs.may_own(flow.orig_addr) or procs.may_own(flow.resp_addr)):
            return  # passing by (a mirror port, a router): ~4 us a flow saved on the UI thread
        owners = _Owners(
            flow.orig_addr, flow.orig_port, flow.resp_addr, flow.resp_port,
            flow.pid_orig, flow.proc_orig, flow.pid_resp, flow.proc_resp,
        )  # fmt: skip
        procs.annotate(owners)
        for side in ("orig", "resp"):
            pid, name = getattr(owners, f"pid_{side}"), getattr(owners, f"proc_{side}")
            if (pid, name) != (getattr(flow, f"pid_{side}"), getattr(flow, f"proc_{side}")):
                self.session.set_process(flow.id, side, pid, name)

    def annotate_all(self) -> None:
        """Name the owners of every tracked flow (a headless run's end, before its export)."""
        if self.procs is not None:
            for flow in self.session.flows():
                self.annotate(flow)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
