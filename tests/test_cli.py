"""The headless CLI as a user runs it: --print against tcpdump, --export, errors, totals."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent


def tcpwatch(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        input=stdin.decode("latin-1") if stdin else None,
        env={"TZ": "UTC", "PATH": "/usr/bin:/bin"},
    )


# The part of a tcpdump -n line both tools must agree on: addresses, flags, seq, ack, win, length.
_CORE = re.compile(
    r"^(?P<time>\S+) (?P<ip>IP6?) (?P<src>\S+) > (?P<dst>\S+): Flags \[(?P<flags>[^\]]*)\]"
    r"(?:, seq (?P<seq>[\d:]+))?(?:, ack (?P<ack>\d+))?, win (?P<win>\d+)"
    r".*?, length (?P<len>\d+)"
)


def core_fields(line: str) -> dict[str, str | None]:
    match = _CORE.match(line)
    assert match, line
    return match.groupdict()


@pytest.mark.skipif(not shutil.which("tcpdump"), reason="tcpdump is not installed")
@pytest.mark.parametrize(
    "name",
    [
        "tcpdump_print-flags.pcap",
        "zeek_tcp_options.pcap",
        "pcapplusplus_four_ipv6_http_streams.pcap",
        "zeek_ssh_single-conn.pcap",
        "tcpdump_tcp-handshake-nano.pcap",
    ],
)
@pytest.mark.parametrize("absolute", [True, False])
def test_print_agrees_with_tcpdump(name: str, absolute: bool) -> None:
    """Every --print line carries tcpdump's flags, seq, ack, window and length."""
    extra = ["-S"] if absolute else []
    ours = tcpwatch("-r", str(DATA / name), "--print", *extra)
    assert ours.returncode == 0, ours.stderr
    theirs = subprocess.run(
        ["tcpdump", "-n", "-r", str(DATA / name), *extra, "tcp"],
        capture_output=True,
        text=True,
        env={"TZ": "UTC"},
    )
    ours_lines = ours.stdout.splitlines()
    theirs_lines = [line for line in theirs.stdout.splitlines() if " Flags [" in line]
    assert len(ours_lines) == len(theirs_lines) > 0
    for mine, ref in zip(ours_lines, theirs_lines, strict=True):
        assert core_fields(mine) == core_fields(ref)
        assert re.search(r"  #\d+", mine)


def test_print_names_state_transitions() -> None:
    """The handshake lines end with the flow id and the states entered."""
    run = tcpwatch("-r", str(DATA / "tcpdump_print-flags.pcap"), "--print")
    lines = run.stdout.splitlines()
    assert lines[0].endswith("#1 client SYN_SENT")
    assert "server SYN_RECEIVED" in lines[1]
    assert "ESTABLISHED" in lines[2]


def test_export_jsonl_and_csv_hold_the_same_flows() -> None:
    """JSON lines and CSV exports carry the same records, Zeek field names first (the same
    uids, from the same seed)."""
    path = str(DATA / "zeek_nmap-vsn.pcap")
    jsonl = tcpwatch("-r", path, "--export", "jsonl", "--seed", "5")
    as_csv = tcpwatch("-r", path, "--export", "csv", "--seed", "5")
    records = [json.loads(line) for line in jsonl.stdout.splitlines()]
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert len(records) == len(rows) > 1
    assert list(records[0])[:6] == ["ts", "uid", "orig_h", "orig_p", "resp_h", "resp_p"]
    for record, row in zip(records, rows, strict=True):
        assert row["uid"] == record["uid"]
        assert row["conn_state"] == record["conn_state"]
        assert json.loads(row["flags_orig"]) == record["flags_orig"]


def test_port_and_host_select_flows() -> None:
    """-p and --host keep only the flows they name."""
    path = str(DATA / "zeek_nmap-vsn.pcap")
    every = [json.loads(x) for x in tcpwatch("-r", path, "--export", "jsonl").stdout.splitlines()]
    port = every[0]["resp_p"]
    some = tcpwatch("-r", path, "--export", "jsonl", "-p", str(port)).stdout.splitlines()
    assert 0 < len(some) < len(every)
    assert all(port in (json.loads(x)["orig_p"], json.loads(x)["resp_p"]) for x in some)
    host = tcpwatch("-r", path, "--export", "jsonl", "--host", "192.0.2.1").stdout
    assert host == ""


def test_totals_line_on_stderr() -> None:
    """A headless run ends with frames, segments, malformed, flows and evictions on stderr."""
    run = tcpwatch("-r", str(DATA / "tcpreplay_test.pcap"), "--export", "jsonl")
    assert run.returncode == 0
    last = run.stderr.strip().splitlines()[-1]
    assert re.match(
        r"tcpwatch: \d+ frames, 116 TCP segments, 0 malformed, \d+ flows, 0 evicted", last
    ), last


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-r", "/nonexistent.pcap", "--print"], "no such file"),
        (["-r", "README.md", "--print"], "not a pcap or pcapng file"),
        (["-r", "tests", "--export", "jsonl"], "is a directory"),
        (
            ["-r", "tests/data/zeek_web.pcap", "-Y", "port 80 and (", "--print"],
            "bad display filter",
        ),
        (["-r", "tests/data/zeek_web.pcap", "-i", "lo"], "not both"),
        (["-r", "tests/data/zeek_web.pcap", "-p", "70000", "--print"], "out of range"),
    ],
)
def test_bad_input_is_one_line_and_status_2(args: list[str], message: str) -> None:
    """Bad input: one line on stderr, exit status 2, no traceback."""
    run = tcpwatch(*args)
    assert run.returncode == 2
    assert message in run.stderr
    assert "Traceback" not in run.stderr
    assert len([line for line in run.stderr.splitlines() if line.startswith("tcpwatch")]) == 1


