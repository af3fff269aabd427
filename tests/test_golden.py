"""The native engine reproduces, byte for byte, what tcpwatch printed before it existed.

`tests/golden/<capture>/` holds the outputs of the pure-Python tcpwatch (made by
`tests/golden/make.py` before the engine replaced it) for every bundled capture: `--export
jsonl`, `--export csv`, `--print`, `--print -S`, `--export jsonl --max-flows 10`, and the totals
line and exit status of each run. Each run here goes through the real command line, in process,
with the uid seed fixed (`--seed 0`: the Python tcpwatch's uids).

Deliberate differences from the Python tcpwatch, refrozen from the engine (`make.py --only`):
- every record ends with `continues_uid`: null, except in `--max-flows 10` runs where a flow came
  back after it was evicted (it names the evicted record).
- `--print`'s relative numbers count, for a direction whose SYN was not seen, from tcpdump's base
  (the peer's first ack - 1, else the direction's first seq), and a line has seq and ack both
  relative (a flow seen mid-stream printed `seq 0, ack 2079380537` where tcpdump has its base).
  tests/test_cli.py checks them against tcpdump -n wherever tcpdump prints relative numbers.
- the originator's SYN_SENT -> ESTABLISHED shows on its own ACK of the SYN/ACK, no longer on the
  SYN/ACK (`--print`: `server SYN_RECEIVED`, then `client ESTABLISHED; server ESTABLISHED`), and
  an originator that never acknowledged the SYN/ACK (a SYN scan's probe) ends SYN_SENT in
  `state_orig`. Zeek's `conn_state` and `history` are unchanged.
"""

from __future__ import annotations

import gzip
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tui.cli import main

HERE = Path(__file__).parent
GOLDEN = HERE / "golden"
sys.path.insert(0, str(GOLDEN))
from make import RUNS, SEED, captures  # noqa: E402

CAPTURES = captures()


@pytest.fixture(autouse=True)
def _local_time_restored() -> Iterator[None]:
    """The tests set TZ=UTC for the C library; the next test gets the host's zone back (set up
    before `monkeypatch`, this is torn down after it has restored TZ)."""
    yield
    time.tzset()


def _expected_stderr(capture: Path) -> list[str]:
    """`stderr.txt` split back into its runs' entries ("args: status N: text"), in RUNS order."""
    text = (GOLDEN / capture.name / "stderr.txt").read_text()
    heads = [" ".join(args) + ": status " for args in RUNS.values()]
    starts = [text.index(head) for head in heads]
    return [text[a:b] for a, b in zip(starts, [*starts[1:], len(text)], strict=True)]


@pytest.mark.parametrize("capture", CAPTURES, ids=[c.name for c in CAPTURES])
def test_outputs_match_the_golden_files(
    capture: Path, capfdbinary: pytest.CaptureFixture[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every headless output of the capture equals the frozen one, with the same totals line."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()  # the engine formats times with the C library's local time, as Python did
    for (name, args), expected_err in zip(RUNS.items(), _expected_stderr(capture), strict=True):
        # WHEN
        status = main(["-r", str(capture), *SEED, *args])
        out, err = capfdbinary.readouterr()
        # THEN
        want = gzip.decompress((GOLDEN / capture.name / (name + ".gz")).read_bytes())
        assert out == want, f"{capture.name} {' '.join(args)}: stdout differs"
        got_err = f"{' '.join(args)}: status {status}: {err.decode()}"
        assert got_err == expected_err


FILTERED = ["chrissanders_http_espn_fail.pcapng", "chrissanders_http_ip4and6.pcapng"]


@pytest.mark.parametrize("name", FILTERED)
@pytest.mark.parametrize(
    "expression", ["port 80", "host 68.71.212.158 or port 443", "not port 80", "vlan 5"]
)
def test_a_filtered_run_keeps_the_golden_lines_of_the_flows_it_selects(
    name: str,
    expression: str,
    capfdbinary: pytest.CaptureFixture[bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`-Y` (evaluated by the engine) keeps exactly the records and lines of the flows that the
    filter language selects, as the unfiltered golden output has them."""
    from capture import _engine
    from capture.filterexpr import compile_filter

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    capture = GOLDEN.parent / "data" / name
    tracker = _engine.Tracker(seed=0)
    tracker.read_file(str(capture))
    tracker.finish()
    selected = compile_filter(expression)
    ids = {f.id for f in tracker.flows() if selected(f)}
    uids = {f.uid for f in tracker.flows() if f.id in ids}
    golden = GOLDEN / name
    # WHEN
    main(["-r", str(capture), *SEED, "--export", "jsonl", "-Y", expression])
    records = capfdbinary.readouterr().out.splitlines()
    main(["-r", str(capture), "--print", "-Y", expression])
    lines = capfdbinary.readouterr().out.splitlines()
    # THEN
    all_records = gzip.decompress((golden / "export.jsonl.gz").read_bytes()).splitlines()
    assert records == [r for r in all_records if json.loads(r)["uid"] in uids]
    all_lines = gzip.decompress((golden / "print.txt.gz").read_bytes()).splitlines()
    assert lines == [ln for ln in all_lines if int(ln.split(b"  #")[1].split()[0]) in ids]


def test_a_headless_replay_paces_the_records_and_exports_the_same(
    capfdbinary: pytest.CaptureFixture[bytes],
) -> None:
    """`--replay SPEED --export jsonl`: the same records as a plain read, after at least the
    capture's span divided by SPEED."""
    capture = GOLDEN.parent / "data" / "chrissanders_http_espn_fail.pcapng"
    want = gzip.decompress((GOLDEN / capture.name / "export.jsonl.gz").read_bytes())
    span = max(json.loads(r)["ts"] + json.loads(r)["duration"] for r in want.splitlines()) - min(
        json.loads(r)["ts"] for r in want.splitlines()
    )
    speed = span / 0.3
    started = time.monotonic()
    status = main(["-r", str(capture), *SEED, "--replay", str(speed), "--export", "jsonl"])
    assert status == 0
    assert time.monotonic() - started >= 0.3
    assert capfdbinary.readouterr().out == want
