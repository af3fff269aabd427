"""scripts/screenshots drives the real App to each README picture: the new shots (the filter bar
being typed in, the insights screen, the inspector on one field, live with processes) show what
their captions say."""

from __future__ import annotations

import asyncio
import html
import re
import sys
from pathlib import Path

import psutil
import pytest
from live_traffic import needs_root

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import screenshots  # noqa: E402


def text_of(svg: Path) -> str:
    """The words an SVG screenshot shows (Textual writes spaces as no-break spaces)."""
    raw = re.sub(r"<[^>]+>", "", svg.read_text(encoding="utf-8"))
    return html.unescape(raw).replace("\xa0", " ")


@pytest.fixture(autouse=True)
def _to_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(screenshots, "OUT", tmp_path)
    monkeypatch.chdir(ROOT)


def shot(name: str) -> str:
    _, size, keys, wait = next(s for s in screenshots.SHOTS if s[0] == name)
    return text_of(asyncio.run(screenshots.shoot(name, size, keys, wait)))


def test_the_filter_bar_shot_shows_the_typed_expression() -> None:
    assert "port 80 and (flags rst or irtt > 50ms)" in shot("filter-bar")


def test_the_insights_shot_shows_findings() -> None:
    text = shot("insights")
    assert "unanswered" in text and "WARN" in text


def test_the_inspector_shot_marks_seq_raw_and_relative() -> None:
    assert re.search(r"seq: \d+ \(relative 0\)", shot("frame-inspector"))


@pytest.mark.live
@needs_root
def test_the_live_shot_names_this_process() -> None:
    """Live on loopback over the script's own connections: the process column is there."""
    svg = asyncio.run(screenshots.shoot_live())
    assert svg is not None
    text = text_of(svg)
    assert "process" in text and "LIVE" in text
    me = psutil.Process().name()  # `python`, or `pytest` when run through its script
    assert re.search(rf"ESTAB +ESTAB +S1 .* {re.escape(me)}", text), text
