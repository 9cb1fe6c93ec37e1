"""Power in a Matrix room: whether a user may change its state, as its power levels and its
create event say (the rules of the Matrix spec's authorization, including room version 12,
where the room's creators outrank every level and are not listed in the power levels)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from mautrix.api import Method, Path
from mautrix.errors import MatrixRequestError
from mautrix.types import RoomID

from .client import MatrixClient, creator_has_infinite_power

# The state event that describes a room's bridge (MSC2346): a room's admins may give bridging
# a level of its own under this type in the power levels' events; otherwise state_default.
BRIDGE_STATE = "m.bridge"


@dataclass(frozen=True, slots=True)
class StatePower:
    """A user's level in a room, and the level the state event type needs."""

    level: float  # math.inf for a creator of a room of version 12 or later
    needed: int

    @property
    def enough(self) -> bool:
        return self.level >= self.needed


def state_power(
    user: str,
    event_type: str,
    create: dict[str, Any],
    power_levels: dict[str, Any] | None,
) -> StatePower:
    """``create``: the room's m.room.create event (with its sender); ``power_levels``: the
    content of its m.room.power_levels, None if it has none."""
    content = create.get("content")
    content = content if isinstance(content, dict) else {}
    creator = create.get("sender") or content.get("creator")
    version = str(content.get("room_version", "1"))
    if creator_has_infinite_power(version):
        creators = {creator, *_strings(content.get("additional_creators"))}
        if user in creators:
            return StatePower(math.inf, _needed(event_type, power_levels))
    if power_levels is None:
        # No power levels at all: the creator has 100, everyone else 0, and state needs 0.
        return StatePower(100 if user == creator else 0, 0)
    users = power_levels.get("users")
    level = users.get(user) if isinstance(users, dict) else None
    if level is None:
        level = power_levels.get("users_default", 0)
    return StatePower(_integer(level, 0), _needed(event_type, power_levels))


def _needed(event_type: str, power_levels: dict[str, Any] | None) -> int:
    if power_levels is None:
        return 0
    events = power_levels.get("events")
    needed = events.get(event_type) if isinstance(events, dict) else None
    if needed is None:
        needed = power_levels.get("state_default", 50)
    return _integer(needed, 50)


def _integer(value: Any, default: int) -> int:
    # Rooms of old versions may hold levels as strings of digits.
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return default
    return default


def _strings(value: Any) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


class RoomPower:
    """Reads a room's power levels as the bot (which must be in the room)."""

    def __init__(self, matrix: MatrixClient) -> None:
        self._matrix = matrix

    async def for_state(self, room_id: str, user: str, event_type: str) -> StatePower:
        """Raise MatrixRequestError when the homeserver will not say (the bot is not in the
        room, say, or the homeserver is in trouble)."""
        api = self._matrix.api
        state = Path.v3.rooms[RoomID(room_id)].state
        create = await api.request(
            Method.GET, state["m.room.create"], query_params={"format": "event"}
        )
        if "content" not in create:
            create = {"content": create}  # a homeserver that gives the content only
        try:
            levels: dict[str, Any] | None = await api.request(
                Method.GET, state["m.room.power_levels"]
            )
        except MatrixRequestError as error:
            if error.http_status != 404:
                raise
            levels = None
        return state_power(user, event_type, create, levels)