def test_cut_file_is_processed_then_reported(tmp_path: Path) -> None:
    """A capture cut short mid-record: its flows are exported, then a one-line error, status 2."""
    cut = tmp_path / "cut.pcap"
    cut.write_bytes((DATA / "zeek_ssh_single-conn.pcap").read_bytes()[:-100])
    run = tcpwatch("-r", str(cut), "--export", "jsonl")
    assert run.returncode == 2
    assert len(run.stdout.splitlines()) == 1
    assert "ends inside a record" in run.stderr.strip().splitlines()[-1]


def test_insight_thresholds_change_the_findings() -> None:
    """--insight-threshold raises the bar a scan must pass; a bad name is one line, status 2."""
    path = str(DATA / "chrissanders_synscan.pcapng")
    default = tcpwatch("-r", path, "--export", "jsonl", "--insights", "-o", "/dev/null")
    kinds = {json.loads(line)["kind"] for line in default.stdout.splitlines()}
    assert "port_scan" in kinds
    strict = tcpwatch(
        "-r",
        path,
        "--export",
        "jsonl",
        "--insights",
        "-o",
        "/dev/null",
        "--insight-threshold",
        "scan_min_flows=1000000",
        "--insight-threshold",
        "scan_min_targets=1000000",
    )
    kinds = {json.loads(line)["kind"] for line in strict.stdout.splitlines()}
    assert "port_scan" not in kinds
    bad = tcpwatch("-r", path, "--insights", "--insight-threshold", "nonsense=1")
    assert bad.returncode == 2 and "unknown insight threshold" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_linger_defaults_keep_a_loaded_file_whole() -> None:
    """Closed rows leave after 10 s live and in a replay; a loaded file keeps all its flows."""
    from tui.cli import build_parser
    from tui.run import view_linger

    parse = build_parser().parse_args
    assert view_linger(parse(["-r", "x.pcap"])) == float("inf")
    assert view_linger(parse(["-r", "x.pcap", "--replay"])) == 10.0
    assert view_linger(parse(["-i", "lo"])) == 10.0
    assert view_linger(parse(["-r", "x.pcap", "--linger", "3"])) == 3.0
    assert tcpwatch("-r", "x.pcap", "--linger", "-1").returncode == 2


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("tcpdump_tcp_rst_data.pcap", "rst_with_data"),
        ("chrissanders_tcp_zerowindowdead.pcapng", "zero_window"),
    ],
)
def test_headless_insights_see_the_frames_they_need(name: str, kind: str) -> None:
    """--insights keeps handshake/teardown frames: RST data and unrecovered zero windows show."""
    run = tcpwatch("-r", str(DATA / name), "--export", "jsonl", "--insights", "-o", "/dev/null")
    findings = [json.loads(line) for line in run.stdout.splitlines()]
    assert any(f["kind"] == kind and f["severity"] == "warning" for f in findings), findings


