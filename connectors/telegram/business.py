"""Telegram Business: a Telegram Premium user connects the bridge's bot to their account, and
their own private chats are bridged to Matrix, as themselves on both sides.

Each business chat is a portal keyed by the contact's chat and ``business:<connection id>``,
its room held for the Matrix user linked to the business account (``login``). What the owner
sends from Matrix goes out as them (``business_connection_id`` on every call, through
``BusinessBot``); what they send from Telegram comes back as their Matrix account when
double puppeting works. Connections (and their rights) are stored, so they outlive a restart.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from telegram import Bot, BusinessConnection, Message, Update
from telegram.error import TelegramError

from bridge.network.events import ChatInfo, RemoteChatCreate, RemoteDeletion, RemoteEvent
from bridge.network.ids import PortalKey, RemoteChatID, RemoteMessageID
from bridge.network.interface import BridgeContext, DeliveryError

from . import ids
from .people import full_name

log = logging.getLogger("connectors.telegram.business")

PREFIX = "business:"
STATE_KEY = "business_connections"
# Bot API methods that act for a business account when given its connection.
_ON_BEHALF = frozenset(
    {
        "send_message", "send_photo", "send_document", "send_video", "send_audio",
        "send_voice", "send_sticker", "send_location", "edit_message_text",
        "edit_message_caption", "send_chat_action",
    }
)  # fmt: skip


def connection_of(portal: PortalKey) -> str | None:
    """The business connection a portal belongs to, if it is a business chat."""
    receiver = portal.receiver
    return receiver.removeprefix(PREFIX) if receiver.startswith(PREFIX) else None


class BusinessBot:
    """The bot acting for one business account: the calls the sending code makes, each on
    behalf of the connection (deletions by deleteBusinessMessages)."""

    def __init__(self, bot: Bot, connection_id: str) -> None:
        self._bot = bot
        self._connection_id = connection_id

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._bot, name)
        if name in _ON_BEHALF:
            return functools.partial(attribute, business_connection_id=self._connection_id)
        return attribute

    async def delete_message(self, chat_id: int, message_id: int) -> bool:
        return await self._bot.delete_business_messages(self._connection_id, [message_id])

    async def set_message_reaction(self, *_args: Any, **_kwargs: Any) -> bool:
        raise DeliveryError("Telegram does not let a bot react for a business account")


@dataclass
class Connection:
    id: str
    owner: int
    rights: dict[str, bool]
    enabled: bool

    @classmethod
    def of(cls, connection: BusinessConnection) -> Connection:
        rights = connection.rights.to_dict() if connection.rights is not None else {}
        granted = {name: bool(value) for name, value in rights.items() if value is True}
        return cls(connection.id, connection.user.id, granted, connection.is_enabled)


class BusinessChats:
    def __init__(self, bot: Bot, bridge: BridgeContext) -> None:
        self._bot = bot
        self._bridge = bridge
        self._connections: dict[str, Connection] = {}

    async def load(self) -> None:
        stored = await self._bridge.load_state(STATE_KEY) or {}
        self._connections = {key: Connection(**value) for key, value in stored.items()}
        if self._connections:
            log.info("%d Telegram Business connections", len(self._connections))

    def bot_for(self, portal: PortalKey) -> Bot:
        """The bot as it acts in this portal's chat: for its business account, if any."""
        connection_id = connection_of(portal)
        if connection_id is None:
            return self._bot
        return cast(Bot, BusinessBot(self._bot, connection_id))

    def knows(self, connection_id: str) -> bool:
        """Whether Telegram told of this connection (enabled or not)."""
        return connection_id in self._connections

    def owner(self, connection_id: str) -> str | None:
        """The Matrix user linked to the business account of a connection."""
        connection = self._connections.get(connection_id)
        if connection is None:
            return None
        return self._bridge.linked_user(ids.user_id(connection.owner))

    def sends_as(self, portal: PortalKey, mxid: str) -> bool | None:
        connection_id = connection_of(portal)
        if connection_id is None:
            return None
        return self.owner(connection_id) == mxid

    @staticmethod
    def is_business(update: Update) -> bool:
        return any(
            value is not None
            for value in (
                update.business_connection,
                update.business_message,
                update.edited_business_message,
                update.deleted_business_messages,
            )
        )

    async def connection_changed(self, connection: BusinessConnection) -> None:
        before = self._connections.get(connection.id)
        now = Connection.of(connection)
        self._connections[connection.id] = now
        await self._bridge.save_state(
            STATE_KEY, {key: dataclasses.asdict(value) for key, value in self._connections.items()}
        )
        mxid = self.owner(connection.id)
        if mxid is None:
            await self._tell_owner(
                connection.user_chat_id,
                "To bridge your business chats, link your Telegram account first: send login "
                "to the bridge bot in Matrix and open the link it gives.",
            )
            return
        if not now.enabled:
            await self._bridge.tell_user(
                mxid,
                "Your Telegram Business account disconnected the bridge: your private chats "
                "there are no longer bridged.",
            )
        elif before is None or not before.enabled:
            missing = [
                right for right in ("can_reply", "can_read_messages") if not now.rights.get(right)
            ]
            text = (
                "Your Telegram Business account is connected: your private chats there come "
                "to Matrix as they are written."
            )
            if missing:
                text += f" The connection lacks {', '.join(missing)}: grant it in Telegram."
            await self._bridge.tell_user(mxid, text)

    async def route(
        self, update: Update, events: Sequence[RemoteEvent], bot_id: int
    ) -> list[RemoteEvent]:
        """A business update's events, for the portal of its chat (made for the owner's
        Matrix user on the first message); none when nobody is to get them."""
        message = update.business_message or update.edited_business_message
        deleted = update.deleted_business_messages
        if message is not None and _sent_by(message, bot_id):
            return []  # the bot's own send for the account, told back
        about = message or deleted
        if about is None:
            return []
        connection = self._connections.get(about.business_connection_id or "")
        if connection is None or not connection.enabled:
            log.info("Business update for an unknown or disabled connection; left out")
            return []
        mxid = self.owner(connection.id)
        if mxid is None:
            log.info("Business connection %s has no linked Matrix user; left out", connection.id)
            return []
        chat = about.chat
        key = PortalKey(RemoteChatID(str(chat.id)), PREFIX + connection.id)
        if deleted is not None:
            # Kept only where the chat has a portal (else nothing of it was bridged).
            return [
                RemoteDeletion(key, ids.message_id(message_id))
                for message_id in deleted.message_ids
            ]
        routed: list[RemoteEvent] = [dataclasses.replace(e, portal=key) for e in events]
        if update.business_message is not None and await self._bridge.portal_room_id(key) is None:
            # The room is made in the portal's lane, ahead of the message: stored with it, not
            # awaited here (the homeserver may be away; intake goes on for every chat).
            name = full_name(chat.first_name or "", chat.last_name) or str(chat.id)
            info = ChatInfo(name=name, is_direct=True)
            routed.insert(0, RemoteChatCreate(key, info, invite=(mxid,)))
        return routed

    async def mark_read(self, portal: PortalKey, reader: str, up_to: RemoteMessageID) -> None:
        connection_id = connection_of(portal)
        if connection_id is None or self.owner(connection_id) != reader:
            return  # Telegram shows no one else's reads
        await self._bot.read_business_message(connection_id, ids.chat_id_of(portal), int(up_to))

    async def _tell_owner(self, chat_id: int, text: str) -> None:
        try:
            await self._bot.send_message(chat_id, text)
        except TelegramError as error:
            log.warning("Could not tell the business account %d: %s", chat_id, error)


def _sent_by(message: Message, bot_id: int) -> bool:
    sender = message.sender_business_bot
    return sender is not None and sender.id == bot_id
