"""Capture privileges: the check before opening a packet socket, and dropping root afterwards.

Opening an AF_PACKET socket needs root or CAP_NET_RAW. Once it is open (and its ring mapped),
nothing else needs privilege, so when run through sudo the process becomes the invoking user
again, as tcpdump does with `-Z`.
"""

from __future__ import annotations

import os
import pwd
import sys

CAP_NET_RAW = 13


def privilege_hint() -> str:
    """How to obtain the right to capture, in one line."""
    interp = os.path.realpath(sys.executable)
    return (
        "live capture needs root or CAP_NET_RAW: run it with sudo, or grant the capability "
        f"with: sudo setcap cap_net_raw,cap_net_admin+eip {interp} "
        "(reading a capture file with -r FILE needs no privilege)"
    )


def effective_caps() -> int:
    """The effective capability mask of this process (0 when /proc cannot say)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("CapEff:"):
                    return int(line.split()[1], 16)
    except OSError:
        return 0
    return 0


def can_capture() -> bool:
    """Whether this process may open a packet socket (root, or CAP_NET_RAW in effect)."""
    return os.geteuid() == 0 or bool(effective_caps() >> CAP_NET_RAW & 1)


def _id_number(text: str) -> int | None:
    """A uid or gid from the environment: ASCII digits (`str.isdigit` also takes superscripts,
    which int() refuses) within the kernel's 32-bit range (-1 means "unchanged" to setresuid)."""
    if not (text.isascii() and text.isdigit()) or len(text) > 10:
        return None
    number = int(text)
    return number if number < 0xFFFFFFFF else None


def sudo_user() -> tuple[int, int, str] | None:
    """(uid, gid, name) of the user who ran sudo, when running as root under sudo."""
    if os.geteuid() != 0:
        return None
    uid = _id_number(os.environ.get("SUDO_UID", ""))
    if not uid:  # unset, malformed, or root itself
        return None
    gid = _id_number(os.environ.get("SUDO_GID", ""))
    try:
        entry = pwd.getpwuid(uid)
    except KeyError:
        return uid, uid if gid is None else gid, ""
    return uid, entry.pw_gid if gid is None else gid, entry.pw_name


def drop_privileges() -> str | None:
    """Become the sudo-invoking user (groups, gid, then uid). Returns the user dropped to.

    Does nothing (returns None) unless running as root with SUDO_UID set. Raises OSError when the
    kernel refuses, which the caller reports: continuing as root silently would be worse.
    """
    who = sudo_user()
    if who is None:
        return None
    uid, gid, name = who
    if name:
        os.initgroups(name, gid)
    else:
        os.setgroups([gid])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    return name or str(uid)
