"""Private chats with the bot, as direct chats of Matrix users.

A Matrix user's direct chat with a Telegram user is a portal of the bot's private chat with
that user, held for the Matrix user (its key's receiver). Several Matrix users may write to
the same Telegram user: what the Telegram user sends goes to the one whose message it replies
to, else to the most recent conversation, and they are told how to choose. Someone who writes
to the bot with no conversation gets a short answer, and nothing is stored.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence

from telegram import Bot, Chat, Message, Update

from bridge.lru import BoundedDict
from bridge.network.events import RemoteEvent
from bridge.network.ids import PortalKey, RemoteChatID
from bridge.network.interface import BridgeContext

from . import ids
from .answers import answer

log = logging.getLogger("connectors.telegram.direct")

NOBODY = (
    "Hi! I connect Telegram with Matrix. Nobody on Matrix has a conversation with you through "
    "me, so I cannot pass your message on."
)
MAX_HINTED = 10_000


class DirectChats:
    def __init__(self, bot: Bot, bridge: BridgeContext) -> None:
        self._bot = bot
        self._bridge = bridge
        # The Matrix user each Telegram user was last told their messages go to.
        self._hinted: BoundedDict[int, str] = BoundedDict(MAX_HINTED)

    @staticmethod
    def is_direct(update: Update) -> bool:
        chat = update.effective_chat
        # Business chats are private too, but belong to the business account's owner.
        business = (
            update.business_message
            or update.edited_business_message
            or update.deleted_business_messages
        )
        return chat is not None and chat.type == Chat.PRIVATE and business is None

    async def route(self, update: Update, events: Sequence[RemoteEvent]) -> list[RemoteEvent]:
        """The update's events, each for the direct chat portal of the Matrix user it is for;
        none when it is for nobody."""
        chat = update.effective_chat
        assert chat is not None
        chat_id = RemoteChatID(str(chat.id))
        receivers = await self._bridge.direct_receivers(chat_id)
        if not receivers:
            if update.message is not None:
                await self._answer(update.message, NOBODY)
            return []
        about = _message_about(update)
        target = None
        if about is not None:
            target = await self._bridge.receiver_of(chat_id, ids.message_id(about))
        if target is None:
            target = receivers[0]
            if len(receivers) > 1 and update.message is not None:
                await self._hint(update.message, target)
        key = PortalKey(chat_id, target)
        return [
            dataclasses.replace(event, portal=key) if event.portal.chat_id == chat_id else event
            for event in events
        ]

    async def _hint(self, message: Message, target: str) -> None:
        if self._hinted.touch(message.chat.id) == target:
            return
        self._hinted[message.chat.id] = target
        await self._answer(
            message,
            f"This went to {target}, the Matrix user you talked with most recently. Several "
            "Matrix users write to you through me: reply to a message to answer its sender.",
        )

    async def _answer(self, message: Message, text: str) -> None:
        await answer(self._bot, message, text)


def _message_about(update: Update) -> int | None:
    """The bridged message an update is about: the one a new message replies to, the one an
    edit or a reaction changes."""
    if update.message is not None:
        reply = update.message.reply_to_message
        return reply.message_id if reply is not None else None
    if update.edited_message is not None:
        return update.edited_message.message_id
    if update.message_reaction is not None:
        return update.message_reaction.message_id
    return None
