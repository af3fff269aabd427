"""Freeze what `tcpwatch` prints for every bundled capture, as golden files.

Run from the repository root with the tcpwatch to freeze (`python tests/golden/make.py`). Each
capture in tests/data gets, in tests/golden/<capture>/: `export.jsonl`, `export.csv`,
`print.txt`, `print-S.txt`, `evict.jsonl` (`--max-flows 10`) and `stderr.txt` (the totals line
of each run, and its exit status). The clock is UTC so `--print` times do not depend on the host,
and the uid seed is fixed (`SEED`). A file is rewritten only when its content changes, and
`--only NAME ...` (e.g. `--only print.txt`) refreezes just those outputs: a deliberate change
of one output leaves the others as they were frozen.

The first freeze was the pure-Python tcpwatch's, before the engine replaced it; the changes
since, each made on purpose by the engine and frozen again with this script (see
tests/test_golden.py): the exports carry `continues_uid`; `print.txt` counts relative numbers
of a direction whose SYN was not seen as tcpdump does, seq and ack alike; the originator
becomes ESTABLISHED at its own ACK of the SYN/ACK (the `--print` lines' state tails), and
stays SYN_SENT (`state_orig`) when it never sent one.
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

SEED = ["--seed", "0"]
"""Seed 0 makes the uids the Python tcpwatch made (blake2b of the flow id alone)."""

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
        [TCPWATCH, "-r", str(capture), *SEED, *args], capture_output=True, env=env, check=False
    )
    return proc.stdout, f"{' '.join(args)}: status {proc.returncode}: {proc.stderr.decode()}"


def _write_if_changed(path: Path, data: bytes) -> None:
    """Write `data` (gzipped for a `.gz` path) unless the file already holds it."""
    old = path.read_bytes() if path.exists() else None
    if old is not None and (gzip.decompress(old) if path.suffix == ".gz" else old) == data:
        return
    path.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)


def main(argv: list[str]) -> int:
    only = set(argv[argv.index("--only") + 1 :]) if "--only" in argv else set(RUNS)
    if not only <= set(RUNS):
        sys.exit(f"--only takes names among {', '.join(RUNS)}")
    for capture in captures():
        out_dir = GOLDEN / capture.name
        out_dir.mkdir(parents=True, exist_ok=True)
        errs = []
        for name, args in RUNS.items():
            stdout, err = run(capture, args)
            if name in only:
                _write_if_changed(out_dir / (name + ".gz"), stdout)
            errs.append(err)
        _write_if_changed(out_dir / "stderr.txt", "".join(errs).encode())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
