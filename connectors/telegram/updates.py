"""Telegram updates as the core's remote events (each with the key that deduplicates it)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from telegram import (
    ChatMemberUpdated,
    Message,
    MessageReactionUpdated,
    ReactionType,
    ReactionTypeEmoji,
    ReactionTypePaid,
    Update,
)

from bridge.formatting import MatrixPill
from bridge.network.events import (
    AvatarRef,
    MessageContent,
    RemoteChatMigrate,
    RemoteChatUpdate,
    RemoteEdit,
    RemoteEvent,
    RemoteMembership,
    RemoteMessage,
    RemoteReaction,
    RemoteUser,
)
from bridge.network.ids import RemoteMessageID
from bridge.network.interface import BridgeContext

from . import ids
from .formatting import telegram_to_matrix
from .formatting.ptb import entities_from_ptb
from .lookup import Sightings
from .media import media_of
from .people import People, is_present
from .shared import shared_content, with_forward_header

log = logging.getLogger("connectors.telegram.updates")

# What a message the bridge does not carry is, for the notice that stands in for it.
_KINDS = ("story", "game", "invoice", "paid_media", "giveaway", "checklist")


class UpdateTranslator:
    def __init__(
        self,
        people: People,
        bridge: BridgeContext,
        bot_id: int,
        sightings: Sightings,
        animated_stickers: bool = True,
    ) -> None:
        self._people = people
        self._bridge = bridge
        self._bot_id = bot_id
        self._sightings = sightings
        self._animated_stickers = animated_stickers

    def note(self, update: Update) -> None:
        """Remember the ids of others' messages (a look-up for the bot's own skips them).
        Only where the sender is known not to be the bot: a channel post carries no sender,
        and may be the bot's own."""
        for message in (update.message, update.edited_message):
            sender = message.from_user if message is not None else None
            if message is not None and sender is not None and sender.id != self._bot_id:
                self._sightings.add(message.chat.id, message.message_id)

    async def events(self, update: Update) -> list[RemoteEvent]:
        if update.message is not None:
            return await self._message(update.message)
        if update.business_message is not None:
            return await self._message(update.business_message)
        if update.channel_post is not None:
            return await self._message(update.channel_post)
        if update.message_reaction is not None:
            return await self._reaction(update.message_reaction, update.update_id)
        edited = (
            update.edited_message or update.edited_channel_post or update.edited_business_message
        )
        if edited is not None:
            return await self._edit(edited, update.update_id)
        if update.chat_member is not None:
            return await self._chat_member(update.chat_member)
        if update.my_chat_member is not None:
            change = update.my_chat_member
            log.info(
                "The bot is now %s in %s (%s)",
                change.new_chat_member.status,
                change.chat.id,
                change.chat.title,
            )
        return []

    async def sender(self, message: Message) -> RemoteUser:
        if message.sender_chat is not None:
            return self._people.chat_as_user(message.sender_chat, message.author_signature)
        if message.from_user is not None:
            return self._people.user(message.from_user)
        return self._people.chat_as_user(message.chat, message.author_signature)

    async def _message(self, message: Message) -> list[RemoteEvent]:
        portal = ids.portal_key(message.chat.id)
        if message.migrate_to_chat_id is not None:
            return [RemoteChatMigrate(portal, ids.portal_key(message.migrate_to_chat_id).chat_id)]
        if message.migrate_from_chat_id is not None:
            old = ids.portal_key(message.migrate_from_chat_id)
            return [RemoteChatMigrate(old, portal.chat_id)]
        sender = await self.sender(message)
        if message.new_chat_members:
            return [
                RemoteMembership(portal, self._people.user(user), "join")
                for user in message.new_chat_members
                if user.id != self._bot_id
            ]
        if message.left_chat_member is not None:
            if message.left_chat_member.id == self._bot_id:
                return []
            left = self._people.user(message.left_chat_member)
            return [RemoteMembership(portal, left, "leave", by=sender)]
        if message.new_chat_title is not None:
            return [RemoteChatUpdate(portal, sender, name=message.new_chat_title)]
        if message.new_chat_photo:
            largest = message.new_chat_photo[-1]
            avatar = AvatarRef(largest.file_unique_id, largest.file_id)
            return [RemoteChatUpdate(portal, sender, avatar=avatar)]
        if message.delete_chat_photo:
            return [RemoteChatUpdate(portal, sender, avatar=AvatarRef(""))]
        content = self._content(message)
        if content is None:
            return []
        thread = _topic_of(message)
        reply_to = _reply_to(message)
        return [
            RemoteMessage(
                portal=portal,
                message_id=ids.message_id(message.message_id),
                sender=sender,
                parts=(content,),
                timestamp=message.date.astimezone(UTC) if message.date else datetime.now(UTC),
                # In a topic, Telegram makes a message that answers nothing else a reply to the
                # topic's first message: that is the thread, not a reply.
                reply_to=None if reply_to == thread else reply_to,
                thread_id=thread,
            )
        ]

    async def _reaction(self, change: MessageReactionUpdated, update_id: int) -> list[RemoteEvent]:
        """Who changed their reactions, and how. Telegram sends this only to an admin bot that
        asks for it, and never for anonymous counts (message_reaction_count), which have no
        sender to show them as: those are not bridged."""
        if change.user is not None:
            sender = self._people.user(change.user)
        elif change.actor_chat is not None:
            sender = self._people.chat_as_user(change.actor_chat, None)
        else:
            return []
        old = {key for key in map(reaction_key, change.old_reaction) if key}
        new = [key for key in map(reaction_key, change.new_reaction) if key]
        added = tuple(key for key in new if key not in old)
        removed = tuple(key for key in old if key not in new)
        if not added and not removed:
            return []
        return [
            RemoteReaction(
                portal=ids.portal_key(change.chat.id),
                message_id=ids.message_id(change.message_id),
                sender=sender,
                added=added,
                removed=removed,
                reaction_id=str(update_id),
                timestamp=change.date.astimezone(UTC),
            )
        ]

    async def _edit(self, message: Message, update_id: int) -> list[RemoteEvent]:
        content = self._content(message)
        if content is None:
            return []
        when = message.edit_date or message.date
        return [
            RemoteEdit(
                portal=ids.portal_key(message.chat.id),
                message_id=ids.message_id(message.message_id),
                sender=await self.sender(message),
                parts=(content,),
                edit_id=str(update_id),
                timestamp=when.astimezone(UTC) if when else datetime.now(UTC),
            )
        ]

    def _content(self, message: Message) -> MessageContent | None:
        return with_forward_header(message, self._own_content(message))

    def _own_content(self, message: Message) -> MessageContent | None:
        text = message.text if message.text is not None else message.caption
        entities = message.entities if message.text is not None else message.caption_entities
        media = media_of(message, self._animated_stickers)
        if text is not None:
            known = {e.user.id: e.user.full_name for e in entities if e.user is not None}
            formatted = telegram_to_matrix(text, entities_from_ptb(entities), self._mentions(known))
            return MessageContent(formatted.body, formatted.html, media=media)
        if media is not None:
            # A sticker is shown by its emoji where it cannot be shown itself.
            emoji = message.sticker.emoji if message.sticker is not None else None
            return MessageContent(emoji or "", media=media)
        shared = shared_content(message)
        if shared is not None:
            return shared
        kind = next((kind for kind in _KINDS if getattr(message, kind, None)), None)
        if kind is None:
            return None  # a service message the bridge does not show (pins, boosts, ...)
        readable = kind.replace("_", " ")
        return MessageContent(f"Sent a {readable} (not bridged yet)", msgtype="m.notice")

    def _mentions(self, known: dict[int, str]) -> MentionLookup:
        return MentionLookup(self._bridge, self._people, known)

    async def _chat_member(self, change: ChatMemberUpdated) -> list[RemoteEvent]:
        was = is_present(change.old_chat_member)
        now = is_present(change.new_chat_member)
        user = change.new_chat_member.user
        if was == now or user.id == self._bot_id:
            return []
        portal = ids.portal_key(change.chat.id)
        remote = self._people.user(user)
        if now:
            return [RemoteMembership(portal, remote, "join")]
        by = self._people.user(change.from_user) if change.from_user.id != user.id else None
        return [RemoteMembership(portal, remote, "leave", by=by)]


