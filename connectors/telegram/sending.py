"""Matrix messages and room changes carried to Telegram, with Telegram's refusals told in words
the Matrix user understands and its passing troubles marked as such."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import aiohttp
from telegram import Bot, Message, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter

from bridge.network.ids import PortalKey, RemoteMessageID
from bridge.network.interface import DeliveryError, TemporaryFailure
from bridge.network.outgoing import (
    MatrixEdit,
    MatrixMessage,
    PartRemoved,
    SendingPart,
    SendProgress,
    SentMessage,
)

from . import ids
from .formatting import (
    PillResolver,
    TelegramText,
    matrix_to_telegram_text,
    render_telegram_html,
    split_text,
)
from .lookup import MessageFinder
from .pacing import Pacer, retry_seconds

log = logging.getLogger("connectors.telegram.sending")

T = TypeVar("T")


async def send_message(
    bot: Bot,
    pacer: Pacer,
    portal: PortalKey,
    message: MatrixMessage,
    pills: PillResolver,
    progress: SendProgress,
    finder: MessageFinder,
) -> AsyncIterator[SendingPart | SentMessage]:
    chat_id = ids.chat_id_of(portal)
    for index, chunk in enumerate(_chunks(message, pills)):
        part_id = str(index)
        if part_id in progress.already_sent:
            continue
        reply = message.reply_to if index == 0 else None
        async for step in _send_part(
            bot, pacer, chat_id, chunk, part_id, reply, progress, finder, message.event_id
        ):
            yield step


async def edit_message(
    bot: Bot,
    pacer: Pacer,
    portal: PortalKey,
    edit: MatrixEdit,
    pills: PillResolver,
    progress: SendProgress,
    finder: MessageFinder,
) -> AsyncIterator[SendingPart | SentMessage | PartRemoved]:
    """The parts the message has are edited in place; parts the new text needs beyond them are
    sent, and parts it no longer needs deleted."""
    chat_id = ids.chat_id_of(portal)
    chunks = _chunks(edit.message, pills)
    parts = dict(edit.parts)
    for index, chunk in enumerate(chunks):
        part_id = str(index)
        remote_id = parts.get(part_id)
        if remote_id is None:
            async for step in _send_part(
                bot, pacer, chat_id, chunk, part_id, None, progress, finder, edit.message.event_id
            ):
                yield step
            continue

        async def change(
            chat: int, message_id: int = int(remote_id), text: str = render_telegram_html(chunk)
        ) -> None:
            try:
                await bot.edit_message_text(text, chat, message_id, parse_mode=ParseMode.HTML)
            except BadRequest as error:
                # Made before (an edit interrupted midway is made again): done already.
                if "message is not modified" not in error.message.lower():
                    raise

        await telegram_call(pacer, chat_id, change)
        yield SentMessage(remote_id, part_id)
    for part_id, remote_id in edit.parts[len(chunks) :]:

        async def remove(chat: int, message_id: int = int(remote_id)) -> None:
            try:
                await bot.delete_message(chat, message_id)
            except BadRequest as error:
                if "message to delete not found" not in error.message.lower():
                    raise

        await telegram_call(pacer, chat_id, remove)
        yield PartRemoved(part_id)


def _chunks(message: MatrixMessage, pills: PillResolver) -> list[TelegramText]:
    chunks = [
        chunk
        for chunk in split_text(matrix_to_telegram_text(message.body, message.html, pills))
        if chunk.text.strip()
    ]
    if not chunks:
        raise DeliveryError("it has no text Telegram can show")
    return chunks


async def _send_part(
    bot: Bot,
    pacer: Pacer,
    chat_id: int,
    chunk: TelegramText,
    part_id: str,
    reply_to: RemoteMessageID | None,
    progress: SendProgress,
    finder: MessageFinder,
    event_id: str,
) -> AsyncIterator[SendingPart | SentMessage]:
    """One new message; a part in doubt is looked for before it is sent again."""
    # Wait for the flood limit first: a part is noted as leaving only when it really does.
    # Before a look-up too, which paces its own probes: a wait handed to the portal after it
    # would start it over.
    await pacer.before_send(chat_id)
    if part_id in progress.in_doubt:
        found = await finder.find(
            chat_id,
            chunk.text,
            progress.in_doubt[part_id],
            progress.known_messages,
            f"part {part_id} of {event_id}",
        )
        if found is not None:
            yield SentMessage(ids.message_id(found), part_id)
            return
    reply = None
    if reply_to is not None:
        reply = ReplyParameters(int(reply_to), allow_sending_without_reply=True)

    async def send(chat: int, text: str = render_telegram_html(chunk)) -> Message:
        return await bot.send_message(chat, text, parse_mode=ParseMode.HTML, reply_parameters=reply)

    yield SendingPart(part_id)
    result = await telegram_call(pacer, chat_id, send, paced=True)
    yield SentMessage(ids.message_id(result.message_id), part_id)


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
        if "message can't be edited" in text:
            raise DeliveryError("Telegram no longer lets the bot edit that message") from None
        if "not enough rights" in text or "administrator rights" in text:
            raise DeliveryError(
                f"the bot lacks the admin right for this ({error.message})"
            ) from None
        raise DeliveryError(f"Telegram refused it: {error.message}") from None
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
