"""Per-flow records as JSON lines or CSV, with Zeek's field names (`tcpwatch --export`)."""

from __future__ import annotations

import csv
import json
from typing import Any, TextIO

from capture.safetext import csv_cell

_ENCODE = json.JSONEncoder(separators=(",", ":")).encode
BATCH = 256
"""Records gathered before one write: a write per record costs more than its encoding."""


class JsonlWriter:
    """One JSON object per line; strings are JSON-escaped, so no control byte is written raw."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.count = 0
        self._lines: list[str] = []

    def write(self, record: dict[str, Any]) -> None:
        """Write one flow record (buffered: `flush` or `close` pushes it out)."""
        lines = self._lines
        lines.append(_ENCODE(record))
        self.count += 1
        if len(lines) >= BATCH:
            self.flush()

    def flush(self) -> None:
        """Write out the gathered records and flush the stream."""
        if self._lines:
            self._lines.append("")
            self.out.write("\n".join(self._lines))
            self._lines = []
        self.out.flush()

    def close(self) -> None:
        """Flush what was written."""
        self.flush()


class CsvWriter:
    """CSV with a header taken from the first record's fields.

    Nested values (the per-flag counts, retry gaps) are written as JSON; text cells are escaped so a
    spreadsheet neither evaluates them (leading `= + - @`) nor shows control bytes.
    """

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.count = 0
        self._writer = csv.writer(out, lineterminator="\n")
        self._fields: list[str] | None = None

    def write(self, record: dict[str, Any]) -> None:
        """Write one flow record (and the header before the first)."""
        if self._fields is None:
            self._fields = list(record)
            self._writer.writerow(self._fields)
        self._writer.writerow([_cell(record.get(name)) for name in self._fields])
        self.count += 1

    def close(self) -> None:
        """Flush what was written."""
        self.out.flush()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "T" if value else "F"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict | list | tuple):
        return csv_cell(json.dumps(value, separators=(",", ":")))
    return csv_cell(str(value))


def make_writer(kind: str, out: TextIO) -> JsonlWriter | CsvWriter:
    """A writer for `jsonl` or `csv`."""
    return CsvWriter(out) if kind == "csv" else JsonlWriter(out)
