"""Locations to Telegram: the point as a location message, the relayed sender's name after
it (a location takes no caption)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from telegram import Bot, Message, ReplyParameters

from bridge.network.outgoing import MatrixMessage, SendingPart, SendProgress, SentMessage

from . import ids
from .calls import telegram_call
from .formatting import PillResolver, matrix_to_telegram_text
from .lookup import MessageFinder
from .pacing import Pacer
from .text_parts import send_text_part, thread_param


async def send_location(
    bot: Bot,
    pacer: Pacer,
    chat_id: int,
    message: MatrixMessage,
    geo: tuple[float, float],
    pills: PillResolver,
    progress: SendProgress,
    finder: MessageFinder,
) -> AsyncIterator[SendingPart | SentMessage]:
    """The location is part "0"; a location takes no caption, so the relayed name follows as
    part "1"."""
    if "0" not in progress.already_sent:
        await pacer.before_send(chat_id)
        found = None
        if "0" in progress.in_doubt:
            found = await finder.find(
                chat_id,
                "",
                progress.in_doubt["0"],
                progress.known_messages,
                f"part 0 of {message.event_id}",
                media="location",
            )
        if found is not None:
            yield SentMessage(ids.message_id(found), "0")
        else:
            reply = None
            if message.reply_to is not None:
                reply = ReplyParameters(int(message.reply_to), allow_sending_without_reply=True)

            async def send(chat: int) -> Message:
                latitude, longitude = geo
                return await bot.send_location(
                    chat,
                    latitude,
                    longitude,
                    reply_parameters=reply,
                    message_thread_id=thread_param(message.thread_id),
                )

            yield SendingPart("0")
            result = await telegram_call(pacer, chat_id, send, paced=True)
            yield SentMessage(ids.message_id(result.message_id), "0")
    name = matrix_to_telegram_text(message.body, message.html, pills)
    if name.text.strip() and "1" not in progress.already_sent:
        async for step in send_text_part(
            bot, pacer, chat_id, name, "1", None, progress, finder, message.event_id,
            message.thread_id,
        ):  # fmt: skip
            yield step
