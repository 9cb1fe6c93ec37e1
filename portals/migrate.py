"""A remote chat that moved to a new id (a Telegram group upgraded to a supergroup) keeps its
portal: the portal's record follows the new id and its room gains the new alias."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mautrix.errors import MatrixRequestError
from mautrix.types import RoomID

from bridge.network.ids import PortalKey, RemoteChatID

if TYPE_CHECKING:
    from .portal import Portal


async def follow(portal: Portal, new_chat_id: RemoteChatID) -> None:
    ctx = portal.ctx
    if portal.key.chat_id == new_chat_id or portal.record.remote_id == str(new_chat_id):
        return  # already moved (the old and the new chat both announce the move)
    target = await ctx.portals.get(str(new_chat_id), portal.key.receiver)
    if target is not None:
        if target.mxid is not None:
            portal.log.warning(
                "Chat %s moved to %s, which has a room of its own; keeping both",
                portal.key.chat_id,
                new_chat_id,
            )
            return
        await ctx.portals.delete(target.id)
        ctx.index.remove(target.id)
    old_id = str(portal.key.chat_id)
    await ctx.portals.update(portal.id, remote_id=str(new_chat_id))
    # The old id's late events (Telegram sends a few) still belong here after a restart.
    await ctx.portals.add_alias(portal.id, old_id)
    portal.record.remote_id = str(new_chat_id)
    portal.rekey(PortalKey(new_chat_id, portal.key.receiver))
    portal.log.info("Followed the chat to its new id %s", new_chat_id)
    if portal.room_id is not None:
        localpart = ctx.config.bridge.alias_localpart_for(str(new_chat_id))
        try:
            await ctx.matrix.bot.add_room_alias(RoomID(portal.room_id), localpart, override=True)
        except MatrixRequestError:
            portal.log.warning("Could not add the alias %s", localpart, exc_info=True)
