"""The terminal the TUI draws on, made safe to lose: a closed terminal ends the App, never hangs it.

When the terminal is closed (its window, an ssh session dropped), writes to it fail with EIO.
Textual's output thread does not catch that: it dies, its bounded queue (30 writes) fills, and the
App's next write blocks for ever, with a live capture still running. Here the terminal's file is
wrapped so that the first failed write sends everything after it to /dev/null: the App carries on
to its clean exit (SIGHUP asks for one, see `tui.run`), which stops the source and closes the pcap.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, TextIO

from textual.drivers.linux_driver import LinuxDriver


class TerminalFile:
    """A text file (the terminal) whose write errors end its output instead of raising."""

    def __init__(self, file: TextIO) -> None:
        self._file = file
        self.lost = False
        """True once a write failed: the terminal is gone and output goes to /dev/null."""

    def write(self, text: str) -> int:
        """Write `text`; after the terminal is lost, nothing is shown anywhere."""
        try:
            return self._file.write(text)
        except OSError:
            self._lose()
            return len(text)

    def flush(self) -> None:
        """Flush; a failure means the terminal is gone."""
        try:
            self._file.flush()
        except OSError:
            self._lose()

    def fileno(self) -> int:
        """The terminal's file descriptor."""
        return self._file.fileno()

    def isatty(self) -> bool:
        """Whether the file is (still) a terminal."""
        return self._file.isatty()

    def _lose(self) -> None:
        # The descriptor itself is pointed at /dev/null, so that what the text layer still
        # buffers, and whatever is written to it later (the exit status line, Python's own
        # flush at exit), is accepted and dropped rather than failing again.
        self.lost = True
        with contextlib.suppress(OSError):
            null = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(null, self._file.fileno())
            finally:
                os.close(null)
        with contextlib.suppress(OSError):
            self._file.flush()


NO_KEYS = (
    "the TUI needs a terminal for its keys and there is none (standard input is not one, and "
    "there is no /dev/tty): use --print or --export"
)
NO_SCREEN = (
    "the TUI draws on standard error, which is not a terminal here: use --print or --export, "
    "or leave standard error on the terminal"
)


def terminal_problem() -> str:
    """Why the TUI cannot run on this process's descriptors ("" when it can).

    Textual draws on standard error and reads keys from standard input (`tui.run` has already
    put the controlling terminal there when the capture comes through a pipe). Without them it
    would spin for ever writing escape codes into a file (`tcpwatch -r x.pcap </dev/null
    >out 2>err` from a script)."""
    if not os.isatty(0):
        return NO_KEYS
    if not os.isatty(2):
        return NO_SCREEN
    return ""


class TerminalDriver(LinuxDriver):
    """Textual's Linux driver, writing through a `TerminalFile`."""

    def __init__(self, app: Any, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        if self._file is not None:  # None only without a stderr at all
            self._file = TerminalFile(self._file)  # type: ignore[assignment]  # duck-typed file
