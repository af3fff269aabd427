"""Freeze what `tcpwatch` prints for every bundled capture, as golden files.

Run from the repository root with the tcpwatch to freeze (`python tests/golden/make.py`). Each
capture in tests/data gets, in tests/golden/<capture>/: `export.jsonl`, `export.csv`,
`print.txt`, `print-S.txt`, `evict.jsonl` (`--max-flows 10`) and `stderr.txt` (the totals line
of each run, and its exit status). The clock is UTC so `--print` times do not depend on the host.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
GOLDEN = ROOT / "tests" / "golden"
TCPWATCH = os.environ.get("TCPWATCH", str(ROOT / ".venv" / "bin" / "tcpwatch"))

RUNS = {
    "export.jsonl": ["--export", "jsonl"],
    "export.csv": ["--export", "csv"],
    "print.txt": ["--print"],
    "print-S.txt": ["--print", "-S"],
    "evict.jsonl": ["--export", "jsonl", "--max-flows", "10"],
}


def captures() -> list[Path]:
    """Every capture bundled in tests/data."""
    return sorted(p for p in DATA.iterdir() if p.suffix in (".pcap", ".pcapng"))


def run(capture: Path, args: list[str]) -> tuple[bytes, str]:
    """(stdout, "status N: stderr") of one run."""
    env = dict(os.environ, TZ="UTC")
    proc = subprocess.run(
        [TCPWATCH, "-r", str(capture), *args], capture_output=True, env=env, check=False
    )
    return proc.stdout, f"{' '.join(args)}: status {proc.returncode}: {proc.stderr.decode()}"


def main() -> int:
    for capture in captures():
        out_dir = GOLDEN / capture.name
        out_dir.mkdir(parents=True, exist_ok=True)
        errs = []
        for name, args in RUNS.items():
            stdout, err = run(capture, args)
            (out_dir / (name + ".gz")).write_bytes(gzip.compress(stdout, mtime=0))
            errs.append(err)
        (out_dir / "stderr.txt").write_text("".join(errs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
