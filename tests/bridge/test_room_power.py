"""Whether a user may change a room's state, as its create event and power levels say: room
version 12's creators, listed users, the defaults, a level of its own for m.bridge, a room
without power levels, and levels written as strings in rooms of old versions."""

from __future__ import annotations

import math
from typing import Any

import pytest

from bridge.matrix.power import BRIDGE_STATE, StatePower, state_power

ALICE, BOB, CAROL = "@alice:hs", "@bob:hs", "@carol:hs"


def create(version: str, sender: str = ALICE, **content: Any) -> dict[str, Any]:
    return {"sender": sender, "content": {"room_version": version, **content}}


LEVELS = {"users": {BOB: 50}, "users_default": 0, "state_default": 50, "events": {}}

CASES = [
    # (what, user, create event, power levels, expected)
    ("v12 creator", ALICE, create("12"), LEVELS, StatePower(math.inf, 50)),
    ("v12 additional creator", CAROL, create("12", additional_creators=[CAROL]), LEVELS,
     StatePower(math.inf, 50)),
    ("v12 listed user", BOB, create("12"), LEVELS, StatePower(50, 50)),
    ("v12 anyone else", CAROL, create("12"), LEVELS, StatePower(0, 50)),
    ("v11 creator counts only as listed", ALICE, create("11"), LEVELS, StatePower(0, 50)),
    ("v11 creator listed", ALICE, create("11"), {**LEVELS, "users": {ALICE: 100}},
     StatePower(100, 50)),
    ("users_default", CAROL, create("10"), {**LEVELS, "users_default": 60}, StatePower(60, 50)),
    ("state_default when unset", BOB, create("10"), {"users": {BOB: 50}}, StatePower(50, 50)),
    ("m.bridge has a level of its own", CAROL, create("10"),
     {**LEVELS, "events": {BRIDGE_STATE: 0}}, StatePower(0, 0)),
    ("another type's level is no matter", BOB, create("10"),
     {**LEVELS, "events": {"m.room.name": 100}}, StatePower(50, 50)),
    ("no power levels: creator", ALICE, create("10"), None, StatePower(100, 0)),
    ("no power levels: anyone", CAROL, create("10"), None, StatePower(0, 0)),
    ("old creator field", ALICE, {"content": {"creator": ALICE}}, None, StatePower(100, 0)),
    ("levels as strings", BOB, create("1"), {"users": {BOB: "75"}, "state_default": " 50"},
     StatePower(75, 50)),
    ("unreadable level", BOB, create("1"), {"users": {BOB: "high"}}, StatePower(0, 50)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("user", "create_event", "levels", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_state_power(
    user: str, create_event: dict[str, Any], levels: dict[str, Any] | None, expected: StatePower
) -> None:
    assert state_power(user, BRIDGE_STATE, create_event, levels) == expected


def test_enough_is_the_level_against_what_is_needed() -> None:
    assert StatePower(50, 50).enough
    assert StatePower(math.inf, 100).enough
    assert not StatePower(49, 50).enough
