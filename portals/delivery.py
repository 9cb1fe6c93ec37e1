"""Which failures are worth waiting out, and telling Matrix users when a chat's events wait.

A portal retries the event at the head of its queue until it goes through, so nothing behind
it overtakes it; a failure that cannot pass by waiting is reported and the queue moves on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import aiohttp
from mautrix.errors import IntentError, MatrixConnectionError, MatrixRequestError
from sqlalchemy.exc import SQLAlchemyError

from bridge.db.errors import is_transient
from bridge.network.interface import TemporaryFailure

log = logging.getLogger("portals.delivery")

MAX_BACKOFF = 10.0
# Waits shorter than this (and shorter spells of retrying) do not deserve a notice.
NOTICE_AFTER = 5.0


def retry_delay(error: BaseException, attempt: int) -> float | None:
    """Seconds to wait before trying again, or None when waiting will not help."""
    backoff = min(0.5 * 2.0 ** min(attempt, 10), MAX_BACKOFF)
    match error:
        case IntentError() if error.__cause__ is not None:
            # mautrix wraps what failed on the way (joining the room first, say).
            return retry_delay(error.__cause__, attempt)
        case TemporaryFailure():
            return error.retry_after if error.retry_after is not None else backoff
        case MatrixRequestError(errcode="M_LIMIT_EXCEEDED"):
            return backoff
        case MatrixRequestError() if error.http_status == 429 or error.http_status >= 500:
            return backoff
        case aiohttp.ClientResponseError() if not _refused(error.status):
            return backoff
        case aiohttp.ClientResponseError():
            # An answer, not an outage: a media download the homeserver refuses (a file it
            # does not have) is refused again however long the bridge waits.
            return None
        case MatrixConnectionError() | aiohttp.ClientError() | TimeoutError() | OSError():
            return backoff
        case _ if is_transient(error):
            return backoff  # the bridge's own database (a restart, a locked file)
        case _:
            return None


def describe(error: BaseException) -> str:
    match error:
        case IntentError() if error.__cause__ is not None:
            return describe(error.__cause__)
        case TemporaryFailure():
            return str(error)
        case MatrixRequestError(errcode="M_LIMIT_EXCEEDED"):
            return "the homeserver is rate-limiting the bridge"
        case MatrixRequestError():
            return f"the homeserver answers with errors (HTTP {error.http_status})"
        case aiohttp.ClientResponseError():
            # Raised by a media download (mautrix reads the status only).
            return f"the homeserver answers with errors (HTTP {error.status})"
        case SQLAlchemyError():
            return "the bridge's database cannot be reached"
        case _:
            return "the homeserver cannot be reached"


def failure_reason(error: BaseException) -> str:
    """``describe`` as one of a few words, for the metrics' labels."""
    match error:
        case IntentError() if error.__cause__ is not None:
            return failure_reason(error.__cause__)
        case TemporaryFailure():
            return (
                "network_rate_limited" if error.retry_after is not None else "network_unavailable"
            )
        case MatrixRequestError(errcode="M_LIMIT_EXCEEDED"):
            return "homeserver_rate_limited"
        case MatrixRequestError() if error.http_status == 429:
            return "homeserver_rate_limited"
        case MatrixRequestError():
            return "homeserver_error"
        case aiohttp.ClientResponseError(status=429):
            return "homeserver_rate_limited"
        case aiohttp.ClientResponseError():
            return "homeserver_error"
        case MatrixConnectionError() | aiohttp.ClientError() | TimeoutError() | OSError():
            return "homeserver_unreachable"
        case SQLAlchemyError():
            return "database"
        case _ if is_transient(error):
            return "database"
        case _:
            return "internal"


# Failures that may be the event's own rather than an outage: counted towards
# bridge.retries.stuck_after while everything else works. Rate limits are the other side's
# "later" and the database is never one event's.
_MAYBE_STUCK = frozenset({"homeserver_error", "homeserver_unreachable", "network_unavailable"})


def may_be_stuck(error: BaseException) -> bool:
    return failure_reason(error) in _MAYBE_STUCK


def in_doubt(error: BaseException) -> bool:
    """Whether the failed attempt may have reached the network all the same."""
    return isinstance(error, TemporaryFailure) and error.in_doubt


def _refused(status: int) -> bool:
    """An HTTP status that refuses the request for good (a 4xx but timeouts and rate limits)."""
    return 400 <= status < 500 and status not in (408, 429)


class Backlog:
    """Tells a room once when its events start waiting, and once when they flow again."""

    def __init__(self, notify: Callable[[str], Awaitable[None]]) -> None:
        self._notify = notify
        self._since: float | None = None
        self._reason = ""
        self._announced = False  # a wait long enough to tell of
        self._shown = False  # the "delayed" notice reached the room

    async def waiting(self, reason: str, delay: float, queued: int | None) -> None:
        """``queued``: events waiting behind (None: more than are counted in memory)."""
        now = time.monotonic()
        if self._since is None:
            self._since = now
        self._reason = reason
        if self._announced or (delay < NOTICE_AFTER and now - self._since < NOTICE_AFTER):
            return
        self._announced = True
        if queued is None:
            count = "more events wait"
        else:
            count = "1 more event waits" if queued == 1 else f"{queued} more events wait"
        self._shown = await self._try(
            f"Delivery in this chat is delayed: {reason}. The bridge keeps trying; this and "
            f"{count} behind it will follow in order."
        )

    async def flowing(self) -> None:
        if self._since is None:
            return
        waited = time.monotonic() - self._since
        announced, shown = self._announced, self._shown
        self._since, self._announced, self._shown = None, False, False
        if not announced:
            return
        if shown:
            await self._try(
                f"Delivery is back to normal; the delayed events went through ({waited:.0f} s)."
            )
        else:
            # The first notice could not be posted (often for the very reason of the wait).
            await self._try(
                f"Delivery is back to normal after a delay of {waited:.0f} s ({self._reason}); "
                "the delayed events went through in order."
            )

    async def _try(self, text: str) -> bool:
        # The notice may fail for the reason the events wait (the homeserver is down); then it
        # is simply not shown: the events themselves are what must arrive.
        try:
            async with asyncio.timeout(10):
                await self._notify(text)
        except Exception as error:
            log.info("Could not post a delivery notice: %s", error)
            return False
        return True
