"""A bounded queue with one worker: items of one key are handled strictly in order, and a slow
key never holds up another (each has its own queue and worker)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")

log = logging.getLogger("portals.queue")


class OrderedQueue(Generic[T]):
    def __init__(self, name: str, handler: Callable[[T], Awaitable[None]], maxsize: int) -> None:
        self.name = name
        self._handler = handler
        self._queue: asyncio.Queue[T] = asyncio.Queue(maxsize)
        self._worker: asyncio.Task[None] | None = None
        self._closed = False

    def __len__(self) -> int:
        return self._queue.qsize()

    async def put(self, item: T) -> None:
        """Queue an item; waits while the queue is full, which slows the producer down."""
        if self._closed:
            raise RuntimeError(f"queue {self.name} is closed")
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._run(), name=f"queue:{self.name}")
        await self._queue.put(item)

    async def drain(self) -> None:
        """Wait until every queued item has been handled."""
        await self._queue.join()

    async def close(self, timeout: float) -> bool:
        """Finish what is queued within ``timeout`` seconds; True if everything was handled."""
        self._closed = True
        try:
            await asyncio.wait_for(self._queue.join(), timeout)
            finished = True
        except TimeoutError:
            finished = False
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        return finished

    async def _run(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                await self._handler(item)
            except Exception:
                # The handler records and reports its own failures; this keeps the worker alive
                # so one bad item never stops the items behind it.
                log.exception("Unhandled error in queue %s", self.name)
            finally:
                self._queue.task_done()
