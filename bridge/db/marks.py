"""Marking handled events in batches.

An event whose effect is recorded in the message map (a bridged message) can be marked handled
a little later, many at once: if the bridge dies first, the event is simply handled again, and
the message map makes that a no-op. Events without such a record (commands, notices) are marked
at once by their handlers instead. This saves a database statement per bridged message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Literal

from .inbox import MatrixInboxStore, RemoteInboxStore

log = logging.getLogger("bridge.db.marks")

Source = Literal["matrix", "remote"]


class HandledMarks:
    def __init__(
        self,
        matrix: MatrixInboxStore,
        remote: RemoteInboxStore,
        interval: float = 5.0,
        batch: int = 500,
    ) -> None:
        self._stores: dict[Source, MatrixInboxStore | RemoteInboxStore] = {
            "matrix": matrix,
            "remote": remote,
        }
        self._pending: dict[Source, list[int]] = {"matrix": [], "remote": []}
        self._interval = interval
        self._batch = batch
        self._full = asyncio.Event()
        self._lock = asyncio.Lock()
        self._due = asyncio.Event()

    def defer(self, source: Source, inbox_id: int) -> None:
        self._pending[source].append(inbox_id)
        self._due.set()
        if len(self) >= self._batch:
            self._full.set()

    def __len__(self) -> int:
        return sum(len(ids) for ids in self._pending.values())

    async def flush(self) -> None:
        """Write the marks taken so far. On failure they stay pending (and raise)."""
        async with self._lock:
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

    async def run(self) -> None:
        """Flush in the background: soon after marks arrive, a batch at a time."""
        while True:
            await self._due.wait()
            self._due.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._full.wait(), self._interval)
            self._full.clear()
            try:
                await self.flush()
            except Exception as error:
                log.warning("Could not mark handled events yet (%s); trying again", error)
                self._due.set()
                await asyncio.sleep(1)
