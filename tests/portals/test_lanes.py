"""Lanes: strictly ordered, bounded in memory, with the store as overflow; never waiting on
intake; workers that stop when idle and start on demand."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from bridge.network.events import MessageContent, RemoteMessage, RemoteUser
from bridge.network.ids import PortalKey, RemoteChatID, RemoteMessageID, RemoteUserID
from portals import lanes
from portals.lanes import CallItem, Lane, LaneItem, MatrixItem, RemoteItem, Source, StoredItem


def matrix(inbox_id: int) -> MatrixItem:
    return MatrixItem(inbox_id, {"event_id": f"${inbox_id}"})


def remote(inbox_id: int) -> RemoteItem:
    event = RemoteMessage(
        PortalKey(RemoteChatID("c")),
        RemoteMessageID(str(inbox_id)),
        RemoteUser(RemoteUserID("u"), "U"),
        (MessageContent("x"),),
        datetime.now(UTC),
    )
    return RemoteItem(inbox_id, event)


class Store:
    """The inbox as a lane sees it: unhandled items by source, read back in id order."""

    def __init__(self) -> None:
        self.rows: dict[Source, dict[int, StoredItem]] = {"matrix": {}, "remote": {}}
        self.loads: list[tuple[Source, int, int]] = []
        self.fail_loads = 0
        self.during_load: list[StoredItem] = []
        self.lane: Lane | None = None

    def add(self, item: StoredItem) -> StoredItem:
        self.rows[item.source][item.inbox_id] = item
        return item

    async def load(self, source: Source, after: int, limit: int) -> Sequence[StoredItem]:
        self.loads.append((source, after, limit))
        await asyncio.sleep(0)
        if self.fail_loads:
            self.fail_loads -= 1
            raise ConnectionError("the database restarts")
        found = sorted(i for i in self.rows[source] if i > after)[:limit]
        result = [self.rows[source][i] for i in found]
        # Offers that arrive while the load is under way (an event stored concurrently).
        for item in self.during_load:
            self.add(item)
            assert self.lane is not None
            self.lane.offer(item)
        self.during_load.clear()
        return result


class Recorder:
    def __init__(self, store: Store, gate: asyncio.Event | None = None) -> None:
        self.store = store
        self.handled: list[tuple[Source, int]] = []
        self.gate = gate

    async def __call__(self, item: LaneItem) -> None:
        if isinstance(item, CallItem):
            item.done.set_result(await item.run())
            return
        if self.gate is not None:
            await self.gate.wait()
        self.handled.append((item.source, item.inbox_id))
        self.store.rows[item.source].pop(item.inbox_id, None)


async def until(check: object, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not callable(check) or not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


def make(store: Store, recorder: Recorder, window: int = 3, idle_after: float = 5.0) -> Lane:
    lane = Lane("test", recorder, store.load, window, idle_after)
    store.lane = lane
    return lane


async def after_one_more(
    lane: Lane, store: Store, recorder: Recorder, source: Source = "matrix"
) -> list[tuple[Source, int]]:
    """What the lane handled before an event of ``source`` offered after all the others (a
    barrier: the lane handles a source's events in order, so a repeat of an earlier one would
    come before it)."""
    last = max((i for _, i in recorder.handled), default=0) + 1000
    lane.offer(store.add(matrix(last) if source == "matrix" else remote(last)))
    await until(lambda: (source, last) in recorder.handled)
    assert recorder.handled[-1] == (source, last), "nothing after the barrier"
    return recorder.handled[:-1]


async def test_a_backlog_longer_than_the_window_is_read_back_in_order_once() -> None:
    store, gate = Store(), asyncio.Event()
    recorder = Recorder(store, gate)
    lane = make(store, recorder, window=3)
    for inbox_id in range(1, 51):
        assert lane.offer(store.add(matrix(inbox_id)))  # never waits
        assert len(lane) <= 3
    assert lane.spilled
    gate.set()
    await until(lambda: len(recorder.handled) == 50)
    assert await after_one_more(lane, store, recorder) == [("matrix", i) for i in range(1, 51)]
    assert all(limit <= 3 for _, _, limit in store.loads)
    await lane.close(1)


async def test_an_offer_for_an_event_read_back_already_is_not_handled_twice() -> None:
    store, gate = Store(), asyncio.Event()
    recorder = Recorder(store, gate)
    lane = make(store, recorder, window=2)
    items = [store.add(remote(i)) for i in range(1, 8)]
    for item in items[:2]:
        lane.offer(item)
    lane.rescan()  # everything is read from the store...
    gate.set()
    await until(lambda: len(recorder.handled) >= 3)
    for item in items:  # ... and offered late as well
        lane.offer(item)
    await until(lambda: len(recorder.handled) == 7)
    handled = await after_one_more(lane, store, recorder, "remote")
    assert handled == [("remote", i) for i in range(1, 8)]
    await lane.close(1)


async def test_an_event_offered_while_the_lane_reads_the_store_is_not_lost() -> None:
    store, gate = Store(), asyncio.Event()
    recorder = Recorder(store, gate)
    lane = make(store, recorder, window=2)
    for inbox_id in (10, 11, 12, 13):
        lane.offer(store.add(matrix(inbox_id)))
    # While the lane reads 12 and 13 back, event 5 (stored late by a concurrent writer) and
    # event 14 are offered.
    store.during_load = [matrix(5), matrix(14)]
    gate.set()
    await until(lambda: len(recorder.handled) == 6)
    handled = await after_one_more(lane, store, recorder)
    assert sorted(i for _, i in handled) == [5, 10, 11, 12, 13, 14]
    assert len(handled) == len(set(handled))
    await lane.close(1)


async def test_both_sources_are_read_back_and_neither_starves() -> None:
    store, gate = Store(), asyncio.Event()
    recorder = Recorder(store, gate)
    lane = make(store, recorder, window=4)
    for inbox_id in range(1, 21):
        lane.offer(store.add(matrix(inbox_id)))
        lane.offer(store.add(remote(inbox_id)))
    gate.set()
    await until(lambda: len(recorder.handled) == 40)
    for source in ("matrix", "remote"):
        ids = [i for s, i in recorder.handled if s == source]
        assert ids == list(range(1, 21))
    first_half = recorder.handled[:20]
    assert {s for s, _ in first_half} == {"matrix", "remote"}, "both advance together"
    await lane.close(1)


async def test_a_store_that_fails_to_read_is_tried_again() -> None:
    store, gate = Store(), asyncio.Event()
    recorder = Recorder(store, gate)
    lane = make(store, recorder, window=1)
    for inbox_id in range(1, 5):
        lane.offer(store.add(matrix(inbox_id)))
    store.fail_loads = 2
    gate.set()
    await until(lambda: len(recorder.handled) == 4, timeout=10)
    assert recorder.handled == [("matrix", i) for i in range(1, 5)]
    await lane.close(1)


async def test_calls_are_never_spilled_and_keep_their_place() -> None:
    store, gate = Store(), asyncio.Event()
    recorder = Recorder(store, gate)
    lane = make(store, recorder, window=1)
    lane.offer(store.add(matrix(1)))
    order: list[str] = []

    async def run() -> str:
        order.append("call")
        return "done"

    call = CallItem(run)
    lane.call(call)  # beyond the window: kept all the same
    lane.offer(store.add(matrix(2)))
    gate.set()
    assert await call.done == "done"
    await until(lambda: len(recorder.handled) == 2)
    assert recorder.handled == [("matrix", 1), ("matrix", 2)]
    await lane.close(1)


async def test_an_idle_worker_stops_and_starts_again_on_demand() -> None:
    store = Store()
    recorder = Recorder(store)
    idled: list[Lane] = []
    lane = Lane("idle", recorder, store.load, 3, idle_after=0.1, on_idle=idled.append)
    lane.offer(store.add(matrix(1)))
    await until(lambda: recorder.handled == [("matrix", 1)])
    await until(lambda: not lane.busy)
    assert idled == [lane] and lane.idle
    lane.offer(store.add(matrix(2)))
    assert lane.busy
    await until(lambda: recorder.handled == [("matrix", 1), ("matrix", 2)])
    await lane.close(1)


async def test_close_finishes_what_is_in_memory_and_leaves_the_store_alone() -> None:
    store, gate = Store(), asyncio.Event()
    recorder = Recorder(store, gate)
    lane = make(store, recorder, window=2)
    for inbox_id in range(1, 6):
        lane.offer(store.add(matrix(inbox_id)))  # 1 and 2 in memory, the rest in the store
    closing = asyncio.create_task(lane.close(2))
    await asyncio.sleep(0.05)
    gate.set()
    assert await closing
    assert recorder.handled == [("matrix", 1), ("matrix", 2)]
    assert set(store.rows["matrix"]) == {3, 4, 5}, "left for the next start"
    assert not lane.offer(store.add(matrix(6)))
    with pytest.raises(RuntimeError):
        lane.call(CallItem(lambda: asyncio.sleep(0)))


async def test_close_gives_up_on_a_stuck_item_after_the_timeout() -> None:
    store, gate = Store(), asyncio.Event()  # the gate never opens
    lane = make(store, Recorder(store, gate), window=2)
    lane.offer(store.add(matrix(1)))
    await asyncio.sleep(0.05)
    assert not await lane.close(0.2)


async def test_each_stored_event_is_told_as_its_handling_starts_also_from_the_store() -> None:
    # The metrics' queue wait: every event once, in order, whether it stayed in memory or was
    # read back from the store; calls (someone waits for them) are no stored events.
    store, gate = Store(), asyncio.Event()
    recorder = Recorder(store, gate)
    taken: list[tuple[Source, int, int]] = []

    def on_take(item: StoredItem) -> None:
        # Told before the handler has it.
        taken.append((item.source, item.inbox_id, len(recorder.handled)))

    lane = Lane("told", recorder, store.load, 2, 5.0, on_take=on_take)
    store.lane = lane
    for inbox_id in range(1, 7):
        lane.offer(store.add(matrix(inbox_id)))
    assert lane.spilled
    called = CallItem(lambda: asyncio.sleep(0, "done"))
    lane.call(called)
    gate.set()
    assert await called.done == "done"
    await until(lambda: len(recorder.handled) == 6)
    assert taken == [("matrix", i, i - 1) for i in range(1, 7)]
    await lane.close(1)


async def test_handled_events_are_remembered_a_while_not_for_the_lanes_life(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A late offer of a handled event comes right after it was stored; a lane that remembered
    # every one up to four windows would hold thousands in each busy chat.
    monkeypatch.setattr(lanes, "REMEMBER_DONE", 0.3, raising=False)
    store = Store()
    recorder = Recorder(store)
    lane = make(store, recorder, window=3)
    for inbox_id in (1, 2):
        lane.offer(store.add(matrix(inbox_id)))
    await until(lambda: len(recorder.handled) == 2)
    lane.offer(matrix(2))  # late: remembered, not handled again
    await asyncio.sleep(0.4)
    lane.offer(store.add(matrix(3)))  # handled after the while: the first two are forgotten
    await until(lambda: len(recorder.handled) == 3)
    lane.offer(matrix(1))
    assert await after_one_more(lane, store, recorder) == [
        ("matrix", 1),
        ("matrix", 2),
        ("matrix", 3),
        ("matrix", 1),
    ]
    await lane.close(1)
