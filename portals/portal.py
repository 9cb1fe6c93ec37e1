"""A portal: one remote chat, its Matrix room and its lane of events from both sides."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from bridge.db.errors import is_transient
from bridge.db.models import Portal as PortalRecord
from bridge.network.events import decode_event
from bridge.network.ids import PortalKey

from . import from_matrix, to_matrix
from .context import PortalContext
from .delivery import Backlog, describe, retry_delay
from .lanes import CallItem, Lane, LaneItem, MatrixItem, RemoteItem, Source, StoredItem

MAX_BACKOFF = 10.0


class Portal:
    def __init__(
        self,
        portal_id: int,
        key: PortalKey,
        ctx: PortalContext,
        on_idle: Callable[[Portal], None] | None = None,
    ) -> None:
        self.key = key
        self._id = portal_id
        self.ctx = ctx
        self._record: PortalRecord | None = None
        self.log = logging.getLogger(f"portals.{key}")
        self.lane = Lane(
            f"portal:{portal_id}",
            self._handle,
            self._load,
            ctx.queue_size,
            ctx.idle_after,
            (lambda _lane: on_idle(self)) if on_idle is not None else None,
        )
        self.backlog = Backlog(self._notice)
        # Events handled ahead of their place in the lane, by catch_up.
        self.caught_up: set[str] = set()
        # The inbox id of the event from which this room's timeline was last looked through
        # for undelivered events (bridge/matrix/gaps.py).
        self.checked_at = 0
        # Senders told that their messages are not relayed (bridge.relay.enabled): once a run.
        self.told_relay_off: set[str] = set()

    @property
    def id(self) -> int:
        return self._id

    @property
    def record(self) -> PortalRecord:
        if self._record is None:
            raise RuntimeError(f"portal {self._id} is not loaded")
        return self._record

    @property
    def room_id(self) -> str | None:
        return self._record.mxid if self._record is not None else self._index_room()

    def _index_room(self) -> str | None:
        entry = self.ctx.index.entry(self._id)
        return entry.room_id if entry is not None else None

    async def load(self) -> bool:
        """Read the portal's record (waiting out database trouble); False if it is gone."""
        attempt = 0
        while self._record is None:
            try:
                self._record = await self.ctx.portals.by_id(self._id)
            except Exception as error:
                if not is_transient(error):
                    raise
                attempt += 1
                await asyncio.sleep(min(0.5 * 2.0**attempt, MAX_BACKOFF))
                continue
            if self._record is None:
                return False
        return True

    def rekey(self, key: PortalKey) -> None:
        """The remote chat moved to a new id; events under the old id still come here."""
        old = self.key
        self.key = key
        self.ctx.index.add(self._id, key, self.room_id)
        self.ctx.index.alias(self._id, old)

    async def _notice(self, text: str) -> None:
        await from_matrix.notice(self, text)

    async def sweep_later(self) -> None:
        """Queue a look for events the homeserver never delivered (in this portal's order)."""

        async def run() -> None:
            try:
                await from_matrix.sweep(self)
            except Exception as error:
                # Nobody waits for a sweep; the next one tries again.
                self.log.warning("Looking for undelivered events failed: %s", error)

        self.lane.call(CallItem(run))

    async def _load(self, source: Source, after: int, limit: int) -> Sequence[StoredItem]:
        ctx = self.ctx
        await ctx.marks.flush()  # rows handled a moment ago must not come back
        if source == "matrix":
            rows = await ctx.matrix_inbox.lane_batch(self.lane.name, after, limit)
            first = ctx.startup.matrix
            return [MatrixItem(row.id, row.event, row.id <= first) for row in rows]
        remote_rows = await ctx.remote_inbox.lane_batch(self.lane.name, after, limit)
        first = ctx.startup.remote
        return [RemoteItem(row.id, decode_event(row.event), row.id <= first) for row in remote_rows]

    async def _handle(self, item: LaneItem) -> None:
        if isinstance(item, CallItem):
            await self._call(item)
            return
        if not await self.load():
            await self._mark(item, False, "the portal no longer exists")
            return
        match item:
            case MatrixItem(inbox_id=inbox_id, event=event, replayed=replayed):
                event_id = str(event.get("event_id"))
                if event_id in self.caught_up:
                    # Handled (and marked) ahead of its turn: it was late.
                    self.caught_up.discard(event_id)
                    return
                safe, error = await self._until_done(
                    lambda tries: from_matrix.handle_event(
                        self, event, retry=tries > 0 or replayed, inbox_id=inbox_id
                    )
                )
            case RemoteItem(event=remote, replayed=replayed):
                safe, error = await self._until_done(
                    lambda tries: to_matrix.handle_event(self, remote, tries > 0 or replayed)
                )
        await self._mark(item, safe, error)

    async def _call(self, item: CallItem) -> None:
        try:
            if not await self.load():
                raise LookupError("the portal no longer exists")
            result = await item.run()
        except Exception as failure:
            if not item.done.done():
                item.done.set_exception(failure)
        else:
            if not item.done.done():
                item.done.set_result(result)

    async def _mark(self, item: MatrixItem | RemoteItem, safe: bool, error: str | None) -> None:
        """Mark the event handled: later and in a batch when handling it again is harmless
        (its effect is in the message map), else now."""
        if safe and error is None:
            self.ctx.marks.defer(item.source, item.inbox_id)
            return
        store = self.ctx.matrix_inbox if item.source == "matrix" else self.ctx.remote_inbox
        attempt = 0
        while True:
            try:
                await store.mark_handled(item.inbox_id, error)
                return
            except Exception as failure:
                if not is_transient(failure):
                    self.log.exception("Could not mark event %d handled", item.inbox_id)
                    return
                attempt += 1
                await asyncio.sleep(min(0.5 * 2.0**attempt, MAX_BACKOFF))

    async def _until_done(
        self, attempt: Callable[[int], Awaitable[bool]]
    ) -> tuple[bool, str | None]:
        """Run the head of the lane until it succeeds or fails for good (the failure returned
        as text), with whether handling it again would be harmless.

        While it waits, nothing behind it in this portal moves; other portals do.
        """
        tries = 0
        while True:
            try:
                safe = await attempt(tries)
            except Exception as failure:
                delay = retry_delay(failure, tries)
                if delay is None:
                    self.log.exception("Failed for good; moving on")
                    return False, repr(failure)
                tries += 1
                self.log.warning("Waiting %.1f s to try again: %s", delay, describe(failure))
                await self.backlog.waiting(describe(failure), delay, self._waiting())
                await asyncio.sleep(delay)
            else:
                # Back to normal once an event goes through without waiting, or the lane is
                # empty; not while a backlog still drains under the same limit.
                if tries == 0 or (len(self.lane) == 0 and not self.lane.spilled):
                    await self.backlog.flowing()
                return safe, None

    def _waiting(self) -> int | None:
        """Events behind the one in hand; None when more wait in the store than in memory."""
        return None if self.lane.spilled else len(self.lane)
