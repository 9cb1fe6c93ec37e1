"""Commands Telegram users send the bot: /bridge in a group or channel, /start in private (with
a login token: login.py), and presses of the bot's buttons."""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Awaitable, Callable

from telegram import (
    Bot,
    Chat,
    ChatMember,
    Message,
    MessageEntity,
    ReplyParameters,
    Update,
    User,
)
from telegram.constants import ParseMode
from telegram.error import TelegramError

from bridge.network.events import ChatInfo, RemoteChatCreate
from bridge.network.ids import PortalKey, RemoteUserID
from bridge.network.interface import BridgeContext, ChatUnavailable

from . import ids
from .answers import answer, answer_press
from .login import LoginConsent
from .people import People

log = logging.getLogger("connectors.telegram.commands")

_ADMINS = (ChatMember.ADMINISTRATOR, ChatMember.OWNER)
_SENT_AS_ANOTHER_CHAT = (
    "Only administrators of this chat can bridge it, and a message sent on behalf of another "
    "chat does not show who wrote it. Send /bridge as yourself (or as this group, if you are "
    "an anonymous administrator)."
)
# What Telegram lets a deep link's start parameter be.
_START_PARAMETER = re.compile(r"[A-Za-z0-9_-]{1,64}")


class BotCommands:
    def __init__(
        self,
        bot: Bot,
        me: User,
        bridge: BridgeContext,
        people: People,
        chat_info: Callable[[PortalKey], Awaitable[ChatInfo]],
    ) -> None:
        self._bot = bot
        self._me = me
        self._bridge = bridge
        self._people = people
        self._chat_info = chat_info
        self._login = LoginConsent(bot, bridge, people)

    def may_handle(self, update: Update) -> bool:
        """Whether ``handle`` may take this update as a command (it starts with one, or is a
        press of one of the bot's buttons)."""
        if update.callback_query is not None:
            return True
        message = update.message or update.channel_post
        return message is not None and self._command(message) is not None

    async def handle(self, update: Update) -> bool:
        """Run the update as a command to the bot; False if it is none."""
        query = update.callback_query
        if query is not None:
            if self._login.is_answer(query):
                await self._login.answered(query)
            else:
                # A button the bridge does not use now (a look-up's probe caught mid-way): the
                # press still gets its answer, so the client stops waiting.
                await answer_press(self._bot, query)
            return True
        message = update.message or update.channel_post
        if message is None:
            return False
        command = self._command(message)
        if command is None:
            return False
        if command == "bridge":
            await self._bridge_chat(update.update_id, message)
            return True
        if command == "start" and message.chat.type == Chat.PRIVATE:
            payload = (message.text or "").split(maxsplit=1)[1:]
            if payload and _START_PARAMETER.fullmatch(payload[0].strip()):
                await self._login.opened(message, payload[0].strip())
                return True
        if command in ("start", "help") and message.chat.type == Chat.PRIVATE:
            text = (
                "I bridge Telegram groups and channels to Matrix rooms. Add me to a group (or "
                "as an admin to a channel) and send /bridge there."
            )
            sender = message.from_user
            linked = self._bridge.linked_user(ids.user_id(sender.id)) if sender else None
            if linked is not None:
                text += f" Your Telegram account is linked to the Matrix user {linked}."
            await self._reply(message, text)
            return True
        return False

    def _command(self, message: Message) -> str | None:
        """The command a message starts with, if it is addressed to this bot (or to any bot)."""
        text = message.text
        if not text or not text.startswith("/"):
            return None
        first = message.entities[0] if message.entities else None
        if first is not None and first.type == MessageEntity.BOT_COMMAND and first.offset == 0:
            word = text[1 : first.length]
        else:
            word = text[1:].split(maxsplit=1)[0] if len(text) > 1 else ""
        name, _, addressee = word.partition("@")
        if addressee and addressee.lower() != (self._me.username or "").lower():
            return None
        return name.lower()

    async def _bridge_chat(self, update_id: int, message: Message) -> None:
        chat = message.chat
        if chat.type == Chat.PRIVATE:
            await self._reply(message, "Send /bridge in the group or channel you want bridged.")
            return
        if not self._bridge.config.bridge.public_portals:
            await self._reply(
                message,
                "Bridging from Telegram is turned off on this bridge. A bridge admin can bridge "
                f"this chat from Matrix with the command: bridge {chat.id}",
            )
            return
        requester = None
        sender_chat = message.sender_chat
        if sender_chat is not None and sender_chat.id != chat.id:
            # On behalf of another chat (a member's channel, a linked channel's forward): it
            # administers nothing here, and hides who wrote.
            await self._reply(message, _SENT_AS_ANOTHER_CHAT)
            return
        if sender_chat is None:
            if message.from_user is None or not await self._is_admin(chat.id, message.from_user.id):
                await self._reply(message, "Only administrators of this chat can bridge it.")
                return
            requester = self._people.user(message.from_user)
        # Else written as the chat itself: a channel's post (only its admins post) or a group's
        # anonymous admin, who is one.
        portal = ids.portal_key(chat.id)
        try:
            info = await self._chat_info(portal)
        except ChatUnavailable as reason:
            await self._reply(message, f"Cannot bridge this chat: {reason}")
            return
        request = RemoteChatCreate(
            portal, info, requested_by=requester, request_id=ids.message_id(message.message_id)
        )
        await self._bridge.submit(request, ids.update_key(update_id))

    async def administers(self, portal: PortalKey, user: RemoteUserID) -> bool:
        try:
            chat_id, user_id = ids.chat_id_of(portal), int(user)
        except ValueError:
            return False  # not a Telegram chat (a chat id a Matrix user typed)
        return await self._is_admin(chat_id, user_id)

    async def _is_admin(self, chat_id: int, user_id: int) -> bool:
        try:
            member = await self._bot.get_chat_member(chat_id, user_id)
        except TelegramError as error:
            log.warning("Could not check whether %d administers %d: %s", user_id, chat_id, error)
            return False
        return member.status in _ADMINS

    async def answer_bridged(
        self, portal: PortalKey, alias: str | None, request: RemoteChatCreate
    ) -> None:
        where = f"<code>{html.escape(alias)}</code>" if alias else "a Matrix room"
        text = f"This chat is bridged to Matrix: join {where} to talk with it."
        reply = None
        if request.request_id is not None:
            reply = ReplyParameters(int(request.request_id), allow_sending_without_reply=True)
        try:
            await self._bot.send_message(
                ids.chat_id_of(portal), text, parse_mode=ParseMode.HTML, reply_parameters=reply
            )
        except TelegramError as error:
            log.warning("Could not tell chat %s it is bridged: %s", portal.chat_id, error)

    async def _reply(self, message: Message, text: str) -> None:
        await answer(self._bot, message, text)
