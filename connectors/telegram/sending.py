"""Matrix messages to Telegram: new ones (text, files, locations), edits part by part, and
deletions."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bridge.network.ids import PortalKey, RemoteMessageID
from bridge.network.interface import DeliveryError
from bridge.network.outgoing import (
    MatrixEdit,
    MatrixMessage,
    PartRemoved,
    SendingPart,
    SendProgress,
    SentMessage,
)

from . import ids
from .calls import made, telegram_call
from .file_sending import CAPTION_LIMIT, send_file
from .formatting import PillResolver, matrix_to_telegram_text, render_telegram_html, utf16_len
from .location_sending import send_location
from .lookup import MessageFinder
from .pacing import Pacer
from .text_parts import send_text_part, text_chunks


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
    for index, chunk in enumerate(text_chunks(message, pills)):
        part_id = str(index)
        if part_id in progress.already_sent:
            continue
        reply = message.reply_to if index == 0 else None
        async for step in send_text_part(
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
    chunks = text_chunks(edit.message, pills)
    parts = dict(edit.parts)
    for index, chunk in enumerate(chunks):
        part_id = str(index)
        remote_id = parts.get(part_id)
        if remote_id is None:
            async for step in send_text_part(
                bot, pacer, chat_id, chunk, part_id, None, progress, finder,
                edit.message.event_id, edit.message.thread_id,
            ):  # fmt: skip
                yield step
            continue

        async def change(
            chat: int, message_id: int = int(remote_id), text: str = render_telegram_html(chunk)
        ) -> None:
            await made(bot.edit_message_text(text, chat, message_id, parse_mode=ParseMode.HTML))

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


async def _blank_out(bot: Bot, pacer: Pacer, chat_id: int, remote_id: RemoteMessageID) -> None:
    async def change(chat: int) -> None:
        await made(bot.edit_message_text(REMOVED_PART, chat, int(remote_id)))

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
        await made(bot.edit_message_caption(chat, int(first), caption=html, parse_mode=parse_mode))

    await telegram_call(pacer, chat_id, change)
    return SentMessage(first, "0")
