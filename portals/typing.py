"""Matrix users typing in a portal room, shown in the remote chat while it lasts.

Typing notifications come as ephemeral events (the registration's ``receive_ephemeral``):
never stored, never queued behind messages, and lost without harm. Telegram shows a bot's
"typing" for about five seconds, so the relay renews it while someone relayed is typing, up
to a limit in case the homeserver never says they stopped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Any

from bridge.cancelling import cancel_and_wait
from bridge.network.capabilities import ShowsTyping
from bridge.network.ids import PortalKey
from bridge.network.interface import NetworkConnector

from .index import PortalIndex

log = logging.getLogger("portals.typing")

RENEW_EVERY = 4.0  # seconds; Telegram's chat action lasts about 5
GIVE_UP_AFTER = 120.0


class TypingRelay:
    def __init__(
        self,
        connector: NetworkConnector,
        index: PortalIndex,
        relayed: Callable[[str], bool],
        renew_every: float | None = None,
    ) -> None:
        self._connector = connector
        self._index = index
        self._relayed = relayed
        self._renew_every = renew_every if renew_every is not None else RENEW_EVERY
        self._shown: dict[PortalKey, asyncio.Task[None]] = {}

    def handle(self, ephemeral: Iterable[dict[str, Any]]) -> None:
        """Take a transaction's ephemeral events (typing in portal rooms; the rest ignored)."""
        if not isinstance(self._connector, ShowsTyping):
            return
        for event in ephemeral:
            if event.get("type") != "m.typing":
                continue
            content = event.get("content")
            users = content.get("user_ids") if isinstance(content, dict) else None
            portal_id = self._index.by_room(str(event.get("room_id")))
            entry = self._index.entry(portal_id) if portal_id is not None else None
            if entry is None or not isinstance(users, list):
                continue
            self._update(entry.key, any(self._relayed(str(user)) for user in users))

    def _update(self, portal: PortalKey, typing: bool) -> None:
        shown = self._shown.get(portal)
        if typing and (shown is None or shown.done()):
            self._shown[portal] = asyncio.create_task(self._show(portal), name="typing")
        elif not typing and shown is not None:
            shown.cancel()
            del self._shown[portal]

    async def _show(self, portal: PortalKey) -> None:
        connector = self._connector
        assert isinstance(connector, ShowsTyping)
        loop = asyncio.get_running_loop()
        until = loop.time() + GIVE_UP_AFTER
        while loop.time() < until:
            try:
                await connector.show_typing(portal)
            except Exception as error:
                # Only a courtesy: a failure here must not disturb anything else.
                log.debug("Could not show typing in %s: %s", portal, error)
            await asyncio.sleep(self._renew_every)

    async def stop(self) -> None:
        tasks = list(self._shown.values())
        self._shown.clear()
        await cancel_and_wait(tasks)
