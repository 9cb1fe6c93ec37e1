"""Matrix users of the bridge: their permission level and management room."""

from __future__ import annotations

from .config.model import Config, PermissionLevel
from .db.models import User
from .db.stores import UserStore
from .permissions import permission_level


class UserManager:
    def __init__(self, config: Config, store: UserStore) -> None:
        self._config = config
        self._store = store

    def level(self, mxid: str) -> PermissionLevel:
        return permission_level(mxid, self._config.bridge.permissions)

    async def get(self, mxid: str) -> User:
        return await self._store.get_or_create(mxid)

    async def is_management_room(self, mxid: str, room_id: str) -> bool:
        user = await self._store.get(mxid)
        return user is not None and user.management_room == room_id

    async def set_management_room(self, mxid: str, room_id: str | None) -> None:
        await self._store.get_or_create(mxid)
        await self._store.set_management_room(mxid, room_id)

    async def owner_of_management_room(self, room_id: str) -> User | None:
        return await self._store.by_management_room(room_id)
