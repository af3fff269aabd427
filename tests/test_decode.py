"""TCP option parsing (`capture.segment.parse_options`, the inspector's option list).

The decoder's own cases (link types, encapsulations, malformed frames, tshark's counts on every
bundled capture) are checked on the engine: capture/engine/src/decode/tests*.rs and
capture/engine/tests/bundled_captures.rs.
"""

from __future__ import annotations

from capture.segment import parse_options


def test_overrunning_option_list_is_flagged() -> None:
    """An option whose length runs past the list is reported, not fatal."""
    opts = parse_options(b"\x02\x04\x05")
    assert opts.malformed and opts.mss is None


def test_options_of_every_kind() -> None:
    """MSS, wscale, SACK-permitted, SACK blocks, timestamps, TFO (34 and 254), MPTCP, unknown."""
    raw = (
        b"\x02\x04\x05\xb4\x03\x03\x07\x04\x02\x05\x0a\x00\x00\x00\x01\x00\x00\x00\x02"
        b"\x08\x0a\x00\x00\x00\x09\x00\x00\x00\x00\x22\x06\xaa\xbb\xcc\xdd"
        b"\xfe\x04\xf9\x89\x1e\x04\x00\x81\x1b\x03\x07\x00"
    )
    o = parse_options(raw)
    assert (o.mss, o.wscale, o.sack_perm) == (1460, 7, True)
    assert o.sack_blocks == [(1, 2)]
    assert (o.ts_val, o.ts_ecr) == (9, 0)
    assert o.tfo_cookie == b""  # the last TFO option seen (experimental kind 254) is a request
    assert o.mptcp
    assert [k for k, _, _ in o.items] == [2, 3, 4, 5, 8, 34, 254, 30, 27, 0]
    assert o.items[-2] == (27, "opt-27", "kind 27 len 3")
    assert not o.malformed
