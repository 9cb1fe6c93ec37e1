"""Finds, creates and caches portals; one Portal object (and queue) per remote chat."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from bridge.network.events import ChatInfo
from bridge.network.ids import PortalKey, RemoteChatID

from .context import PortalContext
from .items import CallItem
from .portal import Portal
from .room import ensure_room, remember_room

log = logging.getLogger("portals")


class PortalManager:
    def __init__(self, ctx: PortalContext) -> None:
        self._ctx = ctx
        self._by_key: dict[PortalKey, Portal] = {}
        self._by_room: dict[str, Portal] = {}
        # Every portal object made, also those no key leads to any more, so each queue is closed.
        self._made: list[Portal] = []
        self._lock = asyncio.Lock()

    async def get(self, key: PortalKey) -> Portal:
        """The portal of a remote chat, created (without a room) if it is new."""
        async with self._lock:
            portal = self._by_key.get(key)
            if portal is None:
                record = await self._ctx.portals.get_or_create(str(key.chat_id), key.receiver)
                portal = self._remember(Portal(key, record, self._ctx))
            return portal

    async def by_room(self, room_id: str) -> Portal | None:
        portal = self._by_room.get(room_id)
        if portal is not None:
            return portal
        record = await self._ctx.portals.by_room(room_id)
        if record is None or record.network != self._ctx.connector.name:
            return None
        async with self._lock:
            key = PortalKey(RemoteChatID(record.remote_id), record.receiver)
            portal = self._by_key.get(key) or self._remember(Portal(key, record, self._ctx))
            return portal

    async def create_room(self, key: PortalKey, info: ChatInfo, invite: Sequence[str] = ()) -> str:
        """Create the portal's room in the portal's own order of events and wait for it."""
        portal = await self.get(key)

        async def create() -> str:
            room_id = await ensure_room(portal, info, invite)
            self._by_room[room_id] = portal
            return room_id

        item = CallItem(create)
        await portal.queue.put(item)
        room_id: str = await item.done
        return room_id

    async def bind_room(
        self,
        key: PortalKey,
        room_id: str,
        info: ChatInfo,
        then: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Make an existing room the portal's room (in the portal's order of events).

        ``then`` runs in the same turn of the queue: the room's next events, which now come to
        this portal, are handled after it (an answer to the command that bridged the room
        comes before the answers to the commands after it).
        """
        portal = await self.get(key)

        async def bind() -> None:
            await remember_room(portal, room_id, None, info, None)
            self._by_room[room_id] = portal
            if then is not None:
                await then()

        item = CallItem(bind)
        await portal.queue.put(item)
        await item.done

    async def unbind_room(self, portal: Portal) -> None:
        """Forget the portal (and its message map); the room stays as an ordinary room.

        Runs directly: it is called from the portal's own queue (a command in its room), where
        queueing it would wait for itself.
        """
        if portal.room_id is not None:
            self._by_room.pop(portal.room_id, None)
        await self._ctx.portals.delete(portal.id)
        async with self._lock:
            for key in [key for key, known in self._by_key.items() if known is portal]:
                del self._by_key[key]
        portal.record.mxid = None

    def _remember(self, portal: Portal) -> Portal:
        self._made.append(portal)
        self._by_key[portal.key] = portal
        portal.on_rekey = self._rekey
        if portal.room_id is not None:
            self._by_room[portal.room_id] = portal
        return portal

    async def follow_key(self, portal: Portal, key: PortalKey) -> None:
        """Send events of ``key`` to ``portal`` (a chat that is moving to a new id)."""
        async with self._lock:
            existing = self._by_key.get(key)
            if existing is None or existing.room_id is None:
                self._by_key[key] = portal

    def _rekey(self, portal: Portal, key: PortalKey) -> None:
        self._by_key[key] = portal

    def forget_room(self, room_id: str) -> None:
        self._by_room.pop(room_id, None)

    async def bridged_keys(self) -> list[PortalKey]:
        records = await self._ctx.portals.all_with_rooms()
        return [PortalKey(RemoteChatID(record.remote_id), record.receiver) for record in records]

    def loaded(self) -> list[Portal]:
        return list(self._by_key.values())

    async def sweep_periodically(self, interval: float, active_within: float) -> None:
        """Look in recently active portal rooms for events the homeserver never delivered.

        A stranded delivery is otherwise found only when the next message comes."""
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            for portal in list(self._made):
                last = portal.last_matrix_activity
                if portal.room_id is not None and last is not None and now - last < active_within:
                    try:
                        await portal.sweep_later()
                    except RuntimeError:
                        return  # the queue is closing: the bridge stops

    async def close(self, timeout: float) -> bool:
        """Finish every portal's queue within ``timeout``; True if all finished."""
        results = await asyncio.gather(*(portal.queue.close(timeout) for portal in self._made))
        return all(results)
