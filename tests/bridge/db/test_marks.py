"""Handled marks are written when traffic pauses, when a batch is full, or when the oldest has
waited long enough; a write that fails keeps them for the next try."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any, cast

import pytest

from bridge.db.inbox import MatrixInboxStore, RemoteInboxStore
from bridge.db.marks import HandledMarks


class Store:
    def __init__(self) -> None:
        self.writes: list[list[int]] = []
        self.fail = 0

    async def mark_many_handled(self, ids: Iterable[int]) -> None:
        if self.fail:
            self.fail -= 1
            raise ConnectionError("the database restarts")
        self.writes.append(list(ids))


def marks(store: Store, **options: Any) -> HandledMarks:
    return HandledMarks(cast(MatrixInboxStore, store), cast(RemoteInboxStore, Store()), **options)


async def running(handled: HandledMarks) -> asyncio.Task[None]:
    return asyncio.create_task(handled.run(check_every=0.01))


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def test_a_steady_flow_writes_nothing_until_it_pauses() -> None:
    store = Store()
    handled = marks(store, quiet=0.2, batch=1000, max_age=30)
    task = await running(handled)
    for inbox_id in range(1, 21):
        handled.defer("matrix", inbox_id)
        await asyncio.sleep(0.02)
    assert store.writes == [], "nothing while messages keep coming"
    await asyncio.sleep(0.4)
    assert store.writes == [list(range(1, 21))], "one write once they pause"
    await stop(task)


async def test_a_full_batch_and_an_old_mark_are_written_without_a_pause() -> None:
    store = Store()
    handled = marks(store, quiet=10, batch=5, max_age=30)
    task = await running(handled)
    for inbox_id in range(1, 6):
        handled.defer("matrix", inbox_id)
    await asyncio.sleep(0.1)
    assert store.writes == [[1, 2, 3, 4, 5]]
    await stop(task)

    store = Store()
    handled = marks(store, quiet=10, batch=1000, max_age=0.2)
    task = await running(handled)
    for inbox_id in range(1, 30):
        handled.defer("matrix", inbox_id)
        await asyncio.sleep(0.02)
    assert store.writes, "the oldest waited max_age: written though traffic goes on"
    await stop(task)


async def test_a_failed_write_keeps_the_marks() -> None:
    store = Store()
    store.fail = 1
    handled = marks(store, quiet=0.05)
    handled.defer("matrix", 7)
    with pytest.raises(ConnectionError):
        await handled.flush()
    assert len(handled) == 1
    await handled.flush()
    assert store.writes == [[7]] and len(handled) == 0
