"""A portal: one remote chat, its Matrix room and its lane of events from both sides."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from bridge.db.errors import waiting_out_trouble
from bridge.db.models import Portal as PortalRecord
from bridge.log_context import log_context
from bridge.metrics import Direction
from bridge.network.events import decode_event
from bridge.network.ids import PortalKey

from .context import PortalContext
from .delivery import Backlog, describe, failure_reason, retry_delay
from .directions import DIRECTIONS, queue_wait_recorder
from .handlers import PortalHandlers
from .lanes import CallItem, Lane, LaneItem, MatrixItem, RemoteItem, Source, StoredItem
from .notices import send_notice
from .state import PortalState


class Portal:
    """Runs the portal's lane: each event in turn, to the handler of its side, until it is done
    or fails for good; the handlers get the portal's state (state.py) with each event."""

    def __init__(
        self,
        portal_id: int,
        key: PortalKey,
        ctx: PortalContext,
        handlers: PortalHandlers,
        on_idle: Callable[[Portal], None] | None = None,
    ) -> None:
        self._ctx = ctx
        self._handlers = handlers
        lane_name = f"portal:{portal_id}"
        self.state = PortalState(portal_id, key, lane_name, logging.getLogger(f"portals.{key}"))
        self.log = self.state.log
        self.lane = Lane(
            lane_name,
            self._handle,
            self._load,
            ctx.queue_size,
            ctx.idle_after,
            (lambda _lane: on_idle(self)) if on_idle is not None else None,
            queue_wait_recorder(ctx.metrics),
        )
        self.backlog = Backlog(self._notice)

    @property
    def id(self) -> int:
        return self.state.id

    @property
    def key(self) -> PortalKey:
        return self.state.key

    @property
    def record(self) -> PortalRecord:
        return self.state.record

    @property
    def room_id(self) -> str | None:
        if self.state.loaded is not None:
            return self.state.loaded.mxid
        entry = self._ctx.index.entry(self.id)
        return entry.room_id if entry is not None else None

    async def load(self) -> bool:
        """Read the portal's record (waiting out database trouble); False if it is gone."""
        if self.state.loaded is None:
            self.state.loaded = await waiting_out_trouble(lambda: self._ctx.portals.by_id(self.id))
        return self.state.loaded is not None

    async def _notice(self, text: str) -> None:
        if self.room_id is not None:
            await send_notice(self._ctx.matrix.bot, self.room_id, text)

    async def sweep_later(self) -> None:
        """Queue a look for events the homeserver never delivered (in this portal's order)."""

        async def run() -> None:
            try:
                await self._handlers.from_matrix.sweep(self.state)
            except Exception as error:
                # Nobody waits for a sweep; the next one tries again.
                self.log.warning("Looking for undelivered events failed: %s", error)

        self.lane.call(CallItem(run))

    async def _load(self, source: Source, after: int, limit: int) -> Sequence[StoredItem]:
        ctx = self._ctx
        await ctx.marks.flush()  # rows handled a moment ago must not come back
        if source == "matrix":
            rows = await ctx.matrix_inbox.lane_batch(self.lane.name, after, limit)
            first = ctx.startup.matrix
            return [
                MatrixItem(row.id, row.event, row.id <= first, received_at=row.received_at)
                for row in rows
            ]
        remote_rows = await ctx.remote_inbox.lane_batch(self.lane.name, after, limit)
        first = ctx.startup.remote
        return [
            RemoteItem(
                row.id, decode_event(row.event), row.id <= first, received_at=row.received_at
            )
            for row in remote_rows
        ]

    async def _handle(self, item: LaneItem) -> None:
        # Every line logged while this item is handled names the portal and the event.
        with log_context(portal=self.key, room=self.room_id, **_item_ids(item)):
            await self._handle_item(item)

    async def _handle_item(self, item: LaneItem) -> None:
        if isinstance(item, CallItem):
            await self._call(item)
            return
        direction = DIRECTIONS[item.source]
        if not await self.load():
            self._ctx.metrics.failed(direction, "portal_gone")
            await self._mark(item, False, "the portal no longer exists")
            return
        match item:
            case MatrixItem(inbox_id=inbox_id, event=event, replayed=replayed):
                event_id = str(event.get("event_id"))
                if event_id in self.state.caught_up:
                    # Handled (and marked) ahead of its turn: it was late.
                    self.state.caught_up.discard(event_id)
                    return
                from_matrix = self._handlers.from_matrix
                safe, error = await self._until_done(
                    direction,
                    lambda tries: from_matrix.handle(
                        self.state, event, retry=tries > 0 or replayed, inbox_id=inbox_id
                    ),
                )
            case RemoteItem(event=remote, replayed=replayed):
                to_matrix = self._handlers.to_matrix
                safe, error = await self._until_done(
                    direction,
                    lambda tries: to_matrix.handle(self.state, remote, tries > 0 or replayed),
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
            self._ctx.marks.defer(item.source, item.inbox_id)
            return
        store = self._ctx.matrix_inbox if item.source == "matrix" else self._ctx.remote_inbox
        try:
            await waiting_out_trouble(lambda: store.mark_handled(item.inbox_id, error))
        except Exception:
            self.log.exception("Could not mark event %d handled", item.inbox_id)

    async def _until_done(
        self, direction: Direction, attempt: Callable[[int], Awaitable[bool]]
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
                    self._ctx.metrics.failed(direction, failure_reason(failure))
                    return False, repr(failure)
                self._ctx.metrics.retried(direction, failure_reason(failure))
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


def _item_ids(item: LaneItem) -> dict[str, object]:
    match item:
        case MatrixItem(event=event):
            return {"event": event.get("event_id")}
        case RemoteItem(event=remote):
            return {"remote": getattr(remote, "message_id", None)}
        case _:
            return {}
