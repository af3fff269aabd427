"""capture/ stays plain Python: importing it loads neither Textual nor Rich."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_capture_imports_no_ui_library() -> None:
    """Every capture module imports in a fresh interpreter without textual or rich."""
    modules = [m.name for m in pkgutil.iter_modules([str(ROOT / "capture")])]
    assert {"segment", "engine_source", "_engine"} <= set(modules)
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module('capture.' + m)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        "print(','.join(bad))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == ""


def test_headless_cli_does_not_load_textual() -> None:
    """`--print`/`--export` start without importing the UI stack."""
    code = (
        "import sys\n"
        "import tui.cli, tui.headless\n"
        "print(any(m.split('.')[0] == 'textual' for m in sys.modules))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "False"
