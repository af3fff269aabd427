"""Scale: with thousands of flows, a tick or a key rebuilds only rows that are on screen."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

from captures import engine, read_segments
from tui_wait import wait_until

from capture.pcapio import PcapWriter
from tui.app import TcpwatchApp

DATA = Path(__file__).parent / "data"
HANDSHAKE = DATA / "chrissanders_tcp_handshake.pcapng"  # SYN, SYN/ACK, ACK over Ethernet/IPv4
FLOWS = 10_000


def handshake() -> list[Any]:
    """The capture's first three TCP segments, as the engine decodes them."""
    return read_segments(HANDSHAKE)[:3]


def moved(seg: Any, client: bytes, port: int, from_client: bool) -> bytes:
    """The segment's frame with the client's address and port replaced (checksums not redone)."""
    frame = bytearray(seg.frame)
    addr_at = seg.ip_off + (12 if from_client else 16)
    port_at = seg.tcp_off + (0 if from_client else 2)
    frame[addr_at : addr_at + 4] = client
    struct.pack_into("!H", frame, port_at, port)
    return bytes(frame)


def write_many_flows(path: Path) -> None:
    """FLOWS complete handshakes from distinct clients, 1 ms apart, as a real pcap."""
    syn, synack, ack = handshake()
    writer = PcapWriter(str(path), syn.linktype)
    t = syn.ts
    for i in range(FLOWS):
        client, port = bytes([10, 0, i >> 8 & 255, i & 255]), 1024 + i
        for seg, from_client in ((syn, True), (synack, False), (ack, True)):
            t += 0.0001
            writer.write(t, moved(seg, client, port, from_client), seg.wire_len)
    writer.close()


async def test_rows_built_are_bounded_by_the_screen_not_the_flows(tmp_path: Path) -> None:
    """10,000 flows: a full repaint builds at most a screenful of rows; a cursor move two."""
    capture = tmp_path / "many.pcap"
    write_many_flows(capture)
    app = TcpwatchApp(*engine(str(capture)), linger=1e9)
    async with app.run_test(size=(120, 30)) as pilot:
        table = app.main.table

        def settled() -> bool:
            # The whole file drained, applied to the model and synced to the table: nothing
            # but the test's own refresh and keys may build rows after this.
            return (app.drain.finished and not app.main._pending
                    and len(app.main.model) == FLOWS and table.now == app.now())  # fmt: skip

        await wait_until(pilot, settled, 60.0)
        await pilot.pause()
        assert app.main.model.category_counts.get("established") == FLOWS
        built: list[int] = []
        build = table._row_strip

        def counting(*args: Any) -> Any:
            built.append(args[0])
            return build(*args)

        table._row_strip = counting  # type: ignore[method-assign]
        table._cache.clear()
        table.refresh()
        await wait_until(pilot, lambda: len(built) > 0, 60.0)
        await pilot.pause()
        assert 0 < len(built) <= table.size.height
        built.clear()
        await pilot.press("down")
        await wait_until(pilot, lambda: len(built) >= 2, 60.0)
        await pilot.pause()
        assert len(built) == 2  # the row the cursor left and the row it reached
        built.clear()
        await pilot.press("end")
        await wait_until(pilot, lambda: table.cursor_row == FLOWS - 1, 60.0)
        await pilot.pause()
        assert len(built) <= table.size.height  # jumping 10,000 rows builds one screenful
        assert any(f"10.0.{(FLOWS - 1) >> 8}.{(FLOWS - 1) & 255}:" in table.render_line(y).text
                   for y in range(table.size.height))  # fmt: skip