def test_piped_capture_without_a_terminal_for_keys_is_one_line() -> None:
    """`-r -` in the TUI needs a terminal for its keys; with none (a new session without a
    controlling terminal), one line says what to use instead."""
    run = subprocess.run(
        [sys.executable, "-m", "tui.cli", "-r", "-"], cwd=ROOT, timeout=60, capture_output=True,
        input=(DATA / "zeek_nmap-vsn.pcap").read_bytes(), start_new_session=True,
        env={"TZ": "UTC", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert run.returncode == 2
    assert run.stderr.decode().splitlines() == [
        "tcpwatch: -r - reads the capture from standard input, so the TUI needs a terminal for "
        "its keys and there is none: use --print or --export"
    ]


@pytest.mark.parametrize("mode", [["--print"], ["--export", "jsonl"], ["--export", "csv"]])
def test_a_reader_that_goes_away_ends_it_quietly(mode: list[str]) -> None:
    """`tcpwatch -r FILE --print | head -1`: the pipe closes under tcpwatch, which ends as a
    command that SIGPIPE ends (status 141), without a traceback. (The scan's ~2 MB of records
    do not fit in the pipe's buffer.)"""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "-r", str(DATA / "chrissanders_synscan.pcapng"), *mode],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={"TZ": "UTC", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141, err
    assert err == ""


@pytest.mark.parametrize(
    ("mode", "where"),
    [
        (["--print"], "standard output"),
        (["--export", "csv"], "standard output"),
        (["--export", "jsonl", "-o", "/dev/full"], "/dev/full"),
    ],
)
def test_an_output_that_cannot_be_written_is_one_line(mode: list[str], where: str) -> None:
    """A full disk under the output (here /dev/full): one line naming it, status 1."""
    with open("/dev/full", "wb") as full:
        run = subprocess.run(
            [sys.executable, "-m", "tui.cli", "-r", str(DATA / "chrissanders_synscan.pcapng"),
             *mode],
            cwd=ROOT, stdout=full, stderr=subprocess.PIPE, timeout=60, text=True,
            env={"TZ": "UTC", "PATH": "/usr/bin:/bin"},
        )  # fmt: skip
    assert run.returncode == 1
    assert run.stderr.splitlines() == [f"tcpwatch: cannot write {where}: No space left on device"]


def test_a_syn_ack_never_acknowledged_leaves_the_originator_syn_sent() -> None:
    """synscan's probes answered by SYN/ACKs the scanner never ACKed: state_orig is SYN_SENT
    (it said ESTABLISHED), while Zeek's history `Sh` and conn_state S1 are unchanged."""
    run = tcpwatch("-r", str(DATA / "chrissanders_synscan.pcapng"), "--export", "jsonl")
    records = [json.loads(line) for line in run.stdout.splitlines()]
    probes = [r for r in records if r["history"] == "Sh"]
    assert len(probes) == 3
    for r in probes:
        assert (r["state_orig"], r["state_resp"], r["conn_state"]) == (
            "SYN_SENT",
            "SYN_RECEIVED",
            "S1",
        )
    lines = tcpwatch("-r", str(DATA / "chrissanders_tcp_handshake.pcapng"), "--print").stdout
    synack, ack = lines.splitlines()[1:3]
    assert synack.endswith("#1 server SYN_RECEIVED")
    assert ack.endswith("#1 client ESTABLISHED; server ESTABLISHED")


def _relative_lines_of_tcpdump(lines: list[str]) -> list[tuple[int, dict[str, str | None]]]:
    """(index, core fields) of tcpdump -n lines that carry relative numbers: tcpdump numbers
    only segments with ACK, prints a SYN's absolute, and prints absolute the first ACK line of
    each connection (the one it takes both bases from)."""
    seen: set[frozenset[str]] = set()
    out = []
    for i, line in enumerate(lines):
        fields = core_fields(line)
        flags = fields["flags"] or ""
        if "." not in flags:
            continue
        key = frozenset({fields["src"] or "", fields["dst"] or ""})
        first = key not in seen
        seen.add(key)
        if not first and "S" not in flags:
            out.append((i, fields))
    return out


@pytest.mark.skipif(not shutil.which("tcpdump"), reason="tcpdump is not installed")
@pytest.mark.parametrize(
    "name",
    [
        "chrissanders_tcp_teardown.pcapng",  # starts with the server's FIN
        "chrissanders_tcp_zerowindowrecovery.pcapng",  # mid-stream, one way then the other
        "zeek_tcp_missing-syn.pcap",  # the SYN/ACK first
        "zeek_tcp_http-on-irc-port-missing-syn.pcapng",
        "zeek_tcp_one-sided-2745.pcap",  # only the responder's side
        "zeek_tcp_ctu-64702-888.pcap",
        "zeek_tcp_retransmit-timeout.pcapng",  # a data segment first
        "zeek_wikipedia.pcap",  # handshakes and a flow already open
        "chrissanders_http_espn_fail.pcapng",
        "zeek_ssh_single-conn.pcap",
        "zeek_tcp_rst-inject-rae.pcap",  # an RST before the SYN/ACK: the SYN/ACK re-bases
    ],
)
def test_relative_numbers_are_tcpdumps_where_it_prints_them(name: str) -> None:
    """Wherever tcpdump -n prints relative seq/ack, --print prints the same numbers, flows seen
    mid-stream included (issue 12 #13: they were one off, beside an absolute ack)."""
    ours = tcpwatch("-r", str(DATA / name), "--print").stdout.splitlines()
    theirs = subprocess.run(
        ["tcpdump", "-n", "-r", str(DATA / name), "tcp"],
        capture_output=True,
        text=True,
        env={"TZ": "UTC"},
    ).stdout.splitlines()
    theirs = [line for line in theirs if " Flags [" in line]
    assert len(ours) == len(theirs) > 0
    compared = _relative_lines_of_tcpdump(theirs)
    assert compared
    for i, ref in compared:
        mine = core_fields(ours[i])
        assert (mine["seq"], mine["ack"]) == (ref["seq"], ref["ack"]), (ours[i], theirs[i])


def test_a_flow_seen_mid_stream_prints_seq_and_ack_relative() -> None:
    """tcp_teardown starts with the server's FIN: every line's seq and ack are relative (tcpwatch
    printed `seq 0, ack 2079380537`, then `seq 0, ack 1` where tcpdump prints `seq 1, ack 1`)."""
    out = tcpwatch("-r", str(DATA / "chrissanders_tcp_teardown.pcapng"), "--print").stdout
    got = [(f["seq"], f["ack"]) for f in map(core_fields, out.splitlines())]
    assert got == [("0", "1"), (None, "1"), ("1", "1"), (None, "2")]
