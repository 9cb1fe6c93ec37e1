"""Filling gaps in what the homeserver delivered, before relaying a Matrix message.

The homeserver delivers a room's events in transactions that should arrive in order. Synapse
can strand a transaction created while it recovers from a failed delivery and send it much
later, after newer ones; a relayed message would then overtake the one before it. So before
a message leaves for the remote chat, the events just before it in the room's timeline are
checked: any the bridge never received are stored and handled first, in timeline order, and
the homeserver's late delivery of them is deduplicated by event id.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from mautrix.api import Method, Path
from mautrix.appservice import IntentAPI
from mautrix.types import EventID, RoomID

from bridge.db.inbox import MatrixInboxStore, StoredMatrixEvent
from bridge.db.marks import HandledMarks
from bridge.matrix.gaps import DeliveryGaps

from .state import PortalState

# Events per page, pages at most, and how far back in time: a gap older than this is no
# stranded delivery.
PAGE = 50
MAX_PAGES = 10
LOOK_BACK_MS = 3600 * 1000


class UndeliveredEvents:
    def __init__(
        self,
        bot: IntentAPI,
        inbox: MatrixInboxStore,
        marks: HandledMarks,
        gaps: DeliveryGaps,
        is_bridge_user: Callable[[str], bool],
    ) -> None:
        self._bot = bot
        self._inbox = inbox
        self._marks = marks
        self._gaps = gaps
        # The bot and the ghosts: their events say nothing of the order of the users' events.
        self._is_bridge_user = is_bridge_user

    async def missing_before(
        self, portal: PortalState, event: dict[str, Any]
    ) -> list[StoredMatrixEvent]:
        """Events before ``event`` in its room not handled yet, oldest first, stored in the
        inbox.

        They were never delivered, or were delivered after ``event`` and wait behind it.
        """
        room_id, event_id = event.get("room_id"), event.get("event_id")
        if not isinstance(room_id, str) or not isinstance(event_id, str):
            return []
        # Events handled a moment ago may wait to be marked (bridge/db/marks.py): write the
        # marks, or the walk would take them for events never handled.
        await self._marks.flush()
        context = await self._bot.api.request(
            Method.GET,
            Path.v3.rooms[RoomID(room_id)].context[EventID(event_id)],
            query_params={"limit": str(PAGE)},
        )
        first = context.get("events_before", [])
        now_ms = int(event.get("origin_server_ts", 0))
        return await self._walk_back(portal, room_id, first, context.get("start"), now_ms)

    async def missing_latest(self, portal: PortalState) -> list[StoredMatrixEvent]:
        """The room's latest events not handled yet, oldest first, stored in the inbox: a
        stranded delivery with no later message to reveal it."""
        room_id = portal.room_id
        if room_id is None:
            return []
        await self._marks.flush()  # as in missing_before
        page = await self._page(room_id, None)
        now_ms = int(time.time() * 1000)
        return await self._walk_back(
            portal, room_id, page.get("chunk", []), page.get("end"), now_ms
        )

    async def _page(self, room_id: str, token: str | None) -> dict[str, Any]:
        query = {"dir": "b", "limit": str(PAGE)}
        if token is not None:
            query["from"] = token
        page: dict[str, Any] = await self._bot.api.request(
            Method.GET, Path.v3.rooms[RoomID(room_id)].messages, query_params=query
        )
        return page

    async def _walk_back(
        self,
        portal: PortalState,
        room_id: str,
        newest_first: list[Any],
        token: str | None,
        now_ms: int,
    ) -> list[StoredMatrixEvent]:
        """Walk back from the newest event to the first handled one; what lies between, oldest
        first. Events older than LOOK_BACK_MS are no stranded delivery and end the walk. If the
        walk finds no end within MAX_PAGES, nothing is handled ahead: handling part of a gap
        before its older part would itself break the order."""
        inbox = self._inbox
        oldest_allowed = now_ms - LOOK_BACK_MS
        gap: list[dict[str, Any]] = []
        for _ in range(MAX_PAGES):
            # The bridge's own events (the bot's, the ghosts') come back to it in their own
            # time and say nothing about the order of the users' events: look past them.
            users = [
                item
                for item in newest_first
                if isinstance(item, dict)
                and isinstance(item.get("event_id"), str)
                and not self._from_bridge(item)
            ]
            status = await inbox.status([item["event_id"] for item in users])
            for item in users:
                known = status.get(item["event_id"])
                if (known is not None and (known[1] or known[0] <= portal.room_lane_until)) or int(
                    item.get("origin_server_ts", 0)
                ) < oldest_allowed:
                    # Handled, or the room's own lane's (it may still be handling the
                    # command that bound the room), or too old to be a stranded delivery.
                    return await self._stored(portal, room_id, list(reversed(gap)))
                gap.append(item)
            if not newest_first or token is None:  # the room's beginning
                return await self._stored(portal, room_id, list(reversed(gap)))
            page = await self._page(room_id, token)
            newest_first, token = page.get("chunk", []), page.get("end")
        portal.log.warning("Could not find where undelivered events start; leaving them in order")
        return []

    async def _stored(
        self, portal: PortalState, room_id: str, oldest_first: list[dict[str, Any]]
    ) -> list[StoredMatrixEvent]:
        inbox = self._inbox
        status = await inbox.status([item["event_id"] for item in oldest_first])
        missing = []
        for item in oldest_first:
            known = status.get(item["event_id"])
            if known is not None:
                missing.append(StoredMatrixEvent(known[0], room_id, item))
                continue
            stored = await inbox.accept_fetched({**item, "room_id": room_id}, portal.lane)
            if stored is not None:
                self._gaps.stored(stored.id)
                missing.append(stored)
        return missing

    def _from_bridge(self, item: dict[str, Any]) -> bool:
        sender = item.get("sender")
        return isinstance(sender, str) and self._is_bridge_user(sender)
