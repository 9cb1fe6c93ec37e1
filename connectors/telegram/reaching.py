"""Reaching the Bot API when it did not answer at start-up: asked again, with growing pauses,
until it does.

Telegram out of reach is passing trouble at start-up as it is while running: the bridge starts
without it (the homeserver's side works; what is for Telegram waits in its chat's queue, in
order) and /ready names Telegram as down meanwhile. A refusal (the token is not a bot's, the
webhook's URL is refused) is final when Telegram says it at start-up: one line, and the bridge
ends. Said later, the bridge is running already: it is logged as critical, /ready shows it, and
Telegram is asked again now and then (a token fixed at BotFather comes back without a restart,
as the poller does).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from telegram.error import TelegramError

from bridge.cancelling import cancel_and_wait
from bridge.errors import StartupError
from bridge.health import HealthCheck

from .polling import CHECK_NAME

log = logging.getLogger("connectors.telegram")

FIRST_DELAY = 1.0
MAX_DELAY = 60.0


def unreachable(error: BaseException) -> str:
    """Why Telegram could not be reached, in a few words (never a token: see http.py)."""
    if isinstance(error, TelegramError):
        return error.message
    return f"{type(error).__name__}: {error}"


class Reaching:
    """Runs ``attempt`` (which raises until Telegram answers: StartupError for a refusal) again
    and again in the background; ``check`` is Telegram's health check meanwhile, None once
    ``attempt`` succeeded."""

    def __init__(
        self,
        attempt: Callable[[], Awaitable[None]],
        first_delay: float = FIRST_DELAY,
        max_delay: float = MAX_DELAY,
    ) -> None:
        self._attempt = attempt
        self._first_delay = first_delay
        self._max_delay = max_delay
        self.check: HealthCheck | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def trying(self) -> bool:
        return self._task is not None and not self._task.done()

    def failed(self, error: BaseException, api_url: str) -> None:
        """The attempt made in line failed with passing trouble: keep trying in the background."""
        reason = unreachable(error)
        log.warning(
            "Cannot reach the Telegram Bot API at telegram.api_url (%s): %s. The bridge runs "
            "without it and keeps trying; messages for Telegram wait in order until it answers",
            api_url,
            reason,
        )
        self.check = HealthCheck(CHECK_NAME, False, f"cannot be reached ({reason}); trying again")
        if not self.trying:
            self._task = asyncio.create_task(self._keep_trying(), name="telegram-reaching")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait([self._task])
            self._task = None

    async def _keep_trying(self) -> None:
        delay = self._first_delay
        while True:
            await asyncio.sleep(delay)
            try:
                await self._attempt()
            except StartupError as refusal:
                if self.check is None or not self.check.detail.startswith("refused"):
                    log.critical("%s; asking again every %.0f s", refusal, self._max_delay)
                self.check = HealthCheck(CHECK_NAME, False, f"refused: {refusal}")
                delay = self._max_delay
                continue
            except TelegramError as error:
                log.debug("Telegram cannot be reached yet (%s)", unreachable(error))
                self.check = HealthCheck(
                    CHECK_NAME, False, f"cannot be reached ({unreachable(error)}); trying again"
                )
            except Exception as error:
                # Not Telegram's: the bridge's own database, say. Told, and tried again.
                log.exception("Setting up the connection to Telegram failed")
                self.check = HealthCheck(CHECK_NAME, False, f"set-up failed ({error}); retrying")
            else:
                self.check = None
                log.info("Telegram answers now: what waited for it goes out, in order")
                return
            delay = min(delay * 2, self._max_delay)
