"""A portal's Matrix room: creating it, binding an existing room, and keeping its name, topic
and avatar in step with the remote chat."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mautrix.errors import MatrixRequestError
from mautrix.types import ContentURI, RoomAlias, RoomID

from bridge.avatars import upload_avatar
from bridge.config.model import Config
from bridge.db.stores import PortalStore
from bridge.matrix.client import MatrixClient
from bridge.network.events import AvatarRef, ChatInfo
from bridge.network.ids import PortalKey
from bridge.network.interface import NetworkConnector

from .index import PortalIndex
from .state import PortalState

# In a portal's extra: an admin of the chat asked for the portal (so its alias may open it).
OPENED_BY_CHAT_ADMIN = "opened_by_chat_admin"


class PortalRooms:
    def __init__(
        self,
        config: Config,
        matrix: MatrixClient,
        portals: PortalStore,
        index: PortalIndex,
        connector: NetworkConnector,
    ) -> None:
        self._config = config
        self._matrix = matrix
        self._portals = portals
        self._index = index
        self._connector = connector

    def alias_of(self, key: PortalKey) -> str:
        localpart = self._config.bridge.alias_localpart_for(str(key.chat_id))
        return f"#{localpart}:{self._config.homeserver.domain}"

    async def ensure(self, portal: PortalState, info: ChatInfo, invite: Sequence[str] = ()) -> str:
        """Create the portal's room if it has none; invite ``invite`` either way."""
        config, matrix = self._config, self._matrix
        if portal.room_id is not None:
            for user in invite:
                await matrix.bot.invite_user(RoomID(portal.room_id), user)  # type: ignore[arg-type]
            return portal.room_id
        alias_localpart = None
        if not info.is_direct:
            alias_localpart = config.bridge.alias_localpart_for(str(portal.key.chat_id))
        public = config.bridge.public_portals and not info.is_direct
        initial_state: list[dict[str, Any]] = [
            {
                "type": "m.room.join_rules",
                "content": {"join_rule": "public" if public else "invite"},
            },
            {"type": "m.room.history_visibility", "content": {"history_visibility": "shared"}},
        ]
        avatar_mxc = await self._upload(info.avatar)
        if avatar_mxc:
            initial_state.append({"type": "m.room.avatar", "content": {"url": avatar_mxc}})

        async def create() -> tuple[str, str]:
            return await matrix.create_room(
                name=info.name,
                topic=info.topic,
                alias_localpart=alias_localpart,
                invite=list(invite),
                is_direct=info.is_direct,
                initial_state=initial_state,
            )

        try:
            room_id, version = await create()
        except MatrixRequestError as error:
            # Looking the alias up first would make the homeserver ask the bridge about it (it
            # is in the bridge's namespace), from inside this portal's queue: only look once
            # taken.
            if error.errcode != "M_ROOM_IN_USE" or alias_localpart is None:
                raise
            await self._release_stale_alias(portal, alias_localpart)
            room_id, version = await create()
        await self.remember(portal, room_id, version, info, avatar_mxc)
        portal.log.info("Created room %s (version %s)", room_id, version)
        return room_id

    async def remember(
        self,
        portal: PortalState,
        room_id: str,
        version: str | None,
        info: ChatInfo,
        avatar_mxc: str | None,
    ) -> None:
        avatar_id = info.avatar.id if info.avatar is not None and avatar_mxc else None
        await self._portals.update(
            portal.id,
            mxid=room_id,
            room_version=version,
            name=info.name,
            topic=info.topic,
            avatar_id=avatar_id,
            avatar_mxc=avatar_mxc,
        )
        record = portal.record
        record.mxid, record.room_version = room_id, version
        self._index.set_room(portal.id, room_id)
        record.name, record.topic = info.name, info.topic
        record.avatar_id, record.avatar_mxc = avatar_id, avatar_mxc

    async def update(
        self, portal: PortalState, name: str | None, topic: str | None, avatar: AvatarRef | None
    ) -> None:
        """Apply the remote chat's new name, topic or picture to the room (None: unchanged)."""
        room_id = portal.room_id
        if room_id is None:
            return
        bot = self._matrix.bot
        changes: dict[str, Any] = {}
        if name is not None and name != portal.record.name:
            await bot.set_room_name(RoomID(room_id), name)
            changes["name"] = name
        if topic is not None and topic != portal.record.topic:
            await bot.set_room_topic(RoomID(room_id), topic)
            changes["topic"] = topic
        if avatar is not None and avatar.id != (portal.record.avatar_id or ""):
            mxc = await self._upload(avatar) if avatar.id else ""
            if mxc is not None:
                await bot.set_room_avatar(RoomID(room_id), ContentURI(mxc))
                changes["avatar_id"], changes["avatar_mxc"] = avatar.id, mxc or None
        if changes:
            await self._portals.update(portal.id, **changes)
            for key, value in changes.items():
                setattr(portal.record, key, value)

    async def _upload(self, avatar: AvatarRef | None) -> str | None:
        if avatar is None or not avatar.id:
            return None
        return await upload_avatar(self._connector, self._matrix.bot, avatar)

    async def _release_stale_alias(self, portal: PortalState, localpart: str) -> None:
        """An alias in the bridge's namespace that points at a room no portal owns is left
        over (for example from a database that was reset): free it so the new room can take
        it."""
        bot = self._matrix.bot
        alias = RoomAlias(f"#{localpart}:{self._config.homeserver.domain}")
        try:
            existing = await bot.resolve_room_alias(alias)
        except MatrixRequestError:
            return
        if await self._portals.by_room(existing.room_id) is None:
            portal.log.warning("Removing stale alias %s (pointed at %s)", alias, existing.room_id)
            await bot.remove_room_alias(localpart)
