"""Files to Telegram: each kind by the send method Telegram shows it best with, the caption
beside it when it fits, the relayed sender's name in it."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

from telegram import Bot, InputFile, Message, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bridge.network.ids import RemoteMessageID
from bridge.network.outgoing import (
    MatrixMessage,
    OutgoingFile,
    SendingPart,
    SendProgress,
    SentMessage,
)

from . import ids
from .calls import telegram_call
from .formatting import (
    PillResolver,
    TelegramText,
    matrix_to_telegram_text,
    render_telegram_html,
    split_text,
    utf16_len,
)
from .lookup import MessageFinder
from .pacing import Pacer
from .text_parts import send_text_part, thread_param

# Bot API upload limits, and what a photo may be.
CAPTION_LIMIT = 1024
UPLOAD_LIMIT = 50 * 1024 * 1024
_PHOTO_LIMIT = 10 * 1024 * 1024
_PHOTO_TYPES = ("image/jpeg", "image/png", "image/webp")
_STICKER_TYPES = ("image/webp", "video/webm", "application/x-tgsticker")
_PHOTO_REFUSALS = re.compile(
    r"PHOTO_INVALID_DIMENSIONS|PHOTO_SAVE_FILE_INVALID|PHOTO_EXT_INVALID|IMAGE_PROCESS_FAILED",
    re.IGNORECASE,
)
# The Message field each send method's file arrives in.
_FIELDS = {
    "photo": "photo",
    "document": "document",
    "video": "video",
    "audio": "audio",
    "voice": "voice",
    "sticker": "sticker",
}


async def send_file(
    bot: Bot,
    pacer: Pacer,
    chat_id: int,
    message: MatrixMessage,
    file: OutgoingFile,
    pills: PillResolver,
    progress: SendProgress,
    finder: MessageFinder,
) -> AsyncIterator[SendingPart | SentMessage]:
    """The file is part "0", with its caption when that fits Telegram's caption limit (a
    sticker takes none); a caption that does not fit follows as text parts "1", "2"..."""
    text = matrix_to_telegram_text(message.body, message.html, pills)
    caption: TelegramText | None = text if text.text.strip() else None
    after: list[TelegramText] = []
    if caption is not None and (file.kind == "sticker" or utf16_len(caption.text) > CAPTION_LIMIT):
        after = [chunk for chunk in split_text(caption) if chunk.text.strip()]
        caption = None
    if "0" not in progress.already_sent:
        async for step in _send_file_part(
            bot, pacer, chat_id, file, caption, message, progress, finder
        ):
            yield step
    for index, chunk in enumerate(after, start=1):
        part_id = str(index)
        if part_id in progress.already_sent:
            continue
        async for step in send_text_part(
            bot, pacer, chat_id, chunk, part_id, None, progress, finder, message.event_id,
            message.thread_id,
        ):  # fmt: skip
            yield step


async def _send_file_part(
    bot: Bot,
    pacer: Pacer,
    chat_id: int,
    file: OutgoingFile,
    caption: TelegramText | None,
    message: MatrixMessage,
    progress: SendProgress,
    finder: MessageFinder,
) -> AsyncIterator[SendingPart | SentMessage]:
    event_id, reply_to, thread = message.event_id, message.reply_to, message.thread_id
    await pacer.before_send(chat_id)
    method = file_method(file)
    if "0" in progress.in_doubt:
        found = await finder.find(
            chat_id,
            caption.text if caption is not None else "",
            progress.in_doubt["0"],
            progress.known_messages,
            f"part 0 of {event_id}",
            media=_FIELDS[method],
        )
        if found is not None:
            yield SentMessage(ids.message_id(found), "0")
            return
    reply = None
    if reply_to is not None:
        reply = ReplyParameters(int(reply_to), allow_sending_without_reply=True)
    html = render_telegram_html(caption) if caption is not None else None

    async def send(chat: int) -> Message:
        try:
            return await _send_as(bot, chat, method, file, html, reply, thread)
        except BadRequest as error:
            if method != "photo" or not _PHOTO_REFUSALS.search(error.message):
                raise
            # Telegram takes only some pictures as photos (size, proportions): as a file.
            return await _send_as(bot, chat, "document", file, html, reply, thread)

    yield SendingPart("0")
    result = await telegram_call(pacer, chat_id, send, paced=True)
    yield SentMessage(ids.message_id(result.message_id), "0")


def file_method(file: OutgoingFile) -> str:
    """How Telegram should get the file: as a photo, document, video, audio, voice or sticker
    (a kind Telegram would refuse in that form goes as the nearest it takes)."""
    match file.kind:
        case "image":
            fits = file.mimetype in _PHOTO_TYPES and len(file.data) <= _PHOTO_LIMIT
            return "photo" if fits else "document"
        case "voice":
            # Telegram plays OGG/Opus as voice; anything else as an audio file.
            return "voice" if file.mimetype == "audio/ogg" else "audio"
        case "sticker":
            return "sticker" if file.mimetype in _STICKER_TYPES else "photo"
        case "file":
            return "document"
        case _:
            return file.kind


async def _send_as(
    bot: Bot,
    chat: int,
    method: str,
    file: OutgoingFile,
    caption: str | None,
    reply: ReplyParameters | None,
    thread: RemoteMessageID | None,
) -> Message:
    upload = InputFile(file.data, filename=file.file_name)
    seconds = round(file.duration_ms / 1000) if file.duration_ms else None
    common: dict[str, Any] = {"reply_parameters": reply, "message_thread_id": thread_param(thread)}
    if caption is not None:
        common |= {"caption": caption, "parse_mode": ParseMode.HTML}
    match method:
        case "photo":
            return await bot.send_photo(chat, upload, **common)
        case "video":
            return await bot.send_video(
                chat, upload, duration=seconds, width=file.width, height=file.height, **common
            )
        case "audio":
            return await bot.send_audio(chat, upload, duration=seconds, **common)
        case "voice":
            return await bot.send_voice(chat, upload, duration=seconds, **common)
        case "sticker":
            return await bot.send_sticker(
                chat, upload, reply_parameters=reply, message_thread_id=thread_param(thread)
            )
        case _:
            return await bot.send_document(chat, upload, **common)
