"""The bot's answer to a Telegram user's message, as a reply to it, or to a press of one of its
buttons; only a courtesy, so a failure is logged and nothing more."""

from __future__ import annotations

import logging

from telegram import Bot, CallbackQuery, Message, ReplyParameters
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


# Telegram shows at most 200 characters of a callback query's answer.
PRESS_ANSWER_LIMIT = 200


async def answer_press(
    bot: Bot, query: CallbackQuery, text: str | None = None, alert: bool = False
) -> None:
    """Answer a button press (Telegram wants one for each: the client waits for it), with a
    notification, or an alert to dismiss."""
    try:
        await bot.answer_callback_query(
            query.id, text[:PRESS_ANSWER_LIMIT] if text else None, show_alert=alert
        )
    except TelegramError as error:
        log.info("Could not answer a button press: %s", error)
