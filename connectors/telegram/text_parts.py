"""Text to Telegram: a Matrix message split into the parts Telegram takes, each sent as one
message, a part in doubt looked for before it is sent again."""

from __future__ import annotations

from collections.abc import AsyncIterator

from telegram import Bot, Message, ReplyParameters
from telegram.constants import ParseMode

from bridge.network.ids import RemoteMessageID
from bridge.network.interface import DeliveryError
from bridge.network.outgoing import MatrixMessage, SendingPart, SendProgress, SentMessage

from . import ids
from .calls import telegram_call
from .formatting import (
    PillResolver,
    TelegramText,
    matrix_to_telegram_text,
    render_telegram_html,
    split_text,
)
from .lookup import MessageFinder
from .pacing import Pacer


def thread_param(thread: RemoteMessageID | None) -> int | None:
    return int(thread) if thread is not None else None


def text_chunks(message: MatrixMessage, pills: PillResolver) -> list[TelegramText]:
    chunks = [
        chunk
        for chunk in split_text(matrix_to_telegram_text(message.body, message.html, pills))
        if chunk.text.strip()
    ]
    if not chunks:
        raise DeliveryError("it has no text Telegram can show")
    return chunks


async def send_text_part(
    bot: Bot,
    pacer: Pacer,
    chat_id: int,
    chunk: TelegramText,
    part_id: str,
    reply_to: RemoteMessageID | None,
    progress: SendProgress,
    finder: MessageFinder,
    event_id: str,
    thread: RemoteMessageID | None = None,
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
        return await bot.send_message(
            chat,
            text,
            parse_mode=ParseMode.HTML,
            reply_parameters=reply,
            message_thread_id=thread_param(thread),
        )

    yield SendingPart(part_id)
    result = await telegram_call(pacer, chat_id, send, paced=True)
    yield SentMessage(ids.message_id(result.message_id), part_id)
