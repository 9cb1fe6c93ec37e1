"""A remote chat that moved to a new id (a Telegram group upgraded to a supergroup) keeps its
portal: the portal's record follows the new id and its room gains the new alias."""

from __future__ import annotations

from mautrix.errors import MatrixRequestError
from mautrix.types import RoomID

from bridge.config.model import Config
from bridge.db.stores import PortalStore
from bridge.matrix.client import MatrixClient
from bridge.network.ids import PortalKey, RemoteChatID

from .index import PortalIndex
from .state import PortalState


class ChatMoves:
    def __init__(
        self, config: Config, matrix: MatrixClient, portals: PortalStore, index: PortalIndex
    ) -> None:
        self._config = config
        self._matrix = matrix
        self._portals = portals
        self._index = index

    async def follow(self, portal: PortalState, new_chat_id: RemoteChatID) -> None:
        if portal.key.chat_id == new_chat_id or portal.record.remote_id == str(new_chat_id):
            return  # already moved (the old and the new chat both announce the move)
        portals, index = self._portals, self._index
        target = await portals.get(str(new_chat_id), portal.key.receiver)
        if target is not None:
            if target.mxid is not None:
                portal.log.warning(
                    "Chat %s moved to %s, which has a room of its own; keeping both",
                    portal.key.chat_id,
                    new_chat_id,
                )
                return
            await portals.delete(target.id)
            index.remove(target.id)
        old = portal.key
        await portals.update(portal.id, remote_id=str(new_chat_id))
        # The old id's late events (Telegram sends a few) still belong here after a restart.
        await portals.add_alias(portal.id, str(old.chat_id))
        portal.record.remote_id = str(new_chat_id)
        portal.key = PortalKey(new_chat_id, old.receiver)
        index.add(portal.id, portal.key, portal.room_id)
        index.alias(portal.id, old)
        portal.log.info("Followed the chat to its new id %s", new_chat_id)
        if portal.room_id is not None:
            localpart = self._config.bridge.alias_localpart_for(str(new_chat_id))
            try:
                await self._matrix.bot.add_room_alias(
                    RoomID(portal.room_id), localpart, override=True
                )
            except MatrixRequestError:
                portal.log.warning("Could not add the alias %s", localpart, exc_info=True)
