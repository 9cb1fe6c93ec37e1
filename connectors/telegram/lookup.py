"""Finding a message the bridge may have sent before it crashed.

Telegram's sendMessage has no idempotency key, and the Bot API cannot read a chat's history.
What a bot can do is edit its own messages and nobody else's: adding a button to a message
answers with the message (text included) if it is the bot's, and refuses otherwise. So, from
the newest message the bridge knows, the next ids are tried in turn: another user's message is
refused, the bot's own message shows its text (the button is taken off again at once), and the
first ids that do not exist mark the end of the chat.
"""

from __future__ import annotations

import logging

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.error import BadRequest, TelegramError

from bridge.network.ids import RemoteMessageID
from bridge.network.outgoing import SendProgress

from .pacing import Pacer

log = logging.getLogger("connectors.telegram.lookup")

# How far past the newest known message to look, and how many missing ids end the chat (a
# deleted message leaves a gap too).
MAX_STEPS = 100
END_AFTER_MISSING = 3
_PROBE = InlineKeyboardMarkup([[InlineKeyboardButton("…", callback_data="bridge-lookup")]])


async def find_own_message(
    bot: Bot,
    pacer: Pacer,
    chat_id: int,
    text: str,
    after: RemoteMessageID | None,
    progress: SendProgress,
) -> int | None:
    """The id of the bot's message in ``chat_id`` showing ``text``, past message ``after``
    (the newest the bridge knew when it began sending); None if there is none, or nothing to
    start from."""
    if after is None or not after.isdigit():
        return None
    known = {int(remote_id) for remote_id in progress.known_messages if remote_id.isdigit()}
    wanted = text.strip()
    missing = 0
    start = int(after) + 1
    for message_id in range(start, start + MAX_STEPS):
        if message_id in known:
            continue
        try:
            await pacer.before_send(chat_id)
            shown = await bot.edit_message_reply_markup(chat_id, message_id, reply_markup=_PROBE)
        except BadRequest as error:
            if "not found" in error.message.lower():
                missing += 1
                if missing >= END_AFTER_MISSING:
                    return None
            continue  # another user's message, a service message, ...
        except TelegramError as error:
            log.warning("Looking for message %d in %d failed: %s", message_id, chat_id, error)
            return None
        missing = 0
        await _take_button_off(bot, chat_id, message_id)
        if isinstance(shown, Message) and (shown.text or "").strip() == wanted:
            return message_id
    return None


async def _take_button_off(bot: Bot, chat_id: int, message_id: int) -> None:
    try:
        await bot.edit_message_reply_markup(chat_id, message_id, reply_markup=None)
    except TelegramError as error:
        log.warning("Could not take the look-up button off message %d: %s", message_id, error)
