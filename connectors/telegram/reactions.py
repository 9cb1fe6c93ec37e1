"""Reactions a bot may set: one per message, from Telegram's fixed list of emoji."""

from __future__ import annotations

from telegram import Bot, ReactionTypeEmoji
from telegram.constants import ReactionEmoji

from bridge.network.ids import PortalKey, RemoteMessageID

from . import ids
from .calls import telegram_call
from .pacing import Pacer

# Matrix clients send emoji with the variation selector that asks for colour (❤️); the Bot
# API's list has them without (❤), as the reactions a bot may set.
_VARIATION_SELECTOR = "\ufe0f"
ALLOWED = frozenset(emoji.value.replace(_VARIATION_SELECTOR, "") for emoji in ReactionEmoji)


def telegram_reaction(key: str) -> str | None:
    """Telegram's form of a Matrix reaction key; None if a bot cannot react with it."""
    emoji = key.replace(_VARIATION_SELECTOR, "")
    return emoji if emoji in ALLOWED else None


async def set_reaction(
    bot: Bot, pacer: Pacer, portal: PortalKey, message_id: RemoteMessageID, emoji: str | None
) -> None:
    reaction = [ReactionTypeEmoji(emoji)] if emoji is not None else []

    async def react(chat: int) -> None:
        await bot.set_message_reaction(chat, int(message_id), reaction)

    await telegram_call(pacer, ids.chat_id_of(portal), react)
