"""The native engine reproduces, byte for byte, what tcpwatch printed before it existed.

`tests/golden/<capture>/` holds the outputs of the pure-Python tcpwatch (made by
`tests/golden/make.py` before the engine replaced it) for every bundled capture: `--export
jsonl`, `--export csv`, `--print`, `--print -S`, `--export jsonl --max-flows 10`, and the totals
line and exit status of each run. Each run here goes through the real command line, in process.
"""

from __future__ import annotations

import gzip
import sys
import time
from pathlib import Path

import pytest

from tui.cli import main

HERE = Path(__file__).parent
GOLDEN = HERE / "golden"
sys.path.insert(0, str(GOLDEN))
from make import RUNS, captures  # noqa: E402

CAPTURES = captures()


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
        status = main(["-r", str(capture), *args])
        out, err = capfdbinary.readouterr()
        # THEN
        want = gzip.decompress((GOLDEN / capture.name / (name + ".gz")).read_bytes())
        assert out == want, f"{capture.name} {' '.join(args)}: stdout differs"
        got_err = f"{' '.join(args)}: status {status}: {err.decode()}"
        assert got_err == expected_err
