"""cancel_and_wait ends tasks, passes on their errors, and never swallows a cancellation of
the task that waits."""

from __future__ import annotations

import asyncio

import pytest

from bridge.cancelling import cancel_and_wait


async def _forever() -> None:
    await asyncio.sleep(3600)


async def test_the_tasks_are_cancelled_and_gone() -> None:
    tasks = [asyncio.create_task(_forever()) for _ in range(3)]
    await asyncio.sleep(0)
    await cancel_and_wait(tasks)
    assert all(task.cancelled() for task in tasks)


async def test_an_error_raised_while_ending_is_raised() -> None:
    async def fails_on_cancel() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            raise RuntimeError("cleanup failed") from None

    task = asyncio.create_task(fails_on_cancel())
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="cleanup failed"):
        await cancel_and_wait([task])


async def test_a_cancelled_waiter_stops_too() -> None:
    cleaning = asyncio.Event()

    async def slow_to_end() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            cleaning.set()
            await asyncio.sleep(0.2)

    child = asyncio.create_task(slow_to_end())
    await asyncio.sleep(0)
    after: list[str] = []

    async def stopper() -> None:
        await cancel_and_wait([child])
        after.append("carried on")

    waiter = asyncio.create_task(stopper())
    await cleaning.wait()
    waiter.cancel()
    await asyncio.wait({waiter}, timeout=2)
    assert waiter.cancelled() and after == []
    await asyncio.wait({child}, timeout=2)
