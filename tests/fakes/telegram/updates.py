"""The bot's update queue with Telegram's getUpdates semantics.

As in the official server: an update whose type is not allowed when it is created is never
queued (changing allowed_updates later does not bring it back, nor does it remove queued ones);
`offset` confirms, and so forgets, every update below it; a negative offset keeps only the last
-offset updates; a getUpdates that has to wait ends one already waiting with 409 Conflict.
While a webhook is set, getUpdates is refused and webhook.py posts the pending updates.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .errors import ApiError

DEFAULT_EXCLUDED = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
CONFLICT_OTHER_POLL = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
CONFLICT_WEBHOOK = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
CONFLICT_SET_WEBHOOK = "Conflict: terminated by setWebhook request"


@dataclass
class Poll:
    """One getUpdates call as the queue saw it."""

    offset: int | None
    limit: int
    timeout: int
    allowed_updates: list[str] | None
    returned: list[int] = field(default_factory=list)  # update ids answered
    outcome: str = "pending"  # then "answered", "conflict", "closed" or "cancelled"
    wake: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    abort: str | None = field(default=None, repr=False)


class UpdateQueue:
    def __init__(self, update_types: Iterable[str], first_update_id: int) -> None:
        self.update_types = frozenset(update_types)
        self.allowed: frozenset[str] = self.update_types - DEFAULT_EXCLUDED
        self.pending: list[dict[str, Any]] = []
        self.next_update_id = first_update_id
        self.created: list[dict[str, Any]] = []  # every queued update, confirmed or not
        self.filtered: list[dict[str, Any]] = []  # updates dropped by allowed_updates
        self.polls: list[Poll] = []
        self.confirmed: list[int] = []  # ids of updates confirmed (forgotten) by an offset
        self.webhook: dict[str, Any] = {}
        self._active: Poll | None = None
        self._closing = False
        self._changed = asyncio.Event()

    # -- producing -------------------------------------------------------------------------------

    def push(self, update_type: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """Queue an update if its type is allowed now; returns it, or None if filtered out."""
        if update_type not in self.update_types:
            raise ValueError(f"unknown update type {update_type!r}")
        if update_type not in self.allowed:
            self.filtered.append({update_type: payload})
            return None
        return self.push_raw({update_type: payload})

    def push_raw(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue any dict as an update (given no update_id, it gets the next one). The update
        is a snapshot: later changes to a stored message (edits) do not alter it."""
        update = copy.deepcopy(update)
        if "update_id" not in update:
            update = {"update_id": self.next_update_id, **update}
            self.next_update_id += 1
        self.pending.append(update)
        self.created.append(update)
        if self._active is not None:
            self._active.wake.set()
        self._notify()
        return update

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_changed(self) -> None:
        """Until an update is queued or the webhook changes."""
        await self._changed.wait()

    # -- settings --------------------------------------------------------------------------------

    def set_allowed(self, names: list[str] | None) -> None:
        """None keeps the previous setting; a list without known names means the default."""
        if names is None:
            return
        known = frozenset(n.lower() for n in names) & self.update_types
        self.allowed = known or self.update_types - DEFAULT_EXCLUDED

    @property
    def allowed_is_default(self) -> bool:
        return self.allowed == self.update_types - DEFAULT_EXCLUDED

    def drop_pending(self) -> None:
        self.pending.clear()

    def set_webhook(self, webhook: dict[str, Any]) -> None:
        """Set (a dict with url) or delete (an empty dict) the webhook."""
        self.webhook = webhook
        self._notify()

    def acknowledge(self, update: dict[str, Any]) -> None:
        """The webhook answered 2xx for this update: forget it, like a confirming offset."""
        if any(u is update for u in self.pending):
            self.pending = [u for u in self.pending if u is not update]
            self.confirmed.append(update["update_id"])

    # -- consuming -------------------------------------------------------------------------------

    @property
    def offsets(self) -> list[int]:
        """Offsets the client sent, in order (calls without one are left out)."""
        return [p.offset for p in self.polls if p.offset is not None]

    def _confirm(self, offset: int | None) -> None:
        if not offset:
            return
        if offset < 0:
            dropped = self.pending[: max(0, len(self.pending) + offset)]
        elif offset <= self.next_update_id:  # beyond the queue's tail Telegram ignores it
            dropped = [u for u in self.pending if u["update_id"] < offset]
        else:
            return
        self.confirmed += [u["update_id"] for u in dropped]
        self.pending = [u for u in self.pending if not any(u is d for d in dropped)]

    async def get_updates(self, poll: Poll) -> list[dict[str, Any]]:
        if self.webhook.get("url"):
            raise ApiError(409, CONFLICT_WEBHOOK)
        self.polls.append(poll)
        self.set_allowed(poll.allowed_updates)
        self._confirm(poll.offset)
        if self.pending[: poll.limit] or poll.timeout == 0 or self._closing:
            return self._answer(poll)
        # Only a request that is going to wait displaces the one already waiting.
        self.abort_poll(CONFLICT_OTHER_POLL)
        self._active = poll
        loop = asyncio.get_running_loop()
        deadline = loop.time() + poll.timeout
        try:
            while poll.abort is None:
                if self.pending[: poll.limit] or loop.time() >= deadline or self._closing:
                    return self._answer(poll)
                poll.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(poll.wake.wait(), deadline - loop.time())
            poll.outcome = "conflict"
            raise ApiError(409, poll.abort)
        finally:
            if poll.outcome == "pending":
                poll.outcome = "cancelled"  # the client went away
            if self._active is poll:
                self._active = None

    def _answer(self, poll: Poll) -> list[dict[str, Any]]:
        batch = self.pending[: poll.limit]
        poll.returned = [u["update_id"] for u in batch]
        poll.outcome = "closed" if self._closing else "answered"
        return batch

    def abort_poll(self, reason: str) -> None:
        """End a waiting getUpdates with 409 Conflict."""
        if self._active is not None:
            self._active.abort = reason
            self._active.wake.set()

    def close(self) -> None:
        """Answer a waiting getUpdates at once (server shutdown)."""
        self._closing = True
        if self._active is not None:
            self._active.wake.set()

    def reopen(self) -> None:
        self._closing = False
