from __future__ import annotations

import pytest

from bridge.config.model import PermissionLevel as Level
from bridge.permissions import permission_level

PERMISSIONS = {
    "*": Level.RELAY,
    "example.com": Level.USER,
    "@boss:example.com": Level.ADMIN,
    "@banned:other.org": Level.NONE,
}


@pytest.mark.parametrize(
    ("mxid", "level"),
    [
        ("@boss:example.com", Level.ADMIN),
        ("@worker:example.com", Level.USER),
        ("@guest:other.org", Level.RELAY),
        ("@banned:other.org", Level.NONE),
        ("@x:sub.example.com", Level.RELAY),
    ],
)
def test_most_specific_entry_wins(mxid: str, level: Level) -> None:
    assert permission_level(mxid, PERMISSIONS) is level


def test_no_entry_means_no_access() -> None:
    assert permission_level("@a:b.c", {"example.com": Level.USER}) is Level.NONE
