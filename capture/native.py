"""The native engine (`capture._engine`, built from capture/engine), loaded on first use.

The engine links libpcap for live capture, so a machine without `libpcap0.8` cannot load it:
that is said in one line (`EngineUnavailable`) instead of the loader's traceback.
"""

from __future__ import annotations

import functools
from types import ModuleType


class EngineUnavailable(ImportError):
    """The native engine cannot be loaded; the message is one line, with what to install."""


@functools.cache
def load() -> ModuleType:
    """`capture._engine`; raises `EngineUnavailable` when it cannot be loaded."""
    try:
        from capture import _engine
    except ImportError as exc:
        why = " ".join(str(exc).split())
        hint = (
            "install libpcap0.8 (sudo apt-get install libpcap0.8)"
            if "libpcap" in why
            else "reinstall tcpwatch (scripts/setup builds it)"
        )
        raise EngineUnavailable(f"the native engine cannot be loaded ({why}): {hint}") from None
    return _engine
