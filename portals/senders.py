"""The Matrix senders of a portal room's events: whether an event is the bridge's own doing,
whether the bot relays what a user does, and the name a relayed message carries."""

from __future__ import annotations

from typing import Any

from mautrix.appservice import IntentAPI
from mautrix.errors import MatrixRequestError
from mautrix.types import EventType, RoomID, UserID

from bridge.config.model import Config, PermissionLevel
from bridge.ghosts import GhostManager
from bridge.lru import BoundedDict
from bridge.users import UserManager


class MatrixSenders:
    def __init__(
        self,
        config: Config,
        users: UserManager,
        ghosts: GhostManager,
        bot: IntentAPI,
        names: BoundedDict[tuple[str, str], str],
    ) -> None:
        self._config = config
        self._users = users
        self._ghosts = ghosts
        self._bot = bot
        # Display names per (room, user), as the room's own member events said.
        self._names = names

    def level(self, sender: str) -> PermissionLevel:
        return self._users.level(sender)

    def is_bridge_user(self, sender: str) -> bool:
        """The bot or a ghost: what they do in a room is the bridge's own doing."""
        return sender == self._config.bot_mxid or self._ghosts.is_ghost(sender)

    def relays(self, sender: str) -> bool:
        """Whether the bot carries what this Matrix user does (relaying on, and their level)."""
        relay_on = self._config.bridge.relay.enabled
        return relay_on and self.level(sender) >= PermissionLevel.RELAY

    def remember_name(self, room_id: str, user_id: str, content: dict[str, Any]) -> None:
        """Note the name a member event of the room gives the user (the room's own order)."""
        name = content.get("displayname")
        if content.get("membership") == "join" and isinstance(name, str) and name:
            self._names[(room_id, user_id)] = name

    async def displayname(self, room_id: str, user_id: str) -> str:
        """The sender's name as of their message: names seen in this room's own (ordered)
        member events first, then the room's current state, then the global profile
        (remembered, so a steady conversation asks the homeserver nothing)."""
        key = (room_id, user_id)
        known = self._names.touch(key)
        if known:
            return known
        name: str | None = None
        try:
            member = await self._bot.get_state_event(
                RoomID(room_id), EventType.ROOM_MEMBER, user_id
            )
            if getattr(member, "membership", None) == "join":
                name = getattr(member, "displayname", None)
            if not name:
                name = await self._bot.get_displayname(UserID(user_id))
        except MatrixRequestError:
            name = None
        if name:
            self._names[key] = str(name)
            return str(name)
        return localpart(user_id)


def localpart(user_id: str) -> str:
    return UserID(user_id).removeprefix("@").split(":", 1)[0]
