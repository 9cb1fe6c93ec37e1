"""Sends each stored Matrix event to the queue that keeps its room in order."""

from __future__ import annotations

import asyncio
import logging
import zlib

from portals.items import MatrixItem
from portals.manager import PortalManager
from portals.queue import OrderedQueue

from .db.inbox import MatrixInboxStore, StoredMatrixEvent
from .management import ManagementRooms

log = logging.getLogger("bridge.router")


class MatrixRouter:
    """Portal rooms go to their portal's queue; every other room to one of a few shared queues,
    chosen by room so each room stays in order."""

    def __init__(
        self,
        portals: PortalManager,
        management: ManagementRooms,
        inbox: MatrixInboxStore,
        queue_size: int,
        shards: int = 4,
    ) -> None:
        self._portals = portals
        self._management = management
        self._inbox = inbox
        self._shards = [
            OrderedQueue(f"rooms:{index}", self._handle_other, queue_size)
            for index in range(shards)
        ]

    async def route(self, stored: StoredMatrixEvent) -> None:
        room_id = stored.room_id
        portal = await self._portals.by_room(room_id) if room_id else None
        item = MatrixItem(stored.id, stored.event)
        if portal is not None:
            await portal.queue.put(item)
            return
        shard = zlib.crc32((room_id or "").encode()) % len(self._shards)
        await self._shards[shard].put(item)

    async def _handle_other(self, item: MatrixItem) -> None:
        error = None
        try:
            await self._management.handle(item.event)
        except Exception as failure:
            log.exception("Failed to handle event %s", item.event.get("event_id"))
            error = repr(failure)
        await self._inbox.mark_handled(item.inbox_id, error)

    async def close(self, timeout: float) -> bool:
        results = await asyncio.gather(*(shard.close(timeout) for shard in self._shards))
        return all(results)
