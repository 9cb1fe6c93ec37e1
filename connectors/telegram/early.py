"""Webhook mode: an update that comes before the one it refers to waits for it at Telegram.

Telegram posts a chat's reactions from a queue of their own, apart from the chat's messages,
and a business chat's messages apart from the business connection they belong to (the official
server's WebhookActor: see tests/fakes/telegram/webhook.py). One connection keeps them in
Telegram's order only while every post succeeds: a post that fails (a storage error, a restart
behind the admin's proxy) is tried again behind the other queues, so a reaction could come
before its message and be left out as a reaction to a message never bridged.

Telegram's message ids grow in each chat, so a reaction to an id above every one the bridge
knows in the chat is to a message still on its way. Its post is answered 503 with Retry-After:
Telegram then holds that queue alone (the chat's reactions) and posts it again later, while the
message's queue goes on. A reaction to an older id the bridge does not know (a message from
before the bot joined, one the bot may not see) is taken at once and left out, as ever. A
business update for a connection the bridge was not told of yet waits the same way.

Why at the door and not in the chat's lane (store the reaction, keep it aside until its message
is bridged): Telegram keeps the update meanwhile, also over a restart of the bridge; nothing
is stored before it can be handled in order, so the inbox, its keys and the lanes' replays stay
as they are. Polling needs none of this: getUpdates hands out updates in id order, and a
reaction's id is above its message's (but for one case neither mode covers: the official
server holds a new message back while it looks up the message it replies to or its sticker
set, and a reaction made in that moment gets the lower id).

Every hold has an end: a message the bot never gets (another bot's, in a group) would hold the
chat's reactions for good. After HOLD_LIMIT seconds of holding what one update waits for, it
and every later update that waits for the same are taken as they are (left out, as before).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from telegram import Update

from bridge.lru import BoundedDict
from bridge.network.ids import PortalKey
from bridge.network.interface import BridgeContext

from . import ids
from .business import connection_of
from .webhook import NotYet

log = logging.getLogger("connectors.telegram.early")

# How long what an update waits for is waited for at most (seconds): well past Telegram's
# longest pause between two posts of a failed update (60 to 120 s), so a message whose post
# failed while the bridge could take it has come by then.
HOLD_LIMIT = 300.0
# Telegram waits Retry-After seconds before the next post (it honours up to an hour): 1 s at
# first, doubled with each hold up to this.
MAX_RETRY_AFTER = 30
# The messages the bridge mapped last in a chat that are looked at for a reaction to an id above
# every one taken since the start (its own sends, what came before a restart).
RECENT = 200
# Chats whose newest message is remembered, and waits remembered (bounded memory).
CHATS = 10_000
WAITS = 10_000


@dataclass(frozen=True, slots=True)
class Awaited:
    """What an early update waits for: a message of a chat, or a business connection."""

    chat_id: int = 0
    message_id: int = 0
    connection: str = ""

    def __str__(self) -> str:
        if self.connection:
            return f"business connection {self.connection}"
        return f"message {self.message_id} of chat {self.chat_id}"


@dataclass
class _Hold:
    since: float
    times: int = 0


class EarlyUpdates:
    """Which updates came early, and how long Telegram is to keep each before posting it again."""

    def __init__(
        self,
        bridge: BridgeContext,
        knows_connection: Callable[[str], bool],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._bridge = bridge
        self._knows_connection = knows_connection
        self._clock = clock
        # The newest message id of each chat among the updates taken since the start.
        self._newest: BoundedDict[int, int] = BoundedDict(CHATS)
        # What updates wait for and since when; what they waited for in vain.
        self._holds: BoundedDict[Awaited, _Hold] = BoundedDict(WAITS)
        self._given_up: BoundedDict[Awaited, bool] = BoundedDict(WAITS)

    async def take(
        self, updates: Sequence[Update], store: Callable[[Sequence[Update]], Awaitable[None]]
    ) -> None:
        """Store the updates, unless one came before what it refers to: NotYet then."""
        for update in updates:
            retry_after = await self.retry_after(update)
            if retry_after is not None:
                raise NotYet(retry_after)
        await store(updates)
        for update in updates:
            self.taken(update)

    def taken(self, update: Update) -> None:
        """The update is stored: the bridge has the message it carries."""
        message = (
            update.message
            or update.edited_message
            or update.channel_post
            or update.edited_channel_post
        )
        if message is not None and message.message_id > self._newest.get(message.chat.id, 0):
            self._newest[message.chat.id] = message.message_id

    async def retry_after(self, update: Update) -> int | None:
        """Seconds for Telegram to wait before it posts the update again, if it came before
        what it refers to; None to take it now."""
        awaited = await self._awaited(update)
        if awaited is None or awaited in self._given_up:
            return None
        now = self._clock()
        hold = self._holds.get(awaited)
        if hold is None:
            hold = self._holds[awaited] = _Hold(now)
            log.info("Update %d came before %s; held at Telegram", update.update_id, awaited)
        if now - hold.since >= HOLD_LIMIT:
            del self._holds[awaited]
            self._given_up[awaited] = True
            log.warning(
                "Update %d waited %.0f s for %s, which has not come; taken as it is",
                update.update_id,
                now - hold.since,
                awaited,
            )
            return None
        hold.times += 1
        return min(MAX_RETRY_AFTER, 1 << min(hold.times - 1, 16))

    async def _awaited(self, update: Update) -> Awaited | None:
        """What the update refers to that the bridge has not got yet, if anything."""
        reaction = update.message_reaction
        if reaction is not None:
            chat_id, message_id = reaction.chat.id, reaction.message_id
            newest = self._newest.get(chat_id, 0)
            if message_id <= newest:
                return None
            # Newer than all the chat's messages taken since the start: the bridge may know it
            # all the same (its own sends, what came before a restart).
            mapped = await self._bridge.recent_messages(await self._portals(chat_id), RECENT)
            if mapped is None:
                return None  # no portal room: nothing of the chat is bridged
            newest = max([newest, *(int(i) for i in mapped if i.isdigit())])
            if newest == 0 or message_id <= newest:
                return None  # older than what the bridge knows, or nothing known to tell
            return Awaited(chat_id, message_id)
        about = (
            update.business_message
            or update.edited_business_message
            or update.deleted_business_messages
        )
        connection = about.business_connection_id if about is not None else None
        if connection and not self._knows_connection(connection):
            return Awaited(connection=connection)
        return None

    async def _portals(self, chat_id: int) -> list[PortalKey]:
        """The portals of the bot's own chat: a group's, or the direct chats of a private
        chat (a business chat with the same contact has its id, not its messages)."""
        key = ids.portal_key(chat_id)
        direct = [
            PortalKey(key.chat_id, receiver)
            for receiver in await self._bridge.direct_receivers(key.chat_id)
        ]
        return [key, *(portal for portal in direct if connection_of(portal) is None)]
