"""Intake into lanes: each stored event goes to the lane that keeps its chat or room in order.

Routing is decided before an event is stored (its lane is stored with it) from what is in
memory, and handing the stored event to its lane never waits and never touches the database.
So nothing can fail between storing an event and queueing it; should an offer go astray all
the same, the lane is read again from the store (``rescan_stranded``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

from bridge.db.errors import waiting_out_trouble
from bridge.db.inbox import StoredMatrixEvent, StoredRemoteEvent
from bridge.log_context import log_context
from bridge.network.events import RemoteChatCreate, RemoteChatMigrate, RemoteEvent, decode_event
from bridge.network.ids import PortalKey

from .context import PortalContext
from .directions import queue_wait_recorder
from .lanes import CallItem, Lane, LaneItem, MatrixItem, RemoteItem, Source, StoredItem
from .manager import ROOM_PREFIX, PortalManager, lane_of, portal_id_of, room_lane

log = logging.getLogger("portals.router")

# Events waiting longer than this in a lane that is not working are looked at again.
STRANDED_AFTER = timedelta(seconds=30)


class Router:
    def __init__(
        self,
        ctx: PortalContext,
        portals: PortalManager,
        handle_room_event: Callable[[dict[str, Any]], Awaitable[None]],
    ) -> None:
        self._ctx = ctx
        self._portals = portals
        self._handle_room_event = handle_room_event
        self._rooms: dict[str, Lane] = {}
        self._closed = False
        self._stranded: set[str] = set()
        self._retry: asyncio.TimerHandle | None = None
        portals.on_room_released = self._room_released
        portals.on_room_bound = self._room_bound

    # Deciding lanes (before the event is stored).

    def matrix_lane(self, event: dict[str, Any]) -> str:
        room_id = str(event.get("room_id"))
        portal_id = self._ctx.index.by_room(room_id)
        return lane_of(portal_id) if portal_id is not None else room_lane(room_id)

    async def remote_lane(self, event: RemoteEvent) -> str | None:
        """The lane of a remote event; None if its chat has no portal and the event opens
        none (a private message to the bot, a group nobody bridged): it is not stored."""
        portal_id = self._ctx.index.find(event.portal)
        if portal_id is None:
            if not isinstance(event, RemoteChatCreate):
                return None
            portal_id = (await self._portals.ensure(event.portal)).id
        if isinstance(event, RemoteChatMigrate):
            # Events of the new id may come before the move is handled: from now on (and
            # after a restart) they join this portal's lane, behind it.
            new_key = PortalKey(event.new_chat_id, event.portal.receiver)
            await self._portals.follow_key(portal_id, new_key)
        return lane_of(portal_id)

    # Handing stored events over (never waits, never raises).

    def offer_matrix(self, stored: StoredMatrixEvent) -> None:
        lane_name = stored.lane or self.matrix_lane(stored.event)
        replayed = stored.id <= self._ctx.startup.matrix
        received = stored.received_at or time.time()
        self._offer(lane_name, MatrixItem(stored.id, stored.event, replayed, received_at=received))

    def offer_remote(self, stored: StoredRemoteEvent, event: RemoteEvent | None = None) -> None:
        if stored.lane is None:
            log.warning("Remote event %d has no lane; it waits for the next start", stored.id)
            return
        try:
            decoded = event if event is not None else decode_event(stored.event)
        except Exception:
            log.exception("Remote event %d cannot be read; skipped", stored.id)
            return
        replayed = stored.id <= self._ctx.startup.remote
        received = stored.received_at or time.time()
        self._offer(stored.lane, RemoteItem(stored.id, decoded, replayed, received_at=received))

    def _offer(self, lane_name: str, item: StoredItem) -> None:
        try:
            lane = self.lane(lane_name)
            if lane is None:
                log.warning(
                    "Event %d is for %s, which is gone; not handled", item.inbox_id, lane_name
                )
                return
            lane.offer(item)
        except Exception:
            # The event is stored: read its lane from the store again shortly.
            log.exception(
                "Could not queue event %d in %s; reading it again", item.inbox_id, lane_name
            )
            self._stranded.add(lane_name)
            self._retry_soon()

    def _retry_soon(self, delay: float = 1.0) -> None:
        if self._retry is None and not self._closed:
            self._retry = asyncio.get_running_loop().call_later(delay, self._retry_stranded)

    def _retry_stranded(self) -> None:
        self._retry = None
        for lane_name in list(self._stranded):
            try:
                lane = self.lane(lane_name)
                if lane is not None:
                    lane.rescan()
                self._stranded.discard(lane_name)
            except Exception:
                log.exception("Could not read lane %s again; trying later", lane_name)
        if self._stranded:
            self._retry_soon(5.0)

    # Lanes.

    def lane(self, name: str) -> Lane | None:
        portal_id = portal_id_of(name)
        if portal_id is not None:
            portal = self._portals.portal(portal_id)
            return portal.lane if portal is not None else None
        if not name.startswith(ROOM_PREFIX):
            return None
        lane = self._rooms.get(name)
        if lane is None:
            lane = self._rooms[name] = Lane(
                name,
                self._room_handler(name),
                self._room_loader(name),
                self._ctx.queue_size,
                self._ctx.idle_after,
                self._let_go,
                queue_wait_recorder(self._ctx.metrics),
            )
        return lane

    def _room_released(self, lane_name: str) -> None:
        """A room stopped being a portal: its lane reads what the portal's lane handed over."""
        lane = self.lane(lane_name)
        if lane is not None:
            lane.rescan()

    def _room_bound(self, lane_name: str) -> int:
        """A room became a portal's: its lane lets go of the events it holds in memory (the
        portal reads them from the store); the inbox id of the one in hand stays here."""
        lane = self._rooms.get(lane_name)
        if lane is None:
            return 0
        lane.release(lambda _item: True)
        in_hand = lane.in_hand
        return in_hand[1] if in_hand is not None else 0

    def _let_go(self, lane: Lane) -> None:
        if self._rooms.get(lane.name) is lane and lane.idle:
            del self._rooms[lane.name]

    def in_room(self, room_id: str, work: Callable[[], Awaitable[None]]) -> None:
        """Run ``work`` in the room's order of events (its portal's lane if it is a portal);
        raises RuntimeError while the bridge stops."""
        lane = self.lane(self.matrix_lane({"room_id": room_id}))
        if lane is None:
            raise RuntimeError(f"room {room_id} has no lane")
        lane.call(CallItem(work))

    def _room_handler(self, name: str) -> Callable[[LaneItem], Awaitable[None]]:
        async def handle(item: LaneItem) -> None:
            if isinstance(item, CallItem):
                await item.carry_out()
                return
            if not isinstance(item, MatrixItem):
                return
            portal_id = self._ctx.index.by_room(str(item.event.get("room_id")))
            if portal_id is not None:
                # The room became a portal after this event's lane was decided: the event was
                # stored after the room's events were handed over (manager.py), or the bridge
                # stopped in between. The portal handles it, and what follows it here.
                await self._hand_over(name, item, portal_id)
                return
            event_id = item.event.get("event_id")
            with log_context(room=item.event.get("room_id"), event=event_id):
                # A command must not run twice: a message is marked handled first, so a mark
                # that fails leaves it waiting (read again later) instead of done and waiting,
                # to be done again. Membership (an invite setting up a direct chat) is done
                # again instead when the bridge stopped half-way: doing it twice is harmless,
                # and not doing it would leave the room without its portal.
                claimed = item.event.get("type") == "m.room.message"
                if claimed and not await self._claim(item.inbox_id):
                    return
                error = None
                try:
                    await self._handle_room_event(item.event)
                except Exception as failure:
                    log.exception("Failed to handle event %s", event_id)
                    error = repr(failure)
                if claimed and error is None:
                    return
                try:
                    await self._ctx.matrix_inbox.mark_handled(item.inbox_id, error)
                except Exception as failure:
                    log.warning("Could not mark event %s handled: %s", event_id, failure)

        return handle

    async def _hand_over(self, name: str, item: MatrixItem, portal_id: int) -> None:
        room_id = str(item.event.get("room_id"))
        await self._ctx.matrix_inbox.move_room(room_id, name, lane_of(portal_id), item.inbox_id - 1)
        lane = self._rooms.get(name)
        if lane is not None:
            lane.release(lambda _item: True)
        portal = self._portals.portal(portal_id)
        if portal is not None:
            portal.lane.rescan()

    async def _claim(self, inbox_id: int) -> bool:
        """Mark a room event handled before handling it; whether to handle it now. Passing
        trouble with the database is waited out (the room's later events wait behind it)."""

        def trouble(error: BaseException, pause: float) -> None:
            log.warning(
                "Could not mark event %d handled (%s); trying again in %.1f s",
                inbox_id,
                error,
                pause,
            )

        try:
            claimed = await waiting_out_trouble(
                lambda: self._ctx.matrix_inbox.claim(inbox_id), trouble
            )
        except Exception:
            log.exception("Could not mark event %d handled; it waits", inbox_id)
            return False
        if not claimed:
            log.info("Event %d was handled already; not again", inbox_id)
        return claimed

    def _room_loader(
        self, name: str
    ) -> Callable[[Source, int, int], Awaitable[Sequence[StoredItem]]]:
        async def load(source: Source, after: int, limit: int) -> Sequence[StoredItem]:
            if source != "matrix":
                return []
            rows = await self._ctx.matrix_inbox.lane_batch(name, after, limit)
            first = self._ctx.startup.matrix
            return [
                MatrixItem(row.id, row.event, row.id <= first, received_at=row.received_at)
                for row in rows
            ]

        return load

    # Start-up and safety.

    async def replay(self) -> int:
        """Queue what was stored but not handled before the last stop: each lane with such
        events reads them from the store, in order. Returns how many lanes."""
        ctx = self._ctx
        await self._assign_old_events()
        lanes = await ctx.matrix_inbox.pending_lanes()
        lanes |= await ctx.remote_inbox.pending_lanes(ctx.connector.name)
        for name in sorted(lanes):
            lane = self.lane(name)
            if lane is None:
                log.warning("Events wait for %s, which is gone; they are not handled", name)
                continue
            lane.rescan()
        return len(lanes)

    async def _assign_old_events(self) -> None:
        """Events stored by a version without lanes get theirs now."""
        ctx = self._ctx
        matrix = {
            row.id: self.matrix_lane(row.event) for row in await ctx.matrix_inbox.unassigned()
        }
        if matrix:
            await ctx.matrix_inbox.assign_lanes(matrix)
        remote: dict[int, str] = {}
        for row in await ctx.remote_inbox.unassigned(ctx.connector.name):
            lane = await self.remote_lane(decode_event(row.event))
            if lane is None:
                await ctx.remote_inbox.mark_handled(row.id, "no portal")
            else:
                remote[row.id] = lane
        if remote:
            await ctx.remote_inbox.assign_lanes(remote)

    async def rescan_stranded(self) -> None:
        """Lanes with events waiting a while and nothing in hand read the store again: an
        offer that went astray for any reason is handled after all."""
        ctx = self._ctx
        await ctx.marks.flush()
        lanes = await ctx.matrix_inbox.pending_lanes(STRANDED_AFTER)
        lanes |= await ctx.remote_inbox.pending_lanes(ctx.connector.name, STRANDED_AFTER)
        for name in lanes:
            lane = self.lane(name)
            if lane is not None and lane.idle:
                log.warning(
                    "Events in %s were waiting with nobody at work; reading them again", name
                )
                lane.rescan()

    async def close(self, timeout: float) -> bool:
        self._closed = True
        if self._retry is not None:
            self._retry.cancel()
        results = await asyncio.gather(
            *(lane.close(timeout) for lane in list(self._rooms.values()))
        )
        return all(results)
