"""Matrix messages and room changes carried to Telegram, with Telegram's refusals told in words
the Matrix user understands and its passing troubles marked as such."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

import aiohttp
from telegram import Bot, InputFile, Message, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter

from bridge.network.ids import PortalKey, RemoteMessageID
from bridge.network.interface import DeliveryError, TemporaryFailure
from bridge.network.outgoing import (
    MatrixEdit,
    MatrixMessage,
    OutgoingFile,
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
    utf16_len,
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
    if message.geo is not None:
        async for step in send_location(
            bot, pacer, chat_id, message, message.geo, pills, progress, finder
        ):
            yield step
        return
    if message.file is not None:
        async for step in send_file(
            bot, pacer, chat_id, message, message.file, pills, progress, finder
        ):
            yield step
        return
    for index, chunk in enumerate(_chunks(message, pills)):
        part_id = str(index)
        if part_id in progress.already_sent:
            continue
        reply = message.reply_to if index == 0 else None
        async for step in _send_part(
            bot, pacer, chat_id, chunk, part_id, reply, progress, finder, message.event_id,
            message.thread_id,
        ):  # fmt: skip
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
    sent, and parts it no longer needs deleted. A file's new caption is edited on the file."""
    chat_id = ids.chat_id_of(portal)
    if edit.caption:
        yield await _edit_caption(bot, pacer, chat_id, edit, pills)
        return
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
            await _made(bot.edit_message_text(text, chat, message_id, parse_mode=ParseMode.HTML))

        await telegram_call(pacer, chat_id, change)
        yield SentMessage(remote_id, part_id)
    for part_id, remote_id in edit.parts[len(chunks) :]:
        try:
            await delete_messages(bot, pacer, portal, [remote_id])
        except DeliveryError:
            # Too old to delete (Telegram allows a bot 48 hours), but a bot may still edit
            # its own messages: the part says it is gone instead.
            await _blank_out(bot, pacer, chat_id, remote_id)
        yield PartRemoved(part_id)


REMOVED_PART = "(removed in an edit)"


async def _made(edit: Awaitable[object]) -> None:
    """Await an edit; one Telegram finds already made ("message is not modified": an edit
    interrupted midway and made again) is done."""
    try:
        await edit
    except BadRequest as error:
        if "message is not modified" not in error.message.lower():
            raise


async def _blank_out(bot: Bot, pacer: Pacer, chat_id: int, remote_id: RemoteMessageID) -> None:
    async def change(chat: int) -> None:
        await _made(bot.edit_message_text(REMOVED_PART, chat, int(remote_id)))

    await telegram_call(pacer, chat_id, change)


async def delete_messages(
    bot: Bot, pacer: Pacer, portal: PortalKey, message_ids: Sequence[RemoteMessageID]
) -> None:
    """Delete the bot's messages; one already gone counts as deleted."""
    chat_id = ids.chat_id_of(portal)
    for remote_id in message_ids:

        async def remove(chat: int, message_id: int = int(remote_id)) -> None:
            try:
                await bot.delete_message(chat, message_id)
            except BadRequest as error:
                if "message to delete not found" not in error.message.lower():
                    raise

        await telegram_call(pacer, chat_id, remove)


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
        async for step in _send_part(
            bot, pacer, chat_id, chunk, part_id, None, progress, finder, message.event_id,
            message.thread_id,
        ):  # fmt: skip
            yield step


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
                    message_thread_id=_thread(message.thread_id),
                )

            yield SendingPart("0")
            result = await telegram_call(pacer, chat_id, send, paced=True)
            yield SentMessage(ids.message_id(result.message_id), "0")
    name = matrix_to_telegram_text(message.body, message.html, pills)
    if name.text.strip() and "1" not in progress.already_sent:
        async for step in _send_part(
            bot, pacer, chat_id, name, "1", None, progress, finder, message.event_id,
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
    common: dict[str, Any] = {"reply_parameters": reply, "message_thread_id": _thread(thread)}
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
                chat, upload, reply_parameters=reply, message_thread_id=_thread(thread)
            )
        case _:
            return await bot.send_document(chat, upload, **common)


async def _edit_caption(
    bot: Bot, pacer: Pacer, chat_id: int, edit: MatrixEdit, pills: PillResolver
) -> SentMessage:
    first = dict(edit.parts).get("0")
    if first is None:
        raise DeliveryError("its Telegram message is not known")
    caption = matrix_to_telegram_text(edit.message.body, edit.message.html, pills)
    if utf16_len(caption.text) > CAPTION_LIMIT:
        raise DeliveryError(
            f"Telegram takes captions of at most {CAPTION_LIMIT} characters beside a file"
        )
    html = render_telegram_html(caption) if caption.text.strip() else None

    async def change(chat: int) -> None:
        parse_mode = ParseMode.HTML if html else None
        await _made(bot.edit_message_caption(chat, int(first), caption=html, parse_mode=parse_mode))

    await telegram_call(pacer, chat_id, change)
    return SentMessage(first, "0")


def _thread(thread: RemoteMessageID | None) -> int | None:
    return int(thread) if thread is not None else None


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
            message_thread_id=_thread(thread),
        )

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
        if "message can't be deleted" in text:
            raise DeliveryError(
                "Telegram lets a bot delete its messages only within 48 hours of sending them"
            ) from None
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
