"""Creating a portal's Matrix room."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from mautrix.errors import MatrixRequestError
from mautrix.types import RoomAlias

from bridge.network.events import ChatInfo

if TYPE_CHECKING:
    from .portal import Portal


async def ensure_room(portal: Portal, info: ChatInfo, invite: Sequence[str] = ()) -> str:
    """Create the portal's room if it has none; invite ``invite`` either way."""
    ctx = portal.ctx
    if portal.room_id is not None:
        for user in invite:
            await ctx.matrix.bot.invite_user(portal.room_id, user)  # type: ignore[arg-type]
        return portal.room_id
    alias_localpart = (
        None if info.is_direct else ctx.config.bridge.alias_localpart_for(str(portal.key.chat_id))
    )
    if alias_localpart is not None:
        await _release_stale_alias(portal, alias_localpart)
    room_id, version = await ctx.matrix.create_room(
        name=info.name,
        topic=info.topic,
        alias_localpart=alias_localpart,
        invite=list(invite),
        is_direct=info.is_direct,
    )
    await ctx.portals.update(
        portal.id, mxid=room_id, room_version=version, name=info.name, topic=info.topic
    )
    portal.record.mxid = room_id
    portal.record.room_version = version
    portal.record.name = info.name
    portal.record.topic = info.topic
    portal.log.info("Created room %s (version %s)", room_id, version)
    return room_id


async def _release_stale_alias(portal: Portal, localpart: str) -> None:
    """An alias in the bridge's namespace that points at a room no portal owns is left over
    (for example from a database that was reset): free it so the new room can take it."""
    ctx = portal.ctx
    alias = RoomAlias(f"#{localpart}:{ctx.config.homeserver.domain}")
    try:
        existing = await ctx.matrix.bot.resolve_room_alias(alias)
    except MatrixRequestError:
        return
    if await ctx.portals.by_room(existing.room_id) is None:
        portal.log.warning("Removing stale alias %s (pointed at %s)", alias, existing.room_id)
        await ctx.matrix.bot.remove_room_alias(alias)
