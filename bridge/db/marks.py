"""Marking handled events in batches.

An event whose effect is recorded in the message map (a bridged message) can be marked handled
later, many at once: if the bridge dies first, the event is simply handled again, and the message
map makes that a no-op. Events without such a record (commands, notices) are marked at once by
their handlers instead. This saves a database statement per bridged message.

Marks are written once traffic pauses (``quiet`` seconds without a new one), or once ``batch``
wait, or when the oldest has waited ``max_age`` seconds: a steady flow of messages costs almost
nothing for them, and a crash hands back at most that much to handle again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Literal

from .inbox import MatrixInboxStore, RemoteInboxStore

log = logging.getLogger("bridge.db.marks")

Source = Literal["matrix", "remote"]


class HandledMarks:
    def __init__(
        self,
        matrix: MatrixInboxStore,
        remote: RemoteInboxStore,
        quiet: float = 2.0,
        batch: int = 500,
        max_age: float = 30.0,
    ) -> None:
        self._stores: dict[Source, MatrixInboxStore | RemoteInboxStore] = {
            "matrix": matrix,
            "remote": remote,
        }
        self._pending: dict[Source, list[int]] = {"matrix": [], "remote": []}
        self._quiet = quiet
        self._batch = batch
        self._max_age = max_age
        self._first_at: float | None = None  # when the oldest pending mark came
        self._last_at = 0.0  # when the newest came
        self._lock = asyncio.Lock()
        self._due = asyncio.Event()

    def defer(self, source: Source, inbox_id: int) -> None:
        self._pending[source].append(inbox_id)
        now = time.monotonic()
        if self._first_at is None:
            self._first_at = now
        self._last_at = now
        self._due.set()

    def __len__(self) -> int:
        return sum(len(ids) for ids in self._pending.values())

    def pending(self, source: Source) -> int:
        """Events of ``source`` handled but not marked in the store yet."""
        return len(self._pending[source])

    async def flush(self) -> None:
        """Write the marks taken so far. On failure they stay pending (and raise)."""
        async with self._lock:
            self._first_at = None
            for source in self._stores:
                ids = self._pending[source]
                if not ids:
                    continue
                self._pending[source] = []
                try:
                    await self._stores[source].mark_many_handled(ids)
                except BaseException:
                    self._pending[source] = ids + self._pending[source]
                    raise

    async def run(self, check_every: float = 0.25) -> None:
        """Write the marks in the background, when traffic pauses (or see the module)."""
        while True:
            await self._due.wait()
            await asyncio.sleep(check_every)
            if not self._time_to_write():
                continue
            self._due.clear()
            try:
                await self.flush()
            except Exception as error:
                log.warning("Could not mark handled events yet (%s); trying again", error)
                self._due.set()
                await asyncio.sleep(1)

    def _time_to_write(self) -> bool:
        if not len(self):
            return True
        now = time.monotonic()
        first = self._first_at if self._first_at is not None else now
        return (
            len(self) >= self._batch
            or now - self._last_at >= self._quiet
            or now - first >= self._max_age
        )
