"""Lanes: ordered queues whose overflow is the database.

Every stored event names its lane (a portal, or a room that is no portal). A lane holds a small
window of its events in memory and one worker that handles them strictly in order. When the
window is full, new events are not kept in memory at all: they are in the inbox already, and
the lane reads them back in order (``load``) once its window has room. So intake (the
homeserver's transactions, the network's poller) never waits for a busy chat, a slow chat never
holds up another, and memory stays bounded however long a backlog grows.

A lane's worker stops after a while without work and starts again on the next event.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from bridge.cancelling import cancel_and_wait
from bridge.log_context import log_context
from bridge.network.events import RemoteEvent

log = logging.getLogger("portals.lanes")

Source = Literal["matrix", "remote"]
SOURCES: tuple[Source, Source] = ("matrix", "remote")
MAX_BACKOFF = 10.0
# Seconds a handled event is remembered for a late offer of it (which comes right after the
# event is stored: a moment, however slow the machine).
REMEMBER_DONE = 60.0


@dataclass(frozen=True, slots=True)
class MatrixItem:
    """A Matrix event from the inbox (``inbox_id``), marked handled once done."""

    inbox_id: int
    event: dict[str, Any]
    # Stored before this start of the bridge: it may have been handled partly before it stopped.
    replayed: bool = False
    source: Source = "matrix"
    # When it was stored (seconds since the epoch), for the time it waited in the queue.
    received_at: float | None = None


@dataclass(frozen=True, slots=True)
class RemoteItem:
    inbox_id: int
    event: RemoteEvent
    replayed: bool = False
    source: Source = "remote"
    received_at: float | None = None


@dataclass(frozen=True, slots=True)
class CallItem:
    """Work that must happen in the lane's order (creating a portal's room, a notice to a
    management room); its result or error goes to ``done``. Calls are never spilled: they are
    in memory only (what must outlive a restart is stored by whoever queues it)."""

    run: Callable[[], Awaitable[Any]]
    done: asyncio.Future[Any] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    async def carry_out(self) -> None:
        """Run it, handing its result or error to ``done``."""
        try:
            result = await self.run()
        except Exception as failure:
            if not self.done.done():
                self.done.set_exception(failure)
        else:
            if not self.done.done():
                self.done.set_result(result)


StoredItem = MatrixItem | RemoteItem
LaneItem = MatrixItem | RemoteItem | CallItem
Loader = Callable[[Source, int, int], Awaitable[Sequence[StoredItem]]]


class Lane:
    def __init__(
        self,
        name: str,
        handle: Callable[[LaneItem], Awaitable[None]],
        load: Loader,
        window: int,
        idle_after: float = 60.0,
        on_idle: Callable[[Lane], None] | None = None,
        on_take: Callable[[StoredItem], None] | None = None,
        on_offer: Callable[[StoredItem], None] | None = None,
    ) -> None:
        self.name = name
        self._handle = handle
        self._load = load
        self._size = max(1, window)
        self._idle_after = idle_after
        self._on_idle = on_idle
        # Told of each stored event as its handling starts (the metrics' queue wait).
        self._on_take = on_take
        # Told of each new event offered at intake, before its turn (the portal looks for an
        # unbridge that should not wait behind an event that keeps failing).
        self._on_offer = on_offer
        self._window: deque[LaneItem] = deque()
        self._ids: dict[Source, set[int]] = {source: set() for source in SOURCES}
        self._in_hand: tuple[Source, int] | None = None
        # Events handled lately (inbox id -> when): an offer of one of them again is no new
        # event. Only a late offer needs this (a load marks what was handled first, see
        # Portal._load), so they are kept a while, not for the lane's life: a busy lane would
        # otherwise hold thousands, and a bridge with many busy chats that many times over.
        self._done: dict[Source, OrderedDict[int, float]] = {
            source: OrderedDict() for source in SOURCES
        }
        # Per source: events wait in the store past ``_cursor`` (``_spilled``).
        self._spilled: dict[Source, bool] = dict.fromkeys(SOURCES, False)
        self._cursor: dict[Source, int] = dict.fromkeys(SOURCES, 0)
        self._loading: dict[Source, bool] = dict.fromkeys(SOURCES, False)
        # Offers that came in while loading and may lie before what the load returned.
        self._rewind: dict[Source, int | None] = dict.fromkeys(SOURCES, None)
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._closed = False

    def __len__(self) -> int:
        """Events held in memory (more may wait in the store: see ``spilled``)."""
        return len(self._window)

    @property
    def spilled(self) -> bool:
        return any(self._spilled.values())

    @property
    def busy(self) -> bool:
        """The worker runs, or has something to do."""
        return self._worker is not None and not self._worker.done()

    @property
    def idle(self) -> bool:
        return not self.busy and not self._window and not self.spilled

    def offer(self, item: StoredItem) -> bool:
        """Take a stored event; never waits. False when the lane is closing (the event stays
        in the store and is handled after the next start)."""
        if self._closed:
            return False
        source, inbox_id = item.source, item.inbox_id
        if self._known(source, inbox_id):
            return True  # read from the store already
        if self._on_offer is not None:
            self._on_offer(item)
        if self._spilled[source] or self._loading[source] or len(self._window) >= self._size:
            self._spill(source, inbox_id)
        else:
            self._window.append(item)
            self._ids[source].add(inbox_id)
            self._cursor[source] = max(self._cursor[source], inbox_id)
        self._kick()
        return True

    def _known(self, source: Source, inbox_id: int) -> bool:
        return (
            inbox_id in self._ids[source]
            or self._in_hand == (source, inbox_id)
            or inbox_id in self._done[source]
        )

    @property
    def in_hand(self) -> tuple[Source, int] | None:
        """The stored event being handled now, if any."""
        return self._in_hand

    def release(self, match: Callable[[StoredItem], bool]) -> int:
        """Let go of the events in memory that ``match`` (another lane takes them from the
        store); how many. For the lane's own handler: nothing is taken meanwhile."""
        kept: deque[LaneItem] = deque()
        released = 0
        for item in self._window:
            if not isinstance(item, CallItem) and match(item):
                self._ids[item.source].discard(item.inbox_id)
                released += 1
            else:
                kept.append(item)
        self._window = kept
        return released

    def is_current(self) -> bool:
        """Whether the caller is this lane's worker, handling one of its items."""
        return self._worker is not None and asyncio.current_task() is self._worker

    def call(self, item: CallItem) -> None:
        if self._closed:
            raise RuntimeError(f"lane {self.name} is closed")
        self._window.append(item)
        self._kick()

    def rescan(self) -> None:
        """Read every unhandled event of the lane from the store again (what is in memory is
        not taken twice): for events whose offer went astray."""
        for source in SOURCES:
            self._spill(source, 1)
        self._kick()

    def _spill(self, source: Source, inbox_id: int) -> None:
        self._spilled[source] = True
        before = inbox_id - 1
        if self._loading[source]:
            rewind = self._rewind[source]
            self._rewind[source] = before if rewind is None else min(rewind, before)
        self._cursor[source] = min(self._cursor[source], before)

    def _kick(self) -> None:
        if self._closed and not self._window:
            return
        if self._worker is None or self._worker.done():
            self._drained.clear()
            self._worker = asyncio.create_task(self._run(), name=f"lane:{self.name}")
        self._wake.set()

    async def close(self, timeout: float) -> bool:
        """Finish what is in memory within ``timeout`` seconds (what waits in the store stays
        there for the next start); True if it all got done."""
        self._closed = True
        self._wake.set()
        finished = True
        if self._worker is not None and not self._worker.done():
            try:
                async with asyncio.timeout(timeout):
                    await self._drained.wait()
            except TimeoutError:
                finished = False
            await cancel_and_wait([self._worker])
        return finished and not self._window

    async def _run(self) -> None:
        while True:
            if not self._window:
                if self._closed:
                    self._drained.set()
                    return
                if self.spilled:
                    await self._refill()
                    continue
                self._wake.clear()
                try:
                    async with asyncio.timeout(self._idle_after):
                        await self._wake.wait()
                except TimeoutError:
                    if not self._window and not self.spilled and not self._closed:
                        self._worker = None
                        if self._on_idle is not None:
                            self._on_idle(self)
                        return
                continue
            item = self._window.popleft()
            if not isinstance(item, CallItem):
                self._ids[item.source].discard(item.inbox_id)
                self._in_hand = (item.source, item.inbox_id)
                if self._on_take is not None:
                    self._on_take(item)
            try:
                with log_context(lane=self.name):
                    await self._handle(item)
            except Exception:
                # Handlers record and report their own failures; this keeps the worker alive
                # so one bad item never stops the items behind it.
                log.exception("Unhandled error in lane %s", self.name)
            finally:
                if self._in_hand is not None:
                    self._handled(*self._in_hand)
                self._in_hand = None

    def _handled(self, source: Source, inbox_id: int) -> None:
        done = self._done[source]
        now = asyncio.get_running_loop().time()
        done[inbox_id] = now
        done.move_to_end(inbox_id)
        while done and (
            len(done) > 4 * self._size or next(iter(done.values())) < now - REMEMBER_DONE
        ):
            done.popitem(last=False)

    async def _refill(self) -> None:
        """Read the next events from the store into the window, oldest first per source."""
        wanted = [source for source in SOURCES if self._spilled[source]]
        room = max(1, (self._size - len(self._window)) // len(wanted))
        attempt = 0
        for source in wanted:
            while True:
                self._spilled[source] = False
                self._loading[source] = True
                self._rewind[source] = None
                try:
                    items = await self._load(source, self._cursor[source], room)
                except Exception as error:
                    # The database, not one event: a stored event that cannot be read is
                    # marked and skipped by the loader (portal.py), so nothing of one event's
                    # holds the lane here; the chat's events are all in the store it reads.
                    self._spilled[source] = True
                    delay = min(0.5 * 2.0**attempt, MAX_BACKOFF)
                    attempt += 1
                    log.warning(
                        "Lane %s cannot read its waiting events (%s); trying again in %.1f s",
                        self.name,
                        error,
                        delay,
                    )
                    await asyncio.sleep(delay)
                    if self._closed:
                        return
                    continue
                finally:
                    self._loading[source] = False
                break
            self._take(source, items, room)

    def _take(self, source: Source, items: Sequence[StoredItem], room: int) -> None:
        for item in items:
            if self._known(source, item.inbox_id):
                continue
            self._window.append(item)
            self._ids[source].add(item.inbox_id)
        if items:
            self._cursor[source] = max(self._cursor[source], *(i.inbox_id for i in items))
        if len(items) >= room:
            self._spilled[source] = True  # there may be more
        rewind = self._rewind[source]
        if rewind is not None:
            self._cursor[source] = min(self._cursor[source], rewind)
            self._rewind[source] = None
