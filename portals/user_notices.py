"""Notices to Matrix users in their management rooms (a link made or declined, a business
account connected), told by whatever the network's updates bring.

Telling one must never hold up intake: the update that caused it is confirmed to the network
once the notice is stored, and the homeserver is asked afterwards, in the management room's own
order (its lane, behind the commands typed there), waiting out a homeserver that is away. A
notice still unsent when the bridge stops is sent after the next start; each is sent with a
transaction id of its own, so a repeat after a lost answer is no second notice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from bridge.db.models import UserNotice
from bridge.db.notices import NoticeStore
from bridge.db.stores import UserStore

from .delivery import describe, retry_delay

log = logging.getLogger("portals.user_notices")

# Sends a notice (room, text, transaction id).
Send = Callable[[str, str, str], Awaitable[None]]
# Runs work in a room's order (Router.in_room).
InRoom = Callable[[str, Callable[[], Awaitable[None]]], None]


class UserNotices:
    def __init__(self, store: NoticeStore, users: UserStore, send: Send) -> None:
        self._store = store
        self._users = users
        self._send = send
        self._in_room: InRoom | None = None

    async def tell(self, mxid: str, text: str) -> None:
        """Store a notice for the user's management room (if they have one) and queue it."""
        user = await self._users.get(mxid)
        if user is None or user.management_room is None:
            log.info("%s has no management room to be told in", mxid)
            return
        notice = await self._store.add(user.management_room, text)
        self._queue(notice)

    async def start(self, in_room: InRoom) -> None:
        """Send from now on, in each room's order; queue what waits from before."""
        self._in_room = in_room
        waiting = await self._store.pending()
        if waiting:
            log.info("%d notices to management rooms wait from before", len(waiting))
        for notice in waiting:
            self._queue(notice)

    def _queue(self, notice: UserNotice) -> None:
        if self._in_room is None:
            return  # stored: start() queues it

        async def deliver() -> None:
            await self._deliver(notice)

        try:
            self._in_room(notice.room_id, deliver)
        except RuntimeError as error:
            # The room's lane is closing (the bridge stops): sent after the next start.
            log.info("Notice %d waits for the next start: %s", notice.id, error)

    async def _deliver(self, notice: UserNotice) -> None:
        tries = 0
        while True:
            try:
                await self._send(notice.room_id, notice.text, notice.txn_id)
                break
            except Exception as failure:
                delay = retry_delay(failure, tries)
                if delay is None:
                    log.warning("Notice %d to %s refused: %s", notice.id, notice.room_id, failure)
                    break
                tries += 1
                log.info("Notice %d waits %.1f s: %s", notice.id, delay, describe(failure))
                await asyncio.sleep(delay)
        try:
            await self._store.sent(notice.id)
        except Exception as failure:
            # Sent again after the next start, with the same transaction id.
            log.warning("Could not note notice %d as sent: %s", notice.id, failure)
