"""The flow summary says when this host's Linux would resend a waiting SYN, and give up."""

from __future__ import annotations

from pathlib import Path

from captures import track

from capture.live.procs import retry_schedule
from widgets.flow_summary import retry_line, summary_lines

DATA = Path(__file__).parent / "data"


def only_flow(name: str):
    (flow,) = track(name)[0].all_flows()
    return flow


def test_unanswered_syn_gets_this_hosts_schedule() -> None:
    """An S0 flow with two retries: the next retry is the schedule's third offset."""
    flow = only_flow("chrissanders_nowebaccess3.pcapng")
    assert flow.state_orig == "SYN_SENT" and flow.syn_retries == 2
    syn, synack = retry_schedule(), retry_schedule(synack=True)
    line = retry_line(flow, syn, synack)
    offsets = syn.retry_offsets()
    assert line.startswith("waiting: Linux resends the SYN at +")
    assert f"next SYN due at +{offsets[2]:g}s" in line
    assert f"gives up at +{syn.give_up_after:g}s" in line
    assert summary_lines(flow, (syn, synack))[-1] == line
    assert line not in summary_lines(flow)  # files: no schedule unless asked (it is this host's)


def test_finished_handshake_has_no_retry_line() -> None:
    """A completed connection is not waiting for anything."""
    flow = only_flow("tcpdump_print-flags.pcap")
    assert retry_line(flow, retry_schedule(), retry_schedule(synack=True)) == ""
