"""Things that happen on Telegram's side, turned into updates for the bot.

Each helper changes the world as Telegram would and queues the update(s) the bot would receive:
nothing for chats the bot is not in, group messages hidden by privacy mode, chat_member and
message_reaction updates only where the bot is an administrator, and only update types allowed
(by allowed_updates) at the moment of creation. Helpers return the message or update dict they
created even when the bot does not receive it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from .callbacks import button_data, chat_instance
from .formatting import fix_text
from .html_parser import parse_telegram_html
from .messages import is_service, new_message, reply_snapshot, resolve_mentions, set_text
from .objects import (
    business_connection_object,
    chat_member_object,
    chat_object,
    photo_object,
    user_object,
)
from .state import BusinessConnection, FakeChat, FakeUser, Member
from .updates import UpdateQueue
from .world import World

_COMMAND_RE = re.compile(r"^/[A-Za-z0-9_]{1,64}(?:@([A-Za-z0-9_]{3,32}))?(?![A-Za-z0-9_])")
# What t.me/<bot>?start=<payload> carries: up to 64 of these characters.
_START_PAYLOAD_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")


class Simulation(World):
    """The world plus the bot's update queue and the helpers that inject events."""

    updates: UpdateQueue

    # -- delivery rules --------------------------------------------------------------------------

    def bot_sees(self, chat: FakeChat, message: dict[str, Any]) -> bool:
        """Whether Telegram delivers a new message in this chat to the bot (privacy mode)."""
        bot = chat.member(self.bot.id)
        if chat.type == "private":
            return not chat.user or not chat.user.blocked_bot
        if not bot.present:
            return False
        if chat.type == "channel" or is_service(message):
            return True
        sender = self.users.get(message.get("from", {}).get("id", 0))
        if sender is not None and sender.is_bot:
            return False  # bots never see other bots' messages in groups
        if self.can_read_all_group_messages or bot.is_admin:
            return True
        replied = message.get("reply_to_message", {})
        if replied.get("from", {}).get("id") == self.bot.id:
            return True
        text = message.get("text", message.get("caption", ""))
        command = _COMMAND_RE.match(text)
        if command and command.group(1) in (None, self.bot.username):
            return True
        return f"@{self.bot.username}".lower() in text.lower()

    def _deliver_message(
        self, chat: FakeChat, message: dict[str, Any], edited: bool = False
    ) -> None:
        if not self.bot_sees(chat, message):
            return
        kind = "channel_post" if chat.type == "channel" else "message"
        self.updates.push(f"edited_{kind}" if edited else kind, message)

    def _require_member(self, chat: FakeChat, user: FakeUser) -> None:
        if chat.type != "private" and not chat.member(user.id).present:
            raise ValueError(f"user {user.id} is not a member of chat {chat.id}")

    # -- messages --------------------------------------------------------------------------------

    def inject_message(
        self,
        chat: FakeChat,
        sender: FakeUser | None,
        *,
        reply_to: int | None = None,
        thread_id: int | None = None,
        author_signature: str | None = None,
        on_behalf_of: FakeChat | None = None,
        **content: Any,
    ) -> dict[str, Any]:
        """A new message with the given content fields (text, photo, sticker, ...); in a group,
        ``on_behalf_of`` the group itself (an anonymous admin) or a channel (see _send_as)."""
        if sender is not None:
            self._require_member(chat, sender)
        if on_behalf_of is not None:
            author_signature = self._send_as(chat, sender, on_behalf_of)
        message = new_message(
            self,
            chat,
            sender,
            thread_id=thread_id,
            author_signature=author_signature,
            on_behalf_of=on_behalf_of,
        )
        if reply_to is None and thread_id is not None and thread_id in chat.messages:
            # As Telegram does: a topic's message that answers nothing else "replies" to the
            # message that created the topic.
            reply_to = thread_id
        if reply_to is not None:
            message["reply_to_message"] = reply_snapshot(chat.messages[reply_to])
        message.update(content)
        self._deliver_message(chat, message)
        return message

    def _send_as(self, chat: FakeChat, sender: FakeUser | None, as_chat: FakeChat) -> str | None:
        """Who may write in a group on behalf of a chat, and the signature it shows: the group
        itself only for its administrators who are anonymous (signed with their custom title);
        a channel ("send as", supergroups only) only for the channel's owner and
        administrators. Modelled from Telegram's apps; the Bot API shows only the result."""
        if chat.type not in ("group", "supergroup") or sender is None:
            raise ValueError("only a member of a group writes on behalf of a chat")
        if as_chat is chat:
            member = chat.member(sender.id)
            if not (member.is_admin and member.is_anonymous):
                raise ValueError("only anonymous administrators write as the group")
            return member.custom_title
        if as_chat.type != "channel" or chat.type != "supergroup":
            raise ValueError("a member may write as one of their channels in supergroups only")
        if not as_chat.member(sender.id).is_admin:
            raise ValueError(f"user {sender.id} does not administer channel {as_chat.id}")
        return None

    def inject_topic(self, chat: FakeChat, creator: FakeUser, name: str) -> int:
        """A user opens a topic in a forum: the service message that starts it (its id is the
        topic's message_thread_id); returns that id."""
        if not chat.is_forum:
            raise ValueError("only forum supergroups have topics")
        self._require_member(chat, creator)
        message = new_message(self, chat, creator)
        thread_id = int(message["message_id"])
        chat.topics[thread_id] = name
        message["message_thread_id"] = thread_id
        message["is_topic_message"] = True
        message["forum_topic_created"] = {"name": name, "icon_color": 7322096}
        self._deliver_message(chat, message)
        return thread_id

    def inject_text(
        self,
        chat: FakeChat,
        sender: FakeUser | None,
        text: str | None = None,
        *,
        html: str | None = None,
        entities: list[dict[str, Any]] | None = None,
        reply_to: int | None = None,
        thread_id: int | None = None,
        on_behalf_of: FakeChat | None = None,
    ) -> dict[str, Any]:
        """A text message; give `html` to have the text and entities parsed from HTML."""
        return self.inject_message(
            chat,
            sender,
            reply_to=reply_to,
            thread_id=thread_id,
            on_behalf_of=on_behalf_of,
            **self._text_fields(text, html, entities),
        )

    def inject_start(self, user: FakeUser, payload: str | None = None) -> dict[str, Any]:
        """The user presses Start in the bot's private chat, maybe having opened the deep link
        https://t.me/<bot>?start=<payload>: a "/start [payload]" message whose bot_command entity
        covers /start. The private chat comes to exist. For a user who had blocked the bot the
        button is Restart, which unblocks it: a my_chat_member update (kicked -> member) first."""
        if user.is_bot:
            raise ValueError("bots can't start bots")
        if payload is not None and not _START_PAYLOAD_RE.fullmatch(payload):
            raise ValueError("a start payload is 1-64 characters of A-Z, a-z, 0-9, _ and -")
        chat = self.private_chat(user)
        if user.blocked_bot:
            user.blocked_bot = False
            self.member_changed(chat, self.bot, user, Member("kicked"), Member("member"))
        text = "/start" if payload is None else f"/start {payload}"
        command = {"type": "bot_command", "offset": 0, "length": len("/start")}
        return self.inject_text(chat, user, text, entities=[command])

    def inject_channel_post(
        self,
        chat: FakeChat,
        text: str | None = None,
        *,
        html: str | None = None,
        entities: list[dict[str, Any]] | None = None,
        author_signature: str | None = None,
    ) -> dict[str, Any]:
        return self.inject_message(
            chat, None, author_signature=author_signature, **self._text_fields(text, html, entities)
        )

    def inject_photo(
        self, chat: FakeChat, sender: FakeUser | None, data: bytes, caption: str | None = None
    ) -> dict[str, Any]:
        content: dict[str, Any] = {"photo": photo_object(self.store_photo(data))}
        if caption:
            content.update(self._text_fields(caption, None, None, caption=True))
        return self.inject_message(chat, sender, **content)

    def inject_document(
        self,
        chat: FakeChat,
        sender: FakeUser | None,
        data: bytes,
        file_name: str = "file.bin",
        mime_type: str = "application/octet-stream",
        caption: str | None = None,
    ) -> dict[str, Any]:
        stored = self.store_file(data, "documents", file_name=file_name, mime_type=mime_type)
        document = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": len(data),
        }
        content: dict[str, Any] = {"document": document}
        if caption:
            content.update(self._text_fields(caption, None, None, caption=True))
        return self.inject_message(chat, sender, **content)

    def inject_media(
        self,
        chat: FakeChat,
        sender: FakeUser | None,
        kind: str,
        data: bytes,
        *,
        file_name: str | None = None,
        mime_type: str | None = None,
        caption: str | None = None,
        thumbnail: bytes | None = None,
        **params: Any,
    ) -> dict[str, Any]:
        """A message with a file: ``kind`` is document, sticker, video, animation, audio, voice
        or video_note; ``params`` what the file's send would take (duration, width, emoji...)."""
        from .methods_media import injected_media  # it builds on the send methods

        content = injected_media(self, kind, data, file_name, mime_type, thumbnail, params)
        if caption:
            content.update(self._text_fields(caption, None, None, caption=True))
        return self.inject_message(chat, sender, **content)

    def inject_edit(
        self,
        chat: FakeChat,
        message_id: int,
        text: str | None = None,
        *,
        html: str | None = None,
        entities: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """A user (or channel) edits the text or caption of an existing message."""
        message = chat.messages[message_id]
        self._replace_text(message, text, html, entities)
        self._deliver_message(chat, message, edited=True)
        return message

    def _replace_text(
        self,
        message: dict[str, Any],
        text: str | None,
        html: str | None,
        entities: list[dict[str, Any]] | None,
    ) -> None:
        caption = "text" not in message
        for key in ("text", "entities", "caption", "caption_entities"):
            message.pop(key, None)
        message.update(self._text_fields(text, html, entities, caption=caption))
        message["edit_date"] = self.now()

    def _text_fields(
        self,
        text: str | None,
        html: str | None,
        entities: list[dict[str, Any]] | None,
        *,
        caption: bool = False,
    ) -> dict[str, Any]:
        if html is not None:
            text, entities = parse_telegram_html(html)
        if text is None:
            raise ValueError("give text or html")
        text, fixed = fix_text(text, [dict(e) for e in entities or []])
        fields: dict[str, Any] = {}
        set_text(fields, text, resolve_mentions(self, fixed), caption=caption)
        return fields

    # -- members ---------------------------------------------------------------------------------

    def member_changed(
        self, chat: FakeChat, user: FakeUser, by: FakeUser, old: Member, new: Member
    ) -> dict[str, Any]:
        """Queue my_chat_member (for the bot) or chat_member (if the bot is an admin)."""
        payload = {
            "chat": chat_object(chat),
            "from": user_object(by),
            "date": self.now(),
            "old_chat_member": chat_member_object(chat, user, old),
            "new_chat_member": chat_member_object(chat, user, new),
        }
        if user.id == self.bot.id:
            update = self.updates.push("my_chat_member", payload)
        elif chat.type != "private" and chat.member(self.bot.id).is_admin:
            update = self.updates.push("chat_member", payload)
        else:
            update = None
        return update or {"chat_member": payload}

    def inject_member_status(
        self,
        chat: FakeChat,
        user: FakeUser,
        status: str,
        *,
        by: FakeUser | None = None,
        **rights: bool,
    ) -> dict[str, Any]:
        """A member's status changes (promotion, restriction, ...): a chat_member update.
        Returns the update (or, if the bot does not receive it, {"chat_member": payload})."""
        old = chat.member(user.id)
        new = self.set_member(chat, user, status, rights=rights)
        return self.member_changed(chat, user, by or user, old, new)

    def inject_join(
        self, chat: FakeChat, user: FakeUser, *, by: FakeUser | None = None
    ) -> dict[str, Any]:
        """A user joins (or `by` adds them): new_chat_members message and chat_member update.
        Returns the service message (in channels, which have none, the chat_member update)."""
        update = self.inject_member_status(chat, user, "member", by=by)
        if chat.type == "channel":
            return update
        return self.inject_message(chat, by or user, new_chat_members=[user_object(user)])

    def inject_leave(
        self, chat: FakeChat, user: FakeUser, *, by: FakeUser | None = None
    ) -> dict[str, Any]:
        """A user leaves, or is banned by `by`: left_chat_member message and chat_member update."""
        sender = by or user
        message: dict[str, Any] | None = None
        if chat.type != "channel":
            message = self.inject_message(chat, sender, left_chat_member=user_object(user))
        update = self.inject_member_status(chat, user, "kicked" if by else "left", by=sender)
        return message or update

    def inject_bot_status(
        self, chat: FakeChat, status: str, *, by: FakeUser, **rights: bool
    ) -> dict[str, Any]:
        """The bot is added, promoted, demoted or removed: a my_chat_member update, plus the
        new_chat_members service message when it is added to a group. Returns the update."""
        was_present = chat.member(self.bot.id).present
        update = self.inject_member_status(chat, self.bot, status, by=by, **rights)
        if (
            chat.type in ("group", "supergroup")
            and not was_present
            and chat.member(self.bot.id).present
        ):
            self.inject_message(chat, by, new_chat_members=[user_object(self.bot)])
        return update

    # -- chat settings ---------------------------------------------------------------------------

    def _service(self, chat: FakeChat, by: FakeUser | None, **content: Any) -> dict[str, Any]:
        if chat.type == "channel":
            return self.inject_message(chat, None, **content)
        return self.inject_message(chat, by, **content)

    def inject_title_change(
        self, chat: FakeChat, title: str, *, by: FakeUser | None = None
    ) -> dict[str, Any]:
        chat.title = title
        return self._service(chat, by, new_chat_title=title)

    def inject_photo_change(
        self, chat: FakeChat, data: bytes, *, by: FakeUser | None = None
    ) -> dict[str, Any]:
        chat.photo = self.store_photo(data, kind="profile_photos")
        return self._service(chat, by, new_chat_photo=photo_object(chat.photo))

    def inject_photo_delete(self, chat: FakeChat, *, by: FakeUser | None = None) -> dict[str, Any]:
        chat.photo = None
        return self._service(chat, by, delete_chat_photo=True)

    def inject_description_change(self, chat: FakeChat, description: str) -> None:
        """Telegram sends no update for a new description: only getChat shows it."""
        chat.description = description

    def inject_migration(self, chat: FakeChat, *, by: FakeUser) -> FakeChat:
        """A group is upgraded to a supergroup, which gets a new id. The old group gets a
        migrate_to_chat_id message, the new one a migrate_from_chat_id message; the old id then
        answers writes with "group chat was upgraded to a supergroup chat"."""
        if chat.type != "group":
            raise ValueError("only basic groups migrate")
        new = self.add_chat(
            "supergroup", chat.title or "", description=chat.description, bot_status=None
        )
        new.photo, new.members, new.migrated_from = chat.photo, dict(chat.members), chat.id
        new.permissions = dict(chat.permissions)
        self.inject_message(chat, by, migrate_to_chat_id=new.id)
        chat.migrated_to = new.id
        self.inject_message(new, by, migrate_from_chat_id=chat.id)
        return new

    # -- Telegram Business -----------------------------------------------------------------------

    def inject_business_connection(
        self,
        user: FakeUser,
        *,
        rights: dict[str, bool] | None = None,
        enabled: bool = True,
    ) -> BusinessConnection:
        """The user connects the bot to their business account, or changes that connection
        (new rights; enabled=False when they pause or disconnect the bot): a business_connection
        update, with the same connection id each time. See add_business_connection."""
        connection = self.add_business_connection(user, rights=rights, enabled=enabled)
        self.updates.push("business_connection", business_connection_object(connection))
        return connection

    def _deliver_business(
        self, connection: BusinessConnection, kind: str, payload: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Telegram tells a disabled connection's bot nothing about the account's chats."""
        if not connection.is_enabled:
            return None
        return self.updates.push(kind, payload)

    def inject_business_message(
        self,
        connection: BusinessConnection,
        contact: FakeUser,
        text: str | None = None,
        *,
        html: str | None = None,
        entities: list[dict[str, Any]] | None = None,
        from_owner: bool = False,
        reply_to: int | None = None,
    ) -> dict[str, Any]:
        """A message in the business account's chat with a contact, written by the contact or
        (from_owner) by the business user: a business_message update while the connection is
        enabled. A contact's message opens the 24 hours in which the bot may reply."""
        chat = self.business_chat(connection, contact)
        message = new_message(self, chat, connection.user if from_owner else contact)
        message["business_connection_id"] = connection.id
        if reply_to is not None:
            message["reply_to_message"] = reply_snapshot(chat.messages[reply_to])
        message.update(self._text_fields(text, html, entities))
        if not from_owner:
            connection.last_incoming[contact.id] = message["date"]
        self._deliver_business(connection, "business_message", message)
        return message

    def inject_business_edit(
        self,
        connection: BusinessConnection,
        contact: FakeUser,
        message_id: int,
        text: str | None = None,
        *,
        html: str | None = None,
        entities: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """The author (contact or business user) edits a message of a business chat: an
        edited_business_message update while the connection is enabled."""
        message = self.business_chat(connection, contact).messages[message_id]
        self._replace_text(message, text, html, entities)
        self._deliver_business(connection, "edited_business_message", message)
        return message

    def inject_business_deletion(
        self, connection: BusinessConnection, contact: FakeUser, message_ids: Sequence[int]
    ) -> dict[str, Any]:
        """Messages of a business chat are deleted (by either side): deleted_business_messages.
        Returns the update (or, if the bot does not receive it, {"deleted_business_messages":
        payload})."""
        chat = self.business_chat(connection, contact)
        missing = [i for i in message_ids if i not in chat.messages]
        if missing:
            raise ValueError(f"no messages {missing} in the business chat with {contact.id}")
        self.forget_messages(chat, message_ids)
        payload = {
            "business_connection_id": connection.id,
            "chat": chat_object(chat),
            "message_ids": list(message_ids),
        }
        update = self._deliver_business(connection, "deleted_business_messages", payload)
        return update or {"deleted_business_messages": payload}

    # -- inline keyboards ------------------------------------------------------------------------

    def press_button(
        self,
        user: FakeUser,
        message: dict[str, Any],
        label: str | None = None,
        *,
        data: str | None = None,
    ) -> dict[str, Any]:
        """The user presses the callback button labelled ``label`` under a message the bot sent
        (in a chat the user sees): a callback_query update with the message as it is now.
        ``data`` instead sends what a modified client may (any data, button or not). Returns
        the update (or, if allowed_updates leaves it out, {"callback_query": payload})."""
        chat = self.chats[message["chat"]["id"]]
        if (
            message["message_id"] not in chat.outgoing
            or chat.messages.get(message["message_id"]) is not message
        ):
            raise ValueError("only a message the bot sent, and still there, has its buttons")
        if chat.type == "private" and chat.user is not user:
            raise ValueError(f"user {user.id} cannot see the bot's chat with {chat.id}")
        self._require_member(chat, user)
        if data is None:
            if label is None:
                raise ValueError("give the button's label, or the data a modified client sends")
            data = button_data(message, label)
        query = self.callbacks.new(user.id, chat.id, message["message_id"], data)
        payload = {
            "id": query.id,
            "from": user_object(user),
            "message": message,
            "chat_instance": chat_instance(chat.id),
            "data": data,
        }
        return self.updates.push("callback_query", payload) or {"callback_query": payload}

    # -- reactions and raw updates -----------------------------------------------------------------

    def inject_reaction(
        self, chat: FakeChat, user: FakeUser, message_id: int, emoji: Sequence[str]
    ) -> dict[str, Any]:
        """A user sets their reactions on a message (an empty list removes them)."""
        by_user = chat.reactions.setdefault(message_id, {})
        old = by_user.get(user.id, [])
        new = [{"type": "emoji", "emoji": e} for e in emoji]
        by_user[user.id] = new
        payload = {
            "chat": chat_object(chat),
            "message_id": message_id,
            "user": user_object(user),
            "date": self.now(),
            "old_reaction": old,
            "new_reaction": new,
        }
        update = None
        if chat.member(self.bot.id).is_admin and not user.is_bot:
            update = self.updates.push("message_reaction", payload)
        return update or {"message_reaction": payload}

    def inject_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue any update as given (it still has to pass the response schema check)."""
        return self.updates.push_raw(dict(update))
