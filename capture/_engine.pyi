"""Type stubs of the native engine (capture/engine, built by maturin as `capture._engine`)."""

from collections.abc import Callable
from typing import Any

class CaptureError(Exception):
    """A capture cannot be read; the message is one line, ready for the user."""

def version() -> str: ...
def filter_keywords() -> list[str]: ...
def interface_lines() -> list[str]: ...
def default_interface() -> str: ...
def analysis_kinds() -> list[tuple[int, str]]: ...

class Filter:
    """A compiled display filter; a bad expression raises `ValueError(msg, pos)`."""

    empty: bool
    def __init__(self, text: str) -> None: ...
    def matches(self, flow: Flow) -> bool: ...
    def __call__(self, flow: Flow) -> bool: ...

def check_live(
    iface: str = "", *, filter: str | None = None, write_path: str | None = None
) -> tuple[str, str]: ...
def run_file(
    path: str,
    *,
    print: bool = False,
    absolute: bool = False,
    utc: bool = False,
    export: str | None = None,
    output: str | None = None,
    max_flows: int = 250_000,
    verify_checksums: bool = False,
    filter: str = "",
    speed: float | None = None,
    insights: bool = False,
    stop: Callable[[], bool] | None = None,
    seed: int | None = None,
) -> dict[str, Any]: ...

class Transition:
    """One endpoint state change."""

    ts: float
    frame_no: int
    side: str
    old: str
    new: str

class Segment:
    """One kept segment with its frame."""

    frame_no: int
    ts: float
    nth: int
    """Its place among its flow's segments, from 1 (a gap: segments not kept)."""
    linktype: int
    frame: bytes
    wire_len: int
    truncated: bool
    ip_version: int
    ip_off: int
    src: bytes
    dst: bytes
    ip_len: int
    ttl: int
    vlan: tuple[int, ...]
    tcp_off: int
    sport: int
    dport: int
    seq: int
    ack: int
    flags: int
    window: int
    urg_ptr: int
    opts: bytes
    bad_opts: str
    payload_len: int
    analysis: int
    """Wireshark's TCP analysis of this segment: `analysis_kinds()` bits."""
    dup_ack: int
    """A duplicate ACK's number (#1, #2 ...); 0 when it is none."""
    dup_ack_of: int
    """The frame a duplicate ACK repeats; 0 when it is none."""
    def payload(self) -> bytes: ...

class Side:
    """One direction of a flow."""

    side: str
    state: str
    isn: int | None
    fin_seq: int
    fin_acked: bool
    got_fin: bool
    active: bool
    pkts: int
    ip_bytes: int
    payload: int
    noack: int
    syn: int
    synack: int
    fin: int
    rst: int
    psh: int
    urg: int
    ece: int
    cwr: int
    base: int
    rel_base: int | None
    hi: int
    retrans: int
    zero_window: int
    zero_window_open: bool
    mss: int | None
    wscale: int | None
    sack_perm: bool | None
    timestamps: bool | None
    tfo: bytes | None
    syn_data: int
    syn_ts: float
    synack_ts: float
    syn_times: list[float] | None
    synack_times: list[float] | None
    flags: dict[str, int]
    analysis: dict[str, int]

class Flow:
    """A snapshot of one flow the engine tracks."""

    id: int
    uid: str
    orig_addr: bytes
    orig_port: int
    resp_addr: bytes
    resp_port: int
    vlan: tuple[int, ...]
    direction_inferred: bool
    first_ts: float
    last_ts: float
    state_orig: str
    state_resp: str
    history: str
    conn_state: str
    closed: bool
    close_kind: str
    closed_by: str
    rst_by: str
    irtt: float | None
    rtt_syn_synack: float | None
    rtt_synack_ack: float | None
    syn_retries: int
    syn_retry_gaps: list[float]
    flag_counts: tuple[int, int, int, int, int, int, int, int, int, int]
    """Segments per flag over both sides (SYN, SYN/ACK, ACK, PSH, FIN, RST, URG, ECE, CWR), then
    illegal combinations."""
    synack_retries: int
    synack_retry_gaps: list[float]
    sack_perm: bool | None
    timestamps: bool | None
    time_wait_by: str
    illegal: dict[str, int] | None
    steady: bool
    superseded: bool
    analysis: dict[str, int]
    orig: Side
    resp: Side
    pid_orig: int | None
    pid_resp: int | None
    proc_orig: str | None
    proc_resp: str | None
    transitions: list[Transition]
    def frames(self) -> list[Segment]: ...
    def record(self) -> dict[str, Any]: ...

class Tracker:
    """Flows the engine owns, read one at a time."""

    def __init__(
        self,
        *,
        max_flows: int = 100_000,
        frames_per_flow: int = 64,
        frame_budget: int = 250_000,
        frame_bytes: int = 256 << 20,
        linger: float | None = None,
        embryos: bool = False,
        verify_checksums: bool = False,
        seed: int | None = None,
    ) -> None: ...
    def read_file(self, path: str, stop: Callable[[], bool] | None = None) -> dict[str, Any]: ...
    def finish(self) -> None: ...
    def flow(self, id: int) -> Flow | None: ...
    def flows(self) -> list[Flow]: ...
    def take_changed(self) -> list[int]: ...
    def take_gone(self) -> list[Flow]: ...
    def set_shedding(self, on: bool, ends: bool = False) -> None: ...
    def counters(self) -> dict[str, Any]: ...

class Session:
    """A capture read on an engine thread into flows the engine owns (the TUI's source)."""

    def __init__(
        self,
        path: str,
        *,
        name: str | None = None,
        speed: float | None = None,
        max_flows: int = 100_000,
        frames_per_flow: int = 64,
        frame_budget: int = 250_000,
        frame_bytes: int = 256 << 20,
        linger: float | None = None,
        verify_checksums: bool = False,
        seed: int | None = None,
        clock: float | None = None,
    ) -> None: ...
    @staticmethod
    def live(
        iface: str = "",
        *,
        filter: str | None = None,
        buffer_kib: int = 32768,
        write_path: str | None = None,
        count: int | None = None,
        duration: float | None = None,
        max_flows: int = 100_000,
        frames_per_flow: int = 64,
        frame_budget: int = 250_000,
        frame_bytes: int = 256 << 20,
        linger: float | None = None,
        print: bool = False,
        absolute: bool = False,
        export: str | None = None,
        display_filter: str = "",
        insights: bool = False,
        seed: int | None = None,
    ) -> Session: ...
    def start(self) -> None: ...
    def poll(
        self,
        max_changed: int | None = None,
        first: list[int] = ...,
        matching: Filter | None = None,
        max_events: int | None = None,
    ) -> dict[str, Any]: ...
    def flag_minute(self, matching: Filter) -> list[tuple[int, int]]: ...
    def set_clock(self, seconds: float) -> None: ...
    def set_shedding(self, on: bool, ends: bool = False) -> None: ...
    def set_process(self, flow_id: int, side: str, pid: int | None, name: str | None) -> bool: ...
    def flow(self, id: int) -> Flow | None: ...
    def flows(self) -> list[Flow]: ...
    def counters(self) -> dict[str, Any]: ...
    def stop(self) -> None: ...
