"""A portal: one remote chat, its Matrix room and its lane of events from both sides."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from bridge.db.errors import waiting_out_trouble
from bridge.db.models import Portal as PortalRecord
from bridge.log_context import log_context
from bridge.network.events import decode_event
from bridge.network.ids import PortalKey

from .context import PortalContext
from .delivery import (
    Backlog,
    describe,
    failure_reason,
    in_doubt,
    may_be_stuck,
    retry_delay,
)
from .directions import DIRECTIONS, queue_wait_recorder
from .given_up import notice_of, what_waits
from .handlers import PortalHandlers
from .lanes import CallItem, Lane, LaneItem, MatrixItem, RemoteItem, Source, StoredItem
from .notices import send_notice
from .retries import Ending, HeadWait
from .state import PortalState

# Seconds a notice may take before the bridge goes on without it.
NOTICE_TIMEOUT = 10.0


class PortalGone(Exception):
    """The portal's record was deleted meanwhile."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """How handling an event ended: ``safe``, handling it again would be harmless; ``error``,
    why it failed for good; ``left``, not handled but left in the store for the next start."""

    safe: bool = False
    error: str | None = None
    left: bool = False


LEFT = Outcome(left=True)


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
            self._offered,
        )
        self.backlog = Backlog(self._notice)
        # The event at the head of the lane while it keeps failing (see retries.py).
        self.waiting: HeadWait | None = None
        # Ends a pause between attempts early (a skip, an unbridge, the bridge stopping).
        self._interrupt = asyncio.Event()
        self._skip_by: str | None = None
        # Unbridges waiting for their turn: given from outside (hurried), or commands seen at
        # intake (their inbox ids).
        self._hurries = 0
        self._unbridges: set[int] = set()
        self._stopping = False
        # An event was left for the next start: so is everything behind it, in order.
        self._left_behind = False

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
        """Read the portal's record, waiting out database trouble (up to
        bridge.retries.give_up_after, then raising it); False if it is gone."""
        try:
            await waiting_out_trouble(self._loaded, patience=self._patience)
        except PortalGone:
            return False
        return True

    async def _loaded(self) -> None:
        """Read the record if it is not yet: database trouble raises, PortalGone if none."""
        if self.state.loaded is None:
            self.state.loaded = await self._ctx.portals.by_id(self.id)
            if self.state.loaded is None:
                raise PortalGone

    @property
    def _patience(self) -> float:
        return self._ctx.config.bridge.retries.give_up_after

    # What the queue waits on, and cutting the wait short.

    def skip(self, by: str) -> HeadWait | None:
        """Give up the event the lane waits on (``by``: the admin who asks), at once if it
        waits between attempts, else if the attempt under way fails; None if none waits."""
        wait = self.waiting
        if wait is not None:
            self._skip_by = by
            self._interrupt.set()
        return wait

    @contextmanager
    def hurried(self) -> Iterator[None]:
        """While an unbridge waits for its turn: an event ahead of it that keeps failing is
        given up sooner (retries.HURRIED_AFTER) instead of holding the unbridge up."""
        self._hurries += 1
        self._interrupt.set()
        try:
            yield
        finally:
            self._hurries -= 1

    def _offered(self, item: StoredItem) -> None:
        if isinstance(item, MatrixItem) and self._handlers.from_matrix.asks_to_unbridge(item.event):
            self._unbridges.add(item.inbox_id)
            self._interrupt.set()

    async def close(self, timeout: float) -> bool:
        """Finish what is in memory within ``timeout``; an event waiting out trouble is left in
        the store for the next start (and all behind it, in order) rather than hold the stop
        up. True if nothing was left."""
        self._stopping = True
        self._interrupt.set()
        finished = await self.lane.close(timeout)
        return finished and not self._left_behind

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
        first = ctx.startup.remote
        while True:
            items: list[StoredItem] = []
            unreadable = False
            for row in await ctx.remote_inbox.lane_batch(self.lane.name, after, limit):
                try:
                    event = decode_event(row.event)
                except Exception as error:
                    # Stored by another version, or damaged: reading it again will not help,
                    # and it must not stop the chat's queue.
                    self.log.error("Stored remote event %d cannot be read: %s", row.id, error)
                    await ctx.remote_inbox.mark_handled(row.id, f"cannot be read: {error}")
                    unreadable = True
                    continue
                items.append(
                    RemoteItem(row.id, event, row.id <= first, received_at=row.received_at)
                )
            if not unreadable:
                return items
            # Read the batch again without them: a short batch would say the store is empty.

    async def _handle(self, item: LaneItem) -> None:
        # Every line logged while this item is handled names the portal and the event.
        with log_context(portal=self.key, room=self.room_id, **_item_ids(item)):
            await self._handle_item(item)

    async def _handle_item(self, item: LaneItem) -> None:
        if isinstance(item, CallItem):
            await self._call(item)
            return
        if item.source == "matrix":
            self._unbridges.discard(item.inbox_id)  # its turn came: it waits no more
        if self._left_behind:
            return
        attempt: Callable[[int], Awaitable[bool]]
        match item:
            case MatrixItem(inbox_id=inbox_id, event=event, replayed=replayed):
                event_id = str(event.get("event_id"))
                if event_id in self.state.caught_up:
                    # Handled (and marked) ahead of its turn: it was late.
                    self.state.caught_up.discard(event_id)
                    return
                from_matrix = self._handlers.from_matrix

                def attempt(tries: int) -> Awaitable[bool]:
                    return from_matrix.handle(
                        self.state, event, retry=tries > 0 or replayed, inbox_id=inbox_id
                    )

            case RemoteItem(event=remote, replayed=replayed):
                to_matrix = self._handlers.to_matrix

                def attempt(tries: int) -> Awaitable[bool]:
                    return to_matrix.handle(self.state, remote, tries > 0 or replayed)

        outcome = await self._until_done(item, attempt)
        if outcome.left:
            self._left_behind = True
            return
        await self._mark(item, outcome.safe, outcome.error)

    async def _call(self, item: CallItem) -> None:
        try:
            if not await self.load():
                raise LookupError("the portal no longer exists")
        except Exception as failure:
            if not item.done.done():
                item.done.set_exception(failure)
            return
        await item.carry_out()

    async def _mark(self, item: MatrixItem | RemoteItem, safe: bool, error: str | None) -> None:
        """Mark the event handled: later and in a batch when handling it again is harmless
        (its effect is in the message map), else now."""
        if safe and error is None:
            self._ctx.marks.defer(item.source, item.inbox_id)
            return
        store = self._ctx.matrix_inbox if item.source == "matrix" else self._ctx.remote_inbox
        try:
            await waiting_out_trouble(
                lambda: store.mark_handled(item.inbox_id, error), patience=self._patience
            )
        except Exception:
            self.log.exception(
                "Could not mark event %d handled; it is handled again after the next start",
                item.inbox_id,
            )

    async def _until_done(
        self, item: MatrixItem | RemoteItem, attempt: Callable[[int], Awaitable[bool]]
    ) -> Outcome:
        """Run the head of the lane until it succeeds, fails for good, or is given up (a bound
        of bridge.retries, an admin's skip, an unbridge waiting behind it: its sender is told).

        While it waits, nothing behind it in this portal moves; other portals do.
        """
        direction = DIRECTIONS[item.source]
        tries = 0
        wait: HeadWait | None = None
        try:
            while True:
                try:
                    await self._loaded()
                    safe = await attempt(tries)
                except PortalGone:
                    self._ctx.metrics.failed(direction, "portal_gone")
                    return Outcome(error="the portal no longer exists")
                except Exception as failure:
                    delay = retry_delay(failure, tries)
                    if delay is None:
                        self.log.exception("Failed for good; moving on")
                        self._ctx.metrics.failed(direction, failure_reason(failure))
                        return Outcome(error=repr(failure))
                    if wait is None:
                        network = self._ctx.connector.display_name
                        wait = self.waiting = HeadWait(what_waits(item, network))
                    how = f"{direction}:{failure_reason(failure)}"
                    alone = self._ctx.failing.failed(self.id, how)
                    its_own = may_be_stuck(failure) and alone and self._ctx.healthy()
                    wait.failed(describe(failure), time.monotonic(), its_own)
                    doubt = in_doubt(failure)
                    if (ended := await self._ended(item, wait, doubt)) is not None:
                        return ended
                    self._ctx.metrics.retried(direction, failure_reason(failure))
                    tries += 1
                    self.log.warning("Waiting %.1f s to try again: %s", delay, describe(failure))
                    await self.backlog.waiting(describe(failure), delay, self._waiting())
                    await self._pause(delay)
                    # A skip, an unbridge or the stop may have cut the pause short.
                    if (ended := await self._ended(item, wait, doubt)) is not None:
                        return ended
                else:
                    # Back to normal once an event goes through without waiting, or the lane
                    # is empty; not while a backlog still drains under the same limit.
                    if tries == 0 or (len(self.lane) == 0 and not self.lane.spilled):
                        await self.backlog.flowing()
                    if wait is not None:
                        wait.end("went through")
                    return Outcome(safe=safe)
        finally:
            self.waiting = None
            self._skip_by = None
            self._ctx.failing.cleared(self.id)

    async def _ended(
        self, item: MatrixItem | RemoteItem, wait: HeadWait, doubt: bool
    ) -> Outcome | None:
        """Leave the event for the next start if the bridge stops; give it up if an admin
        skipped it or a bound is reached (its sender told); None to go on trying."""
        ending: Ending
        if self._stopping:
            wait.end("left for the next start")
            return LEFT
        if self._skip_by is not None:
            ending, reason = "skipped", f"a bridge admin ({self._skip_by}) skipped it"
            error = f"skipped by admin {self._skip_by}"
        else:
            hurried = self._hurries > 0 or bool(self._unbridges)
            over = wait.over(self._ctx.config.bridge.retries, time.monotonic(), hurried)
            if over is None:
                return None
            ending, reason, error = "given up", over, f"given up: {over}"
        self.log.warning(
            "%s after %d attempts: %s (last error: %s)",
            ending.capitalize(),
            wait.attempts,
            reason,
            wait.last_error,
        )
        self._ctx.metrics.failed(DIRECTIONS[item.source], ending.replace(" ", "_"))
        await self._tell(item, f"{reason} (last error: {wait.last_error})", doubt)
        wait.end(ending)
        return Outcome(error=f"{error}; last error: {wait.last_error}")

    async def _pause(self, delay: float) -> None:
        """Wait ``delay`` seconds before the next attempt, or less if interrupted."""
        if self._skip_by is not None or self._stopping:
            return
        self._interrupt.clear()
        try:
            async with asyncio.timeout(delay):
                await self._interrupt.wait()
        except TimeoutError:
            pass

    async def _tell(self, item: MatrixItem | RemoteItem, reason: str, doubt: bool) -> None:
        """A notice in the room: whose event did not cross, and why (best effort: it may fail
        for the very trouble that stopped the event)."""
        room_id = self.room_id
        if room_id is None:
            return
        network = self._ctx.connector.display_name
        text, reply_to = notice_of(item, reason, network, doubt)
        try:
            async with asyncio.timeout(NOTICE_TIMEOUT):
                await send_notice(self._ctx.matrix.bot, room_id, text, reply_to=reply_to)
        except Exception as error:
            self.log.warning("Could not tell the room what was not bridged: %s", error)

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
