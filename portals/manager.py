"""Finds and creates portals; keeps the portal objects of active chats in memory.

Which portals exist is always in memory (the index); a portal object, with its record and
lane, is made when the portal has work and let go once its lane has been idle for a while.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from bridge.network.events import ChatInfo
from bridge.network.ids import PortalKey, RemoteChatID

from .context import PortalContext
from .handlers import build_handlers
from .lanes import CallItem, MatrixItem
from .portal import Portal
from .retries import HeadWait
from .room import OPENED_BY_CHAT_ADMIN
from .state import PortalState

log = logging.getLogger("portals")

T = TypeVar("T")

LANE_PREFIX = "portal:"
ROOM_PREFIX = "room:"


@dataclass(frozen=True, slots=True)
class StuckChat:
    """A chat whose queue waits on an event that keeps failing (the stuck and skip commands)."""

    room_id: str | None
    chat_id: str
    name: str | None
    wait: HeadWait
    # Give the event up (the admin who asks); see Portal.skip.
    skip: Callable[[str], HeadWait | None]


class BindRefused(Exception):
    """The room cannot be bound to the chat; the text says why."""


def lane_of(portal_id: int) -> str:
    return f"{LANE_PREFIX}{portal_id}"


def room_lane(room_id: str) -> str:
    """The lane of a room that is no portal (its commands, its membership)."""
    return f"{ROOM_PREFIX}{room_id}"


def portal_id_of(lane: str) -> int | None:
    if not lane.startswith(LANE_PREFIX):
        return None
    try:
        return int(lane.removeprefix(LANE_PREFIX))
    except ValueError:
        return None


class PortalManager:
    def __init__(self, ctx: PortalContext) -> None:
        self._ctx = ctx
        self._handlers = build_handlers(ctx, self._forget_room)
        self.index = ctx.index
        self._loaded: dict[int, Portal] = {}
        self._lock = asyncio.Lock()
        # Told the lane of a room that stopped being a portal, with events of it to take over.
        self.on_room_released: Callable[[str], None] | None = None
        # Told the lane of a room that became a portal's: it lets go of the events it holds
        # (the portal takes them from the store) and answers the inbox id of the one it is
        # handling now (0 if none), which stays its own.
        self.on_room_bound: Callable[[str], int] | None = None

    async def load_index(self) -> None:
        for row in await self._ctx.portals.index_rows():
            key = PortalKey(RemoteChatID(row.remote_id), row.receiver)
            self.index.add(row.id, key, row.mxid)
            for other in (row.extra or {}).get("also", []):
                self.index.alias(row.id, PortalKey(RemoteChatID(str(other)), row.receiver))
        log.info("%d portals known", len(self.index))

    # In memory, for intake: never waits, never fails.

    def portal(self, portal_id: int) -> Portal | None:
        """The portal object of a known portal (made if it is not in memory)."""
        portal = self._loaded.get(portal_id)
        if portal is None:
            entry = self.index.entry(portal_id)
            if entry is None:
                return None
            portal = Portal(portal_id, entry.key, self._ctx, self._handlers, self._let_go)
            self._loaded[portal_id] = portal
        return portal

    def loaded(self) -> list[Portal]:
        return list(self._loaded.values())

    def stuck(self) -> list[StuckChat]:
        """The chats waiting on an event that keeps failing (only a working portal can, and
        those are in memory)."""
        return [
            StuckChat(
                portal.room_id,
                str(portal.key.chat_id),
                portal.state.loaded.name if portal.state.loaded is not None else None,
                portal.waiting,
                portal.skip,
            )
            for portal in self._loaded.values()
            if portal.waiting is not None
        ]

    def names_a_portal(self, wanted: str) -> bool:
        """Whether ``wanted`` is a portal's room id or remote chat id."""
        chat = RemoteChatID(wanted)
        return (
            self.index.by_room(wanted) is not None
            or self.index.find(PortalKey(chat)) is not None
            or bool(self.index.receivers(chat))
        )

    def _let_go(self, portal: Portal) -> None:
        if self._loaded.get(portal.id) is portal and portal.lane.idle:
            del self._loaded[portal.id]

    # With the database.

    async def ensure(self, key: PortalKey) -> Portal:
        """The portal of a remote chat; its record is created (without a room) if it is new."""
        portal_id = self.index.find(key)
        if portal_id is None:
            async with self._lock:
                portal_id = self.index.find(key)
                if portal_id is None:
                    record = await self._ctx.portals.get_or_create(str(key.chat_id), key.receiver)
                    portal_id = record.id
                    self.index.add(portal_id, key, record.mxid)
        portal = self.portal(portal_id)
        assert portal is not None
        await portal.load()
        return portal

    async def by_room(self, room_id: str) -> Portal | None:
        portal_id = self.index.by_room(room_id)
        if portal_id is None:
            return None
        portal = self.portal(portal_id)
        if portal is None or not await portal.load():
            return None
        return portal

    async def get(self, key: PortalKey) -> Portal | None:
        portal_id = self.index.find(key)
        portal = self.portal(portal_id) if portal_id is not None else None
        if portal is None or not await portal.load():
            return None
        return portal

    async def create_room(self, key: PortalKey, info: ChatInfo, invite: Sequence[str] = ()) -> str:
        """Create the portal's room in the portal's own order of events and wait for it."""
        portal = await self.ensure(key)

        async def create() -> str:
            return await self._handlers.rooms.ensure(portal.state, info, invite)

        item = CallItem(create)
        portal.lane.call(item)
        room_id: str = await item.done
        return room_id

    async def bind_room(
        self,
        key: PortalKey,
        room_id: str,
        info: ChatInfo,
        then: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Make an existing room the portal's room, in the portal's order of events; raise
        BindRefused if the chat got a room meanwhile (the check runs in that order too).

        ``then`` runs in the same turn of the lane: the room's events that were waiting, and
        those that come next, are this portal's now and are handled after it.
        """
        portal = await self.ensure(key)

        async def bind() -> None:
            if portal.room_id is not None:
                raise BindRefused(
                    f"that chat is bridged to another room ({portal.room_id}); "
                    "unbridge it there first"
                )
            await self._handlers.rooms.remember(portal.state, room_id, None, info, None)
            await self._adopt_room_events(portal, room_id)
            if then is not None:
                await then()

        item = CallItem(bind)
        portal.lane.call(item)
        await item.done

    async def _adopt_room_events(self, portal: Portal, room_id: str) -> None:
        """The room became this portal's (in the portal's turn): its events that wait in the
        room's own lane, in memory or in the store, are the portal's now, handled in the order
        they arrived, before those that came to the portal directly since.

        The one the room's lane is handling stays its own (the invite or command that bound
        the room, say); one whose lane was decided before the room was bound and that is
        stored only after this is handed on by the room's lane (router.py).
        """
        lane = room_lane(room_id)
        in_hand = self.on_room_bound(lane) if self.on_room_bound is not None else 0
        portal.state.room_lane_until = in_hand
        await self._ctx.matrix_inbox.move_room(room_id, lane, portal.lane.name, in_hand)
        # Read the room's events again from the store, in inbox order: those that came
        # straight here since the room was bound are behind the ones taken over.
        portal.lane.release(
            lambda item: isinstance(item, MatrixItem) and item.event.get("room_id") == room_id
        )
        portal.lane.rescan()

    async def in_order(self, portal: Portal, work: Callable[[], Awaitable[T]]) -> T:
        """Run ``work`` in the portal's order of events: at once when called from the portal's
        own lane (a command in its room, where queueing would wait for itself), else queued."""
        if portal.lane.is_current():
            return await work()
        item = CallItem(work)
        portal.lane.call(item)
        result: T = await item.done
        return result

    async def unbind_room(self, portal: Portal) -> None:
        """Forget the portal (and its message map); the room stays as an ordinary room.

        Call it in the portal's order (``in_order``): the room's events behind it are handed
        to the room's own lane.
        """
        room_id = portal.room_id
        await self._ctx.portals.delete(portal.id)
        if room_id is not None:
            # The room's events behind this command are no longer the portal's: they go to
            # the room's own lane, in their order (a command among them is still answered).
            in_hand = portal.lane.in_hand
            after = in_hand[1] if in_hand is not None and in_hand[0] == "matrix" else 0
            await self._ctx.matrix_inbox.move_room(
                room_id, portal.lane.name, room_lane(room_id), after
            )
        self.index.remove(portal.id)
        portal.record.mxid = None
        if room_id is not None:
            portal.lane.release(
                lambda item: isinstance(item, MatrixItem) and item.event.get("room_id") == room_id
            )
            if self.on_room_released is not None:
                self.on_room_released(room_lane(room_id))

    async def _forget_room(self, state: PortalState) -> None:
        """Unbind a portal from its room, asked by its own handlers (in its turn)."""
        portal = self.portal(state.id)
        if portal is not None:
            await self.unbind_room(portal)

    async def follow_key(self, portal_id: int, key: PortalKey) -> None:
        """Send events of ``key`` to this portal from now on, also after a restart (a chat
        that is moving to a new id)."""
        if self.index.find(key) == portal_id:
            return
        existing = self.index.find(key)
        if existing is not None:
            entry = self.index.entry(existing)
            if entry is not None and entry.room_id is not None:
                return  # the new id has a room of its own; migrate.follow keeps both
        await self._ctx.portals.add_alias(portal_id, str(key.chat_id))
        self.index.alias(portal_id, key, override=True)

    async def opened_by_chat_admin(self, key: PortalKey) -> bool:
        """Whether an admin of the chat asked for its portal (on the network, with /bridge)."""
        portal = await self.get(key)
        return portal is not None and bool((portal.record.extra or {}).get(OPENED_BY_CHAT_ADMIN))

    async def prune_roomless(self, older_than: timedelta) -> int:
        """Forget portals that never got a room and have nothing waiting."""
        ctx = self._ctx
        waiting = await ctx.matrix_inbox.pending_lanes()
        waiting |= await ctx.remote_inbox.pending_lanes(ctx.connector.name)
        pruned = 0
        for portal_id in await ctx.portals.roomless(older_than):
            portal = self._loaded.get(portal_id)
            if lane_of(portal_id) in waiting or (portal is not None and not portal.lane.idle):
                continue
            await ctx.portals.delete(portal_id)
            self.index.remove(portal_id)
            self._loaded.pop(portal_id, None)
            pruned += 1
        return pruned

    async def bridged_keys(self) -> list[PortalKey]:
        return [entry.key for _, entry in self.index.with_rooms()]

    # Stranded deliveries.

    async def sweep_periodically(self, interval: float, active_within: float) -> None:
        """Look in recently active portal rooms for events the homeserver never delivered,
        after each new gap in its deliveries (bridge/matrix/gaps.py): a stranded delivery is
        otherwise found only when the next message of its room comes. Without a gap there is
        nothing to look for, and nothing is asked."""
        seen = self._ctx.gaps.opened
        while True:
            await asyncio.sleep(interval)
            if self._ctx.gaps.opened == seen:
                continue
            seen = self._ctx.gaps.opened
            now = time.monotonic()
            for room_id, last in list(self._ctx.activity.items()):
                if now - last > active_within:
                    del self._ctx.activity[room_id]
                    continue
                portal_id = self.index.by_room(room_id)
                portal = self.portal(portal_id) if portal_id is not None else None
                if portal is None:
                    continue
                try:
                    await portal.sweep_later()
                except RuntimeError:
                    return  # the lane is closing: the bridge stops

    async def close(self, timeout: float) -> bool:
        """Finish what every portal holds in memory within ``timeout``; True if all did."""
        results = await asyncio.gather(
            *(portal.close(timeout) for portal in list(self._loaded.values()))
        )
        return all(results)