class MentionLookup:
    """Resolves mentions to ghost pills: text mentions by id, @mentions by known usernames."""

    def __init__(self, bridge: BridgeContext, people: People, known: dict[int, str]) -> None:
        self._bridge = bridge
        self._people = people
        self._known = known

    def __call__(self, target: int | str) -> MatrixPill | None:
        if isinstance(target, int):
            name = self._known.get(target, str(target))
            return MatrixPill(self._bridge.ghost_user_id(ids.user_id(target)), name)
        found = self._people.usernames.get(target.lower())
        if found is None:
            return None
        user_id, name = found
        return MatrixPill(self._bridge.ghost_user_id(ids.user_id(user_id)), name)


def _reply_to(message: Message) -> RemoteMessageID | None:
    replied = message.reply_to_message
    if replied is None or replied.chat.id != message.chat.id:
        return None
    # In forum supergroups every message "replies" to its topic's first message; that is no reply.
    if message.is_topic_message and replied.message_id == message.message_thread_id:
        return None
    return ids.message_id(replied.message_id)


def reaction_key(reaction: ReactionType) -> str | None:
    """A reaction as Matrix shows it: its emoji (a paid reaction as a star). A custom emoji
    has no form Matrix clients can show: None (not bridged)."""
    if isinstance(reaction, ReactionTypeEmoji):
        return reaction.emoji
    if isinstance(reaction, ReactionTypePaid):
        return "⭐"
    return None


def _topic_of(message: Message) -> RemoteMessageID | None:
    """The topic of a forum message (the id of the message that started it); None outside
    topics, in the General topic, and for the message that starts one."""
    thread = message.message_thread_id
    if not message.is_topic_message or thread is None or thread == message.message_id:
        return None
    return ids.message_id(thread)
