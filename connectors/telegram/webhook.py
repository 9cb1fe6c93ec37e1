"""Webhook mode: Telegram posts each update to a public URL, forwarded to the bridge's listener.

A request is answered 200 only once what its update carries is stored, so an update is never
lost: Telegram keeps one it got no 2xx for and posts it again later (also after a timeout,
when the first attempt may have been stored: the inbox's keys make the second a no-op). A
request without Telegram's secret is refused with 401 before anything is read from it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web
from telegram import Bot, Update
from telegram.error import TelegramError

from bridge.secret_check import matches_secret

log = logging.getLogger("connectors.telegram.webhook")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# How often a look-up waiting for the backlog asks Telegram how many updates it still holds.
BACKLOG_CHECK_INTERVAL = 0.5


def _plain(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text)


class NotYet(Exception):
    """The update came before something it refers to: Telegram is to post it again in
    ``retry_after`` seconds (see early.py)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"not yet; again in {retry_after} s")
        self.retry_after = retry_after


class WebhookReceiver:
    """The route Telegram posts to. Closed (503, Telegram retries) until ``open`` and after
    ``close``; updates are taken one at a time, in the order they come, as polling does.
    Telegram posts them over one connection (setWebhook's max_connections, see connector.py),
    so they come in its order while every post succeeds: over several, a chat's reactions and
    member changes could overtake its messages. A failed post is tried again behind the others:
    one that then comes before what it refers to is answered 503 (NotYet, early.py)."""

    def __init__(
        self,
        bot: Bot,
        path: str,
        secret_token: str,
        handle: Callable[[Sequence[Update]], Awaitable[None]],
    ) -> None:
        self._bot = bot
        self._path = path
        self._secret = secret_token.encode()
        self._handle = handle
        self._open = False
        self._taking = asyncio.Lock()

    def routes(self) -> list[web.RouteDef]:
        return [web.post(self._path, self._receive)]

    def open(self) -> None:
        self._open = True

    async def close(self) -> None:
        """Take no more updates; returns once the one in hand is stored (or failed)."""
        self._open = False
        async with self._taking:
            pass

    async def _receive(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER)
        if not matches_secret(given, self._secret):
            log.warning(
                "Refused a request to the webhook from %s: %s secret token",
                request.remote,
                "no" if given is None else "a wrong",
            )
            return _plain(401, "Unauthorized")
        if not self._open:
            return _plain(503, "Not taking updates now; try again later")
        try:
            body = json.loads(await request.read())
        except ValueError:
            return _plain(400, "The body is not JSON")
        try:
            update = Update.de_json(body, self._bot)
        except (ValueError, TypeError, KeyError, AttributeError, TelegramError) as error:
            # From Telegram (it knows the secret), yet unreadable: asking again would bring the
            # same and hold up every update behind it.
            log.error("Dropped a webhook request that is no update Telegram sends: %r", error)
            return _plain(200, "")
        async with self._taking:
            if not self._open:
                return _plain(503, "Not taking updates now; try again later")
            try:
                await self._handle([update])
            except NotYet as early:
                # Telegram holds this update's queue alone for that long; the others go on.
                return web.Response(
                    status=503,
                    text="Came before what it refers to; try again later",
                    headers={"Retry-After": str(early.retry_after)},
                )
            except Exception:
                # Not stored: Telegram posts it again later (and nothing after it in its chat
                # meanwhile).
                log.exception("Could not take update %d; Telegram sends it again", update.update_id)
                return _plain(503, "Could not store the update; try again later")
        return _plain(200, "")


class WebhookBacklog:
    """Whether Telegram still holds updates for the bot, as it tells (getWebhookInfo): a
    look-up for a message in doubt waits until the others' messages sent meanwhile are in."""

    def __init__(self, bot: Bot) -> None:
        self._bot = bot
        self._stopped = False

    def stopped(self) -> None:
        self._stopped = True

    async def wait_caught_up(self, timeout: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self._stopped:
            try:
                info = await self._bot.get_webhook_info()
            except TelegramError as error:
                log.info("Could not ask Telegram for the updates it holds: %s", error)
                return False
            if info.pending_update_count == 0:
                return True
            left = deadline - loop.time()
            if left <= 0:
                return False
            await asyncio.sleep(min(BACKLOG_CHECK_INTERVAL, left))
        return False
