"""A direct chat through the bot is private to the Matrix user it is held for: its room is a
room of them, the remote user's ghost and the bot (a room with anyone else is not bound:
direct_chats.py). Anyone else invited later or joining ends the bridging, the bot saying why
in the room, and the ghost leaves: a Matrix user would read the remote user's private replies,
and another remote user's ghost would sit in a chat that reaches one person only.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from mautrix.errors import MatrixRequestError
from mautrix.types import RoomID

from bridge.ghosts import GhostManager
from bridge.matrix.client import MatrixClient
from bridge.network.ids import PortalKey

from .notices import send_notice
from .state import PortalState

log = logging.getLogger("portals.direct_rooms")


def direct_receiver(key: PortalKey) -> str | None:
    """The Matrix user a direct chat through the bot is held for; None for other portals (a
    group's, or one a connector holds for something of its own, such as a business
    connection)."""
    return key.receiver if key.receiver.startswith("@") else None


class DirectRooms:
    def __init__(
        self,
        matrix: MatrixClient,
        ghosts: GhostManager,
        network: str,
        forget: Callable[[PortalState], Awaitable[None]],
    ) -> None:
        self._matrix = matrix
        self._ghosts = ghosts
        self._network = network
        # Unbinds the portal from its room (called in the portal's turn).
        self._forget = forget

    def outsider(self, portal: PortalState, event: dict[str, Any]) -> str | None:
        """Whom a member event brings into a direct chat's room (invited or joined) who has
        no place there; None if nobody such."""
        receiver = direct_receiver(portal.key)
        content = event.get("content")
        target = event.get("state_key")
        if receiver is None or not isinstance(content, dict) or not isinstance(target, str):
            return None
        if content.get("membership") not in ("invite", "join"):
            return None
        ghost = self._ghosts.mxid_for(str(portal.key.chat_id))
        return None if target in (receiver, ghost, self._matrix.bot.mxid) else target

    async def close(self, portal: PortalState, outsider: str, joined: bool) -> None:
        """Stop bridging the room, saying why; the ghost leaves. In the portal's turn."""
        room_id = portal.room_id
        if room_id is None:
            return
        name = portal.record.name or str(portal.key.chat_id)
        came = "joined" if joined else "was invited"
        await send_notice(
            self._matrix.bot,
            room_id,
            f"{outsider} {came}: this room was a private chat with {name} on {self._network}, "
            "whose replies everyone here would read, so it is no longer bridged. Send pm "
            f"{portal.key.chat_id} to the bridge bot for a new private chat with them.",
        )
        await self._forget(portal)
        ghost = self._matrix.intent(self._ghosts.mxid_for(str(portal.key.chat_id)))
        try:
            await ghost.leave_room(RoomID(room_id))
        except MatrixRequestError as error:
            log.debug("The ghost could not leave %s: %s", room_id, error)
        log.info("%s came into the direct chat %s: no longer bridged", outsider, room_id)
