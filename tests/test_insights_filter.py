"""The `id` filter term the insights screen uses to show a finding's flows in the table."""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
from captures import tracked

from capture.filterexpr import FilterError, compile_filter
from capture.insights import flow_filter


@cache
def _scan() -> dict[int, Any]:
    """The flows of a SYN scan (2002 of them, ids from 1): real engine flows to select."""
    return tracked("chrissanders_synscan.pcapng", frames_per_flow=0).flows


def flows(*ids: int) -> list[Any]:
    return [_scan()[i] for i in ids]


def test_id_lists_and_ranges_select_exactly_those_flows() -> None:
    """`id 3,7,12-14` keeps 3, 7, 12, 13, 14 and nothing else."""
    pred = compile_filter("id 3,7,12-14")
    kept = [f.id for f in flows(*range(1, 20)) if pred(f)]
    assert kept == [3, 7, 12, 13, 14]


@pytest.mark.parametrize("bad", ["id", "id x", "id 5-2", "id 3,,4", "id 1-"])
def test_bad_id_lists_are_one_line_errors(bad: str) -> None:
    """A malformed id list is a FilterError naming the column, not a traceback."""
    with pytest.raises(FilterError) as err:
        compile_filter(bad)
    assert "\n" not in str(err.value)


def test_a_findings_filter_compresses_runs_and_round_trips() -> None:
    """flow_filter writes runs as ranges, and the filter selects the finding's flows."""
    ids = [1, 2, 3, 4, 9, 11, 12]
    text = flow_filter(ids)
    assert text == "id 1-4,9,11-12"
    pred = compile_filter(text)
    assert [f.id for f in flows(*range(1, 15)) if pred(f)] == ids
