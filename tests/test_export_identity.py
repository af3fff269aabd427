"""Which record is which: uids unique per run unless `--seed` fixes them, and a flow that comes
back after eviction marked as the continuation of its earlier record."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from tui.cli import main

DATA = Path(__file__).parent / "data"
SYNSCAN = str(DATA / "chrissanders_synscan.pcapng")
ZEEK_UID = re.compile(r"C[0-9A-Za-z]{17}")


def _records(capfdbinary: pytest.CaptureFixture[bytes], *args: str) -> list[dict]:
    assert main(["-r", *args, "--export", "jsonl"]) == 0
    return [json.loads(line) for line in capfdbinary.readouterr().out.splitlines()]


def test_two_runs_give_different_uids(capfdbinary: pytest.CaptureFixture[bytes]) -> None:
    """Zeek's uids are unique per run, so are tcpwatch's: the first flow of two runs of the same
    file (and of two files) no longer shares `CFPnExO2gvHCzSm7V2`."""
    name = str(DATA / "chrissanders_tcp_handshake.pcapng")
    first = _records(capfdbinary, name)
    second = _records(capfdbinary, name)
    other = _records(capfdbinary, str(DATA / "chrissanders_tcp_teardown.pcapng"))
    uids = [r["uid"] for r in first + second + other]
    assert all(ZEEK_UID.fullmatch(u) for u in uids)
    assert len(set(uids)) == len(uids)


@pytest.mark.parametrize("seed", ["0", "42", str((1 << 64) - 1)])
def test_the_same_seed_gives_the_same_uids(
    seed: str, capfdbinary: pytest.CaptureFixture[bytes]
) -> None:
    """`--seed N` makes the uids deterministic, in JSON lines and CSV alike."""
    name = str(DATA / "zeek_nmap-vsn.pcap")
    first = _records(capfdbinary, name, "--seed", seed)
    second = _records(capfdbinary, name, "--seed", seed)
    assert main(["-r", name, "--seed", seed, "--export", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capfdbinary.readouterr().out.decode())))
    uids = [r["uid"] for r in first]
    assert len(set(uids)) == len(uids) > 1
    assert uids == [r["uid"] for r in second] == [row["uid"] for row in rows]
    other = _records(capfdbinary, name, "--seed", str(int(seed) ^ 1))
    assert not set(uids) & {r["uid"] for r in other}


@pytest.mark.parametrize("seed", ["-1", str(1 << 64)])
def test_a_seed_out_of_range_is_one_line(seed: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["-r", SYNSCAN, "--export", "jsonl", "--seed", seed])
    assert exit_.value.code == 2
    assert "--seed takes a number from 0 to 2**64-1" in capsys.readouterr().err


def _ends(record: dict) -> frozenset[tuple[str, int]]:
    return frozenset({(record["orig_h"], record["orig_p"]), (record["resp_h"], record["resp_p"])})


def test_an_evicted_flow_that_comes_back_continues_its_record(
    capfdbinary: pytest.CaptureFixture[bytes],
) -> None:
    """With `--max-flows 10` the SYN scan's 1994 connections make more records (SYN/ACKs retried
    after their flow was evicted come back as new flows, as Zeek makes a new connection once it
    dropped a connection's state); every extra record names, in `continues_uid`, the evicted
    record of the same connection, written before it."""
    whole = _records(capfdbinary, SYNSCAN, "--seed", "0")
    capped = _records(capfdbinary, SYNSCAN, "--seed", "0", "--max-flows", "10")
    assert len(whole) == 1994
    assert all(r["continues_uid"] is None for r in whole)
    by_uid = {r["uid"]: (i, r) for i, r in enumerate(capped)}
    continuations = [r for r in capped if r["continues_uid"] is not None]
    assert len(capped) - len(continuations) == len(whole)
    assert continuations
    for record in continuations:
        at, earlier = by_uid[record["continues_uid"]]
        assert at < capped.index(record)
        assert earlier["ts"] < record["ts"]
        assert _ends(earlier) == _ends(record)
    # The links also reach the CSV.
    assert main(["-r", SYNSCAN, "--seed", "0", "--max-flows", "10", "--export", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capfdbinary.readouterr().out.decode())))
    assert [row["continues_uid"] for row in rows] == [r["continues_uid"] or "" for r in capped]
