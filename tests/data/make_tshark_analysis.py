"""Freeze tshark's TCP analysis marks of every public capture into `tshark_analysis.json`.

    python3 tests/data/make_tshark_analysis.py      (needs tshark; the file says which one)

For each capture with a `.truth.json` next to it: the frames tshark marks with each
`tcp.analysis.*` kind tcpwatch knows, and each duplicate ACK's number and the frame it repeats.
Two passes (`-2`) and the preferences of the truth files' oracle (`PUBLIC-CAPTURES.md`).
`tests/test_analysis_tshark.py` compares tcpwatch's marks with these.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

DATA = Path(__file__).parent
KINDS = (
    "zero_window", "zero_window_probe", "zero_window_probe_ack", "keep_alive", "keep_alive_ack",
    "window_update", "duplicate_ack", "lost_segment", "ack_lost_segment", "retransmission",
    "fast_retransmission", "spurious_retransmission", "out_of_order",
)  # fmt: skip
PREFS = [
    "-o", "tcp.analyze_sequence_numbers:TRUE", "-o", "tcp.relative_sequence_numbers:TRUE",
    "-o", "tcp.calculate_timestamps:TRUE", "-o", "tcp.desegment_tcp_streams:FALSE",
    "-o", "tcp.check_checksum:FALSE",
]  # fmt: skip
FIELDS = ["frame.number", "tcp.analysis.duplicate_ack_num", "tcp.analysis.duplicate_ack_frame"]
FIELDS += [f"tcp.analysis.{k}" for k in KINDS]


def command(capture: Path) -> list[str]:
    """The tshark command line for one capture."""
    fields = [arg for f in FIELDS for arg in ("-e", f)]
    return ["tshark", "-n", "-2", "-r", str(capture), *PREFS, "-Y", "tcp && !icmp && !icmpv6"] + [
        "-T", "fields", "-E", "occurrence=f", *fields,
    ]  # fmt: skip


def marks(capture: Path) -> dict[str, object]:
    """{kind: [frames]} plus `dup_ack` {frame: [number, frame it repeats]} for one capture."""
    out = subprocess.run(command(capture), capture_output=True, text=True, check=True).stdout
    kinds: dict[str, list[int]] = {k: [] for k in KINDS}
    dups: dict[str, list[int]] = {}
    for line in out.splitlines():
        frame, dup_n, dup_of, *flags = line.split("\t")
        for kind, value in zip(KINDS, flags, strict=True):
            if value:
                kinds[kind].append(int(frame))
        if dup_n:
            dups[frame] = [int(dup_n), int(dup_of)]
    return {"kinds": {k: v for k, v in kinds.items() if v}, "dup_ack": dups}


def main() -> None:
    """Write `tshark_analysis.json` next to this script."""
    version = subprocess.run(["tshark", "--version"], capture_output=True, text=True).stdout
    captures = sorted(p for p in DATA.iterdir() if (DATA / (p.name + ".truth.json")).exists())
    truth = {
        "tshark": version.splitlines()[0],
        "command": " ".join(command(Path("CAP"))),
        "captures": {p.name: marks(p) for p in captures},
    }
    text = json.dumps(truth, indent=1, sort_keys=True)
    (DATA / "tshark_analysis.json").write_text(text + "\n")


if __name__ == "__main__":
    main()
