"""Who tcpwatch becomes after opening its socket under sudo: read from SUDO_UID / SUDO_GID.

Only well-formed ids count: anything else (superscript digits, signs, numbers beyond 32 bits,
root's own 0) means "do not drop", never an exception.
"""

from __future__ import annotations

import os
import pwd

import pytest

from capture.live.privs import sudo_user

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="sudo_user only answers as root")


@pytest.mark.parametrize(
    ("uid", "gid", "expected"),
    [
        ("65534", "65534", (65534, 65534, pwd.getpwuid(65534).pw_name)),
        ("65534", "", (65534, pwd.getpwuid(65534).pw_gid, pwd.getpwuid(65534).pw_name)),
        ("65534", "x1", (65534, pwd.getpwuid(65534).pw_gid, pwd.getpwuid(65534).pw_name)),
        ("4000000000", "", (4000000000, 4000000000, "")),  # no such user: uid as the gid
        ("4000000000", "77", (4000000000, 77, "")),
        ("0", "0", None),
        ("", "", None),
        ("¹²", "0", None),
        ("-5", "0", None),
        ("+5", "0", None),
        (" 5", "0", None),
        ("4294967295", "0", None),  # (uid_t)-1: "leave unchanged" to the kernel
        ("99999999999999999999", "0", None),
    ],
)
def test_sudo_user_reads_only_well_formed_ids(
    monkeypatch: pytest.MonkeyPatch, uid: str, gid: str, expected: object
) -> None:
    monkeypatch.setenv("SUDO_UID", uid)
    monkeypatch.setenv("SUDO_GID", gid)
    assert sudo_user() == expected


def test_no_sudo_means_no_drop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SUDO_UID", raising=False)
    assert sudo_user() is None
