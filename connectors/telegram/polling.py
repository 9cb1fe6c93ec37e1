"""Long polling for updates. The offset moves past an update only once the bridge has stored
what it carries, so a crash at any moment loses nothing: Telegram sends unconfirmed updates
again. Whether the poller has caught up with what Telegram holds is told to whoever waits for
it (a look-up wants the ids of what others wrote meanwhile)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from telegram import Bot, Update
from telegram.error import Conflict, Forbidden, InvalidToken, RetryAfter, TelegramError

from bridge.health import HealthCheck

from .pacing import retry_seconds

log = logging.getLogger("connectors.telegram.polling")

# Update types a bridge needs. chat_member and message_reaction arrive only when named here (and
# only where the bot is an admin).
ALLOWED_UPDATES: Sequence[str] = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "message_reaction",
    "chat_member",
    "my_chat_member",
    "business_connection",
    "business_message",
    "edited_business_message",
    "deleted_business_messages",
    # Presses of the bot's buttons (confirming a login link).
    "callback_query",
)
CHECK_NAME = "telegram"
# Updates asked for at a time (Telegram's maximum); a batch this full may have more behind it.
POLL_LIMIT = 100


class Intake:
    """Whether every update Telegram holds for the bot has been taken: true once a getUpdates
    brought fewer updates than the limit and all of them are taken; false again while a
    batch is being taken, and after a full batch (more may wait). It starts false: after a
    start, Telegram may hold a backlog. When intake stops, nothing more is worth waiting for."""

    def __init__(self) -> None:
        self._caught_up = False
        self._stopped = False
        self._changed = asyncio.Event()

    @property
    def caught_up(self) -> bool:
        return self._caught_up

    def _set(self, caught_up: bool, stopped: bool | None = None) -> None:
        self._caught_up = caught_up
        if stopped is not None:
            self._stopped = stopped
        self._changed.set()
        self._changed = asyncio.Event()

    def taking(self) -> None:
        self._set(False, stopped=False)

    def taken(self, complete: bool) -> None:
        self._set(complete)

    def stopped(self) -> None:
        self._set(False, stopped=True)

    async def wait_caught_up(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds until the updates are caught up with (not when
        intake stopped); whether they are."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self._caught_up and not self._stopped:
            left = deadline - loop.time()
            if left <= 0:
                break
            try:
                async with asyncio.timeout(left):
                    await self._changed.wait()
            except TimeoutError:
                break
        return self._caught_up


class Poller:
    def __init__(
        self,
        bot: Bot,
        handle: Callable[[Sequence[Update], Callable[[int], None]], Awaitable[None]],
        timeout: int,
        intake: Intake | None = None,
    ) -> None:
        self._bot = bot
        self._intake = intake or Intake()
        self._handle = handle
        self._timeout = timeout
        self._offset: int | None = None
        self._confirmed: int | None = None
        # The last getUpdates' outcome (the bot was just seen by getMe before polling starts).
        self.check = HealthCheck(CHECK_NAME, True, "connected")

    @property
    def offset(self) -> int | None:
        return self._offset

    async def confirm(self) -> None:
        """Once polling is stopped: tell Telegram which updates are done, so none comes again."""
        if self._offset is not None and self._offset != self._confirmed:
            try:
                await self._bot.get_updates(offset=self._offset, timeout=0, limit=1)
                self._confirmed = self._offset
            except TelegramError as error:
                log.warning("Could not confirm the last updates (they come again): %s", error)

    async def run(self) -> None:
        """Poll until cancelled (run under a supervisor: see connector.py)."""
        backoff = 1.0
        while True:
            try:
                updates = await self._bot.get_updates(
                    offset=self._offset,
                    limit=POLL_LIMIT,
                    timeout=self._timeout,
                    allowed_updates=list(ALLOWED_UPDATES),
                )
                self._confirmed = self._offset
                backoff = 1.0
                self._report(True, "connected, polling for updates")
            except RetryAfter as error:
                # Telegram answers: only slower.
                self._report(True, "connected; Telegram asks to poll more slowly")
                await asyncio.sleep(retry_seconds(error.retry_after))
                continue
            except Conflict:
                self._report(False, "another program polls with this bot token")
                log.error(
                    "Another program is polling with this bot token (or a webhook is set); "
                    "only one may. Retrying in %.0f s",
                    backoff,
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 60)
                continue
            except (InvalidToken, Forbidden) as error:
                self._report(False, f"Telegram refuses the bot token ({error})")
                log.critical("Telegram refused the bot token while polling: %s", error)
                await asyncio.sleep(60)
                continue
            except TelegramError as error:
                self._report(False, f"polling fails ({error})")
                log.warning("Polling failed (%s); retrying in %.0f s", error, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 60)
                continue
            if not updates:
                self._intake.taken(complete=True)
                continue
            self._intake.taking()
            try:
                await self._handle(updates, self._taken)
            except Exception:
                # Not stored: ask for it again rather than skip it (keeps the order).
                first = self._offset if self._offset is not None else updates[0].update_id
                log.exception("Could not take the updates from %d on; asking again", first)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 60)
                continue
            self._taken(updates[-1].update_id)
            self._intake.taken(complete=len(updates) < POLL_LIMIT)

    def _report(self, ok: bool, detail: str) -> None:
        if self.check.ok != ok or self.check.detail != detail:
            self.check = HealthCheck(CHECK_NAME, ok, detail)

    def _taken(self, update_id: int) -> None:
        """Everything up to this update is stored: it need not come again."""
        self._offset = max(self._offset or 0, update_id + 1)
