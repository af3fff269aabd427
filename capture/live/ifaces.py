"""Network interfaces: listing (`-D`), the default choice, validation and link types."""

from __future__ import annotations

import socket

import psutil

ANY = "any"
"""The pseudo-interface that captures on every interface, with cooked (SLL) headers."""

ARPHRD_ETHER = 1
ARPHRD_LOOPBACK = 772


class InterfaceError(Exception):
    """An interface name that does not exist (one-line message listing the real ones)."""


def interface_names() -> list[str]:
    """The kernel's interfaces in index order."""
    return [name for _, name in sorted(socket.if_nameindex())]


def list_interfaces() -> list[str]:
    """Printable lines for `-D`: number, name, up/down, loopback, addresses; then `any`."""
    stats = psutil.net_if_stats()
    addrs = psutil.net_if_addrs()
    lines = []
    names = interface_names()
    for n, name in enumerate(names, 1):
        st = stats.get(name)
        words = ["up" if st is not None and st.isup else "down"]
        if hardware_type(name) == ARPHRD_LOOPBACK:
            words.append("loopback")
        ips = [a.address.split("%")[0] for a in addrs.get(name, []) if a.family in _IP_FAMILIES]
        text = f"{n}. {name} [{', '.join(words)}]"
        lines.append(f"{text} {' '.join(ips)}" if ips else text)
    lines.append(f"{len(names) + 1}. {ANY} [up] (every interface, cooked headers)")
    return lines


_IP_FAMILIES = (socket.AF_INET, socket.AF_INET6)


def default_interface() -> str:
    """The interface of the default route, else the first up non-loopback one, else `lo`."""
    name = _default_route_iface()
    if name:
        return name
    stats = psutil.net_if_stats()
    for name in interface_names():
        st = stats.get(name)
        if st is not None and st.isup and hardware_type(name) != ARPHRD_LOOPBACK:
            return name
    return "lo"


def _default_route_iface() -> str | None:
    # /proc/net/route: Iface Destination Gateway Flags ...; a default route has destination 0.
    try:
        with open("/proc/net/route", encoding="ascii") as fh:
            rows = [line.split() for line in fh.readlines()[1:]]
        for row in rows:
            if len(row) > 7 and row[1] == "00000000" and row[7] == "00000000":
                return row[0]
        with open("/proc/net/ipv6_route", encoding="ascii") as fh:
            for line in fh:
                row = line.split()
                if len(row) == 10 and row[0] == "0" * 32 and row[1] == "00" and row[9] != "lo":
                    return row[9]
    except OSError:
        return None
    return None


def resolve_interface(name: str | None) -> str:
    """The interface to capture on: `name` if it exists (or is `any`), else the default.

    Raises `InterfaceError` listing the real interfaces when `name` is unknown.
    """
    if name is None:
        return default_interface()
    names = interface_names()
    if name == ANY or name in names:
        return name
    shown = "".join(ch if ch.isprintable() else "?" for ch in name)
    raise InterfaceError(
        f"no such interface {shown!r}; available: {', '.join([*names, ANY])} "
        "(tcpwatch -D lists them with addresses)"
    )


def hardware_type(name: str) -> int:
    """The ARPHRD_* type of an interface (from sysfs); -1 when unknown."""
    try:
        with open(f"/sys/class/net/{name}/type", encoding="ascii") as fh:
            return int(fh.read().strip())
    except (OSError, ValueError):
        return -1


def loopback_indexes() -> set[int]:
    """Interface indexes of loopback devices (whose packets a packet socket sees twice)."""
    return {idx for idx, name in socket.if_nameindex() if hardware_type(name) == ARPHRD_LOOPBACK}
