"""Calls into a Telegram chat: within its flood limits, following a group's move to a
supergroup, with Telegram's refusals told in words the Matrix user understands and its passing
troubles marked as such."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import TypeVar

import aiohttp
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter

from bridge.network.interface import DeliveryError, TemporaryFailure

from .http import RequestRefused
from .pacing import Pacer, retry_seconds

log = logging.getLogger("connectors.telegram.calls")

T = TypeVar("T")


class BotNotStarted(DeliveryError):
    """Telegram lets a bot write to a user only once they started a chat with it."""


async def telegram_call(
    pacer: Pacer, chat_id: int, call: Callable[[int], Awaitable[T]], paced: bool = False
) -> T:
    """Run a call into a chat within the flood limits (``paced``: the caller waited already),
    following a group's move to a supergroup, with permanent refusals as DeliveryError and
    passing trouble as TemporaryFailure."""
    try:
        if not paced:
            await pacer.before_send(chat_id)
        try:
            return await call(chat_id)
        except ChatMigrated as moved:
            log.info("Chat %d moved to %d; sending there", chat_id, moved.new_chat_id)
            await pacer.before_send(moved.new_chat_id)
            return await call(moved.new_chat_id)
    except RetryAfter as error:
        seconds = retry_seconds(error.retry_after)
        raise TemporaryFailure(
            f"Telegram's flood limit (it asks to wait {seconds:.0f} s)", retry_after=seconds
        ) from None
    except Forbidden as error:
        text = error.message.lower()
        if "bot can't initiate conversation" in text:
            raise BotNotStarted(
                "they have not started a chat with the bridge bot in Telegram yet: ask them to "
                "open the bot in Telegram and press Start"
            ) from None
        if "bot was blocked by the user" in text:
            raise DeliveryError("they have blocked the bridge bot in Telegram") from None
        raise DeliveryError(
            f"the bot may not write in this Telegram chat any more ({error.message})"
        ) from None
    except BadRequest as error:
        text = error.message.lower()
        if "chat not found" in text:
            raise DeliveryError(
                "the Telegram chat does not exist (or the bot never was in it)"
            ) from None
        if "message to edit not found" in text:
            raise DeliveryError("its Telegram message was deleted") from None
        if "message can't be deleted" in text:
            raise DeliveryError(
                "Telegram lets a bot delete its messages only within 48 hours of sending them"
            ) from None
        if "message can't be edited" in text:
            raise DeliveryError("Telegram no longer lets the bot edit that message") from None
        if "business_peer_usage_missing" in text:
            raise DeliveryError(
                "Telegram lets a business account's bot write only within 24 hours of the "
                "contact's last message"
            ) from None
        if "bot_access_forbidden" in text:
            raise DeliveryError(
                "your Telegram Business connection does not give the bridge the right to do "
                "that: grant it in Telegram (Settings, Telegram Business, Chatbots)"
            ) from None
        if "business_connection_invalid" in text or "business connection not found" in text:
            raise DeliveryError("your Telegram Business connection is paused or gone") from None
        if "not enough rights" in text or "administrator rights" in text:
            raise DeliveryError(
                f"the bot lacks the admin right for this ({error.message})"
            ) from None
        raise DeliveryError(f"Telegram refused it: {error.message}") from None
    except RequestRefused as error:
        if error.status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE:
            raise DeliveryError(f"Telegram refused it as too large ({error.message})") from None
        raise DeliveryError(f"Telegram refused it ({error.message})") from None
    except NetworkError as error:
        # Timeouts, refused connections and 5xx answers: Telegram may be back in a moment.
        raise TemporaryFailure(
            f"Telegram cannot be reached ({error.message})", in_doubt=may_have_arrived(error)
        ) from None


# What aiohttp raises when no connection to Telegram was made, so no request was written: a
# refused or failed connection, a connection (or a free one in the pool) that took too long.
_NEVER_CONNECTED = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)


def may_have_arrived(error: NetworkError) -> bool:
    """Whether the request that failed with ``error`` may have been carried out all the same.

    python-telegram-bot raises NetworkError (TimedOut for timeouts) with the HTTP client's
    exception as its cause (aiohttp's, see http.py), and NetworkError without one for an HTTP
    error status it has no class for (5xx, mostly). Only a connection never made is a clear
    "not sent": a read or write timeout, a connection lost after the request was (partly)
    written and a 5xx answer (a proxy may have passed the request on) leave the outcome
    unknown.
    """
    return not isinstance(error.__cause__, _NEVER_CONNECTED)


async def made(edit: Awaitable[object]) -> None:
    """Await an edit; one Telegram finds already made ("message is not modified": an edit
    interrupted midway and made again) is done."""
    try:
        await edit
    except BadRequest as error:
        if "message is not modified" not in error.message.lower():
            raise
