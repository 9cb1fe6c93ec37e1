"""Matrix messages and room changes carried to Telegram, with Telegram's refusals told in words
the Matrix user understands."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from telegram import Bot, Message, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden

from bridge.network.ids import PortalKey
from bridge.network.interface import DeliveryError
from bridge.network.outgoing import MatrixMessage, SentMessage

from . import ids
from .formatting import PillResolver, matrix_to_telegram

log = logging.getLogger("connectors.telegram.sending")

T = TypeVar("T")


async def send_message(
    bot: Bot, portal: PortalKey, message: MatrixMessage, pills: PillResolver
) -> Sequence[SentMessage]:
    chunks = matrix_to_telegram(message.body, message.html, pills)
    if not chunks:
        raise DeliveryError("it has no text Telegram can show")
    chat_id = ids.chat_id_of(portal)
    sent: list[SentMessage] = []
    for index, chunk in enumerate(chunks):
        reply = None
        if index == 0 and message.reply_to is not None:
            reply = ReplyParameters(int(message.reply_to), allow_sending_without_reply=True)

        async def send(
            chat: int, text: str = chunk, reply_to: ReplyParameters | None = reply
        ) -> Message:
            return await bot.send_message(
                chat, text, parse_mode=ParseMode.HTML, reply_parameters=reply_to
            )

        result = await telegram_call(chat_id, send)
        sent.append(SentMessage(ids.message_id(result.message_id), str(index)))
    return sent


async def telegram_call(chat_id: int, call: Callable[[int], Awaitable[T]]) -> T:
    """Run a chat call, following a group's move to a supergroup once, and turn Telegram's
    permanent refusals into DeliveryError. Transient errors (flood limits, network) pass up."""
    try:
        try:
            return await call(chat_id)
        except ChatMigrated as moved:
            log.info("Chat %d moved to %d; sending there", chat_id, moved.new_chat_id)
            return await call(moved.new_chat_id)
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
        if "not enough rights" in text or "administrator rights" in text:
            raise DeliveryError(
                f"the bot lacks the admin right for this ({error.message})"
            ) from None
        raise DeliveryError(f"Telegram refused it: {error.message}") from None
