"""The bot's answer to a Telegram user's message, as a reply to it; only a courtesy, so a
failure is logged and nothing more."""

from __future__ import annotations

import logging

from telegram import Bot, Message, ReplyParameters
from telegram.error import TelegramError

log = logging.getLogger("connectors.telegram.answers")


async def answer(bot: Bot, message: Message, text: str) -> None:
    try:
        await bot.send_message(
            message.chat.id,
            text,
            reply_parameters=ReplyParameters(message.message_id, allow_sending_without_reply=True),
        )
    except TelegramError as error:
        log.warning("Could not answer in chat %d: %s", message.chat.id, error)
