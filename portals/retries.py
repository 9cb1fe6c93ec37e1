"""How long a portal keeps trying the event at the head of its queue, and what it knows of that
event while it waits (for the stuck command, and for the notice its sender gets when it is
given up).

Passing trouble is waited out in order, but not for ever (bridge.retries). Two clocks run from
the event's first failure: ``stuck_after`` counts only the time in which it failed while
everything else worked (every health check up, no other chat failing alike, the failure
neither a rate limit nor the database), so an outage does not run it down, while the same 5xx
for one file does; ``give_up_after`` counts all of it, outages included. An admin's skip, or
an unbridge waiting behind the event, ends the wait sooner.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Literal

from bridge.config.model import RetryConfig

# While an unbridge waits behind it, an event that has kept failing this long is given up (a
# flood wait of a few seconds still passes).
HURRIED_AFTER = 10.0

Ending = Literal["went through", "given up", "skipped", "left for the next start"]


@dataclass(slots=True)
class HeadWait:
    """The event a portal's queue waits on, since its first failure."""

    # The event in words ("event $x from @a:b", "Telegram message 42 from Alice").
    what: str
    # When it first failed: seconds since the epoch (shown), and monotonic (measured).
    since: float = field(default_factory=time.time)
    started: float = field(default_factory=time.monotonic)
    attempts: int = 0
    last_error: str = ""
    # Seconds it failed while everything else worked (see the module).
    stuck_for: float = 0.0
    last_at: float = 0.0
    # Set when the wait ends, with how.
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    ending: Ending | None = None

    def failed(self, error: str, now: float, its_own: bool) -> None:
        """One more failed attempt; ``its_own``: it failed while everything else worked, so
        the time since the last attempt counts towards ``stuck_after``."""
        if its_own and self.attempts:
            self.stuck_for += now - self.last_at
        self.attempts += 1
        self.last_error = error
        self.last_at = now

    def over(self, bounds: RetryConfig, now: float, hurried: bool) -> str | None:
        """Why to give it up now, if a bound is reached."""
        if self.stuck_for >= bounds.stuck_after:
            return (
                f"it kept failing for {duration(self.stuck_for)} while the bridge reached "
                "everything else"
            )
        if now - self.started >= bounds.give_up_after:
            return f"it kept failing for {duration(now - self.started)}"
        if hurried and now - self.started >= HURRIED_AFTER:
            return "the room is being unbridged"
        return None

    def end(self, ending: Ending) -> None:
        self.ending = ending
        self.ended.set()

    def summary(self, now: float) -> str:
        """One line for the stuck command."""
        since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.since))
        return (
            f"{self.what}: failing since {since} ({duration(now - self.started)}), "
            f"{self.attempts} attempts, {duration(self.stuck_for)} of them while everything "
            f"else worked; last error: {self.last_error}"
        )


class FailingHeads:
    """Which portals' head events fail now, and how (a direction and a failure reason): chats
    failing alike are an outage (Telegram refusing every upload, say), not one event's own
    trouble, even while the health checks are up."""

    def __init__(self) -> None:
        self._how: dict[int, str] = {}

    def failed(self, portal_id: int, how: str) -> bool:
        """Note the failure; whether this portal fails alone (no other fails alike)."""
        self._how[portal_id] = how
        return not any(other == how and pid != portal_id for pid, other in self._how.items())

    def cleared(self, portal_id: int) -> None:
        self._how.pop(portal_id, None)


def duration(seconds: float) -> str:
    """A wait in words: 45 s, 12 min, 3.5 h."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
