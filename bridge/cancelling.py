"""Ending background tasks: cancel them and wait until they are gone. A cancellation of the
waiting task itself is passed on, not taken for theirs (``suppress(CancelledError)`` around the
await would swallow both, and a stop that was itself cancelled would carry on); a task still
running after a while swallowed its cancellation (some library code does) and is asked again."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

log = logging.getLogger("bridge.cancelling")


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]], patience: float = 10.0) -> None:
    """Cancel ``tasks`` and wait until each has ended, cancelling again (and naming it in the
    log) one still running after ``patience`` seconds; an error one raised while ending is
    raised once all have ended."""
    ending = list(tasks)
    pending = set(ending)
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=patience)
        for task in pending:
            log.warning(
                "Background task %s did not stop when cancelled; cancelling it again",
                task.get_name(),
            )
    for task in ending:
        error = None if task.cancelled() else task.exception()
        if error is not None:
            raise error
