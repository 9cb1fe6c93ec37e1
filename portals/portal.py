"""A portal: one remote chat, its Matrix room and its ordered queue of events from both sides."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from bridge.db.models import Portal as PortalRecord
from bridge.network.ids import PortalKey

from . import from_matrix, to_matrix
from .context import PortalContext
from .delivery import Backlog, describe, retry_delay
from .items import CallItem, MatrixItem, PortalItem, RemoteItem
from .queue import OrderedQueue


class Portal:
    def __init__(self, key: PortalKey, record: PortalRecord, ctx: PortalContext) -> None:
        self.key = key
        self.record = record
        self.ctx = ctx
        self.log = logging.getLogger(f"portals.{key}")
        self.queue: OrderedQueue[PortalItem] = OrderedQueue(
            f"portal:{key}", self._handle, ctx.queue_size
        )
        self.backlog = Backlog(self._notice)
        # When a Matrix user last wrote here (monotonic), for the sweep for stranded events.
        self.last_matrix_activity: float | None = None
        # Events handled ahead of their place in the queue, by catch_up.
        self.caught_up: set[str] = set()
        # Display names from this room's member events, in the room's order.
        self.member_names: dict[str, str] = {}
        # Senders told that their messages are not relayed (bridge.relay.enabled): once a run.
        self.told_relay_off: set[str] = set()
        # Set by the manager, which finds portals by key.
        self.on_rekey: Callable[[Portal, PortalKey], None] | None = None

    def note_matrix_activity(self) -> None:
        self.last_matrix_activity = time.monotonic()

    async def sweep_later(self) -> None:
        """Queue a look for events the homeserver never delivered (in this portal's order)."""

        async def run() -> None:
            try:
                await from_matrix.sweep(self)
            except Exception as error:
                # Nobody waits for a sweep; the next one tries again.
                self.log.warning("Looking for undelivered events failed: %s", error)

        await self.queue.put(CallItem(run))

    async def _notice(self, text: str) -> None:
        await from_matrix.notice(self, text)

    def rekey(self, key: PortalKey) -> None:
        """The remote chat moved to a new id; events under the old id still come here."""
        self.key = key
        if self.on_rekey is not None:
            self.on_rekey(self, key)

    @property
    def room_id(self) -> str | None:
        return self.record.mxid

    @property
    def id(self) -> int:
        return self.record.id

    async def _handle(self, item: PortalItem) -> None:
        match item:
            case MatrixItem(inbox_id=inbox_id, event=event):
                if event.get("event_id") in self.caught_up:
                    # Handled ahead of its turn (it was late); the queue still held it.
                    self.caught_up.discard(str(event.get("event_id")))
                    return
                error = await self._until_done(lambda _: from_matrix.handle_event(self, event))
                await self.ctx.matrix_inbox.mark_handled(inbox_id, error)
            case RemoteItem(inbox_id=inbox_id, event=remote, replayed=replayed):
                error = await self._until_done(
                    lambda tries: to_matrix.handle_event(self, remote, tries > 0 or replayed)
                )
                await self.ctx.remote_inbox.mark_handled(inbox_id, error)
            case CallItem(run=run, done=done):
                try:
                    result = await run()
                except Exception as failure:
                    if not done.done():
                        done.set_exception(failure)
                else:
                    if not done.done():
                        done.set_result(result)

    async def _until_done(self, attempt: Callable[[int], Awaitable[None]]) -> str | None:
        """Run the head of the queue until it succeeds or fails for good (returned as text).

        While it waits, nothing behind it in this portal moves; other portals do.
        """
        tries = 0
        while True:
            try:
                await attempt(tries)
            except Exception as failure:
                delay = retry_delay(failure, tries)
                if delay is None:
                    self.log.exception("Failed for good; moving on")
                    return repr(failure)
                tries += 1
                self.log.warning("Waiting %.1f s to try again: %s", delay, describe(failure))
                await self.backlog.waiting(describe(failure), delay, len(self.queue))
                await asyncio.sleep(delay)
            else:
                # Back to normal once an event goes through without waiting, or the queue is
                # empty; not while a backlog still drains under the same limit.
                if tries == 0 or len(self.queue) == 0:
                    await self.backlog.flowing()
                return None
