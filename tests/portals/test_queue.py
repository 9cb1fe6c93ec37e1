"""The ordered queue: strict order per queue, no blocking between queues, bounded, survives
failing items."""

from __future__ import annotations

import asyncio

from portals.queue import OrderedQueue


async def test_items_are_handled_in_order_and_failures_do_not_stop_it() -> None:
    handled: list[int] = []

    async def handle(item: int) -> None:
        await asyncio.sleep(0.001 * (item % 3))
        if item == 4:
            raise RuntimeError("bad item")
        handled.append(item)

    queue: OrderedQueue[int] = OrderedQueue("q", handle, maxsize=4)
    for item in range(20):
        await queue.put(item)
    await queue.drain()
    assert handled == [i for i in range(20) if i != 4]
    assert await queue.close(1)


async def test_a_blocked_queue_does_not_block_another() -> None:
    release = asyncio.Event()
    fast_done: list[int] = []

    async def slow(item: int) -> None:
        await release.wait()

    async def fast(item: int) -> None:
        fast_done.append(item)

    blocked: OrderedQueue[int] = OrderedQueue("slow", slow, maxsize=2)
    moving: OrderedQueue[int] = OrderedQueue("fast", fast, maxsize=2)
    await blocked.put(1)
    for item in range(10):
        await moving.put(item)
    await moving.drain()
    assert fast_done == list(range(10))
    release.set()
    await blocked.drain()


async def test_a_full_queue_makes_the_producer_wait() -> None:
    release = asyncio.Event()

    async def handle(item: int) -> None:
        await release.wait()

    queue: OrderedQueue[int] = OrderedQueue("bounded", handle, maxsize=2)
    for item in range(3):  # one in the worker's hands, two queued
        await queue.put(item)
    await asyncio.sleep(0)
    producer = asyncio.create_task(queue.put(99))
    await asyncio.sleep(0.05)
    assert not producer.done(), "the fourth item must wait for room"
    release.set()
    await asyncio.wait_for(producer, 1)
    await queue.drain()


async def test_close_reports_unfinished_work() -> None:
    async def forever(item: int) -> None:
        await asyncio.sleep(3600)

    queue: OrderedQueue[int] = OrderedQueue("stuck", forever, maxsize=2)
    await queue.put(1)
    assert not await queue.close(0.05)
