"""Staying under Telegram's flood limits, so that 429s stay rare.

Telegram allows a bot about 30 messages a second overall, 20 a minute in one group and one a
second in one private chat. Each is a token bucket; a send waits for a token in both its chat's
bucket and the overall one. A wait longer than a few seconds is not slept through here: it is
reported (TemporaryFailure) so the portal shows its users that delivery is delayed.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass

from bridge.network.interface import TemporaryFailure

# Beyond this wait the portal, not the connector, does the waiting (and says so in Matrix).
LONGEST_QUIET_WAIT = 3.0
_MAX_CHATS = 10_000


class TokenBucket:
    def __init__(self, rate: float, capacity: float) -> None:
        self._rate = rate  # tokens per second
        self._capacity = capacity
        self._tokens = capacity
        self._stamp = time.monotonic()

    def _refill(self, now: float) -> None:
        self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now

    def wait_time(self, now: float) -> float:
        """Seconds until a token is free (0 if one is)."""
        self._refill(now)
        return 0.0 if self._tokens >= 1 else (1 - self._tokens) / self._rate

    def take(self, now: float) -> None:
        self._refill(now)
        self._tokens -= 1


@dataclass(frozen=True)
class Limits:
    overall_per_second: float = 30
    group_per_minute: float = 20
    private_per_second: float = 1


class Pacer:
    def __init__(self, limits: Limits) -> None:
        self._limits = limits
        # A bucket holds at least one token, or a limit below one would never let anything by.
        overall = limits.overall_per_second
        self._overall = TokenBucket(overall, max(1.0, overall))
        self._chats: OrderedDict[int, TokenBucket] = OrderedDict()
        self._lock = asyncio.Lock()

    def _bucket(self, chat_id: int) -> TokenBucket:
        bucket = self._chats.get(chat_id)
        if bucket is None:
            if chat_id > 0:
                rate = self._limits.private_per_second
                bucket = TokenBucket(rate, max(1.0, rate))
            else:
                per_minute = self._limits.group_per_minute
                bucket = TokenBucket(per_minute / 60, max(1.0, per_minute))
            self._chats[chat_id] = bucket
            if len(self._chats) > _MAX_CHATS:
                self._chats.popitem(last=False)
        self._chats.move_to_end(chat_id)
        return bucket

    async def before_send(self, chat_id: int) -> None:
        """Wait (briefly) for the right to send into ``chat_id``, or raise TemporaryFailure."""
        while True:
            async with self._lock:
                now = time.monotonic()
                chat = self._bucket(chat_id)
                wait = max(chat.wait_time(now), self._overall.wait_time(now))
                if wait <= 0:
                    chat.take(now)
                    self._overall.take(now)
                    return
            if wait > LONGEST_QUIET_WAIT:
                which = "in a chat" if chat.wait_time(now) >= wait else "overall"
                raise TemporaryFailure(
                    f"the bridge keeps under Telegram's limit of messages {which}",
                    retry_after=wait,
                )
            await asyncio.sleep(wait)


def retry_seconds(retry_after: object) -> float:
    """RetryAfter.retry_after in seconds, whether python-telegram-bot gives a number or a
    timedelta."""
    total_seconds = getattr(retry_after, "total_seconds", None)
    if callable(total_seconds):
        return float(total_seconds())
    return float(retry_after)  # type: ignore[arg-type]
