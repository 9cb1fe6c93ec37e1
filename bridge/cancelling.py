"""Ending background tasks: cancel them and wait until they are gone, without taking a
cancellation of the waiting task itself for theirs (``suppress(CancelledError)`` around the
await would swallow both, and a stop that was itself cancelled would carry on)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]]) -> None:
    """Cancel ``tasks`` and wait for each to end; an error one raised while ending is raised."""
    ending = list(tasks)
    for task in ending:
        task.cancel()
    for task in ending:
        try:
            await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise
