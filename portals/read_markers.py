"""Matrix read receipts in portal rooms, carried to networks that take read markers.

A receipt names the event a user has read up to; the message map turns it into the remote
message (the last part of a split one). Only the newest receipt per user and chat waits to
go: an older one it replaces would say less. Private receipts (``m.read.private``) stay in
Matrix, as their sender asked.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Any

from bridge.cancelling import cancel_and_wait
from bridge.db.stores import MessageStore
from bridge.lru import BoundedDict
from bridge.network.capabilities import SendsReadMarkers
from bridge.network.ids import PortalKey, RemoteMessageID, part_order
from bridge.network.interface import NetworkConnector

from .index import PortalIndex

log = logging.getLogger("portals.read_markers")

MAX_WAITING = 10_000


class ReadMarkerRelay:
    def __init__(
        self,
        connector: NetworkConnector,
        index: PortalIndex,
        messages: MessageStore,
        relayed: Callable[[str], bool],
    ) -> None:
        self._connector = connector
        self._index = index
        self._messages = messages
        self._relayed = relayed
        # (chat, reader) -> the event read up to, newest last.
        self._waiting: BoundedDict[tuple[PortalKey, str], str] = BoundedDict(MAX_WAITING)
        self._worker: asyncio.Task[None] | None = None

    def handle(self, ephemeral: Iterable[dict[str, Any]]) -> None:
        if not isinstance(self._connector, SendsReadMarkers):
            return
        for event in ephemeral:
            content = event.get("content")
            if event.get("type") != "m.receipt" or not isinstance(content, dict):
                continue
            portal_id = self._index.by_room(str(event.get("room_id")))
            entry = self._index.entry(portal_id) if portal_id is not None else None
            if entry is None:
                continue
            for event_id, kinds in content.items():
                readers = kinds.get("m.read") if isinstance(kinds, dict) else None
                if not isinstance(readers, dict):
                    continue
                for reader in readers:
                    if isinstance(reader, str) and self._relayed(reader):
                        self._waiting.pop((entry.key, reader), None)
                        self._waiting[(entry.key, reader)] = str(event_id)
        if self._waiting and (self._worker is None or self._worker.done()):
            self._worker = asyncio.create_task(self._carry(), name="read-markers")

    async def _carry(self) -> None:
        connector = self._connector
        assert isinstance(connector, SendsReadMarkers)
        while self._waiting:
            (portal, reader), event_id = self._waiting.popitem(last=False)
            try:
                rows = await self._messages.by_mxid(event_id)
                if not rows:
                    continue  # not a message the bridge carried
                last = max(rows, key=lambda row: part_order(row.part_id))
                await connector.mark_read(portal, reader, RemoteMessageID(last.remote_id))
            except Exception as error:
                # Only a courtesy: a failure here must not disturb anything else.
                log.debug(
                    "Could not mark %s read for %s in %s: %s", event_id, reader, portal, error
                )

    async def stop(self) -> None:
        worker, self._worker = self._worker, None
        self._waiting.clear()
        if worker is not None:
            await cancel_and_wait([worker])
