"""Building and querying the simulated world (no updates are produced here: see events.py)."""

from __future__ import annotations

import base64
import hashlib
import itertools
import mimetypes
import time
from collections.abc import Iterable
from typing import Any

from .callbacks import Callbacks
from .images import image_size
from .schema import load_schema
from .state import (
    ALL_ADMIN_RIGHTS,
    PERMISSIONS,
    STATUSES,
    BusinessConnection,
    FakeChat,
    FakeUser,
    Member,
    Photo,
    Sent,
    StoredFile,
)

# Telegram offers a photo in sizes up to these longest sides ("s", "m", "x", "y").
PHOTO_SIDES = (90, 320, 800, 1280)
# First bytes of file ids by kind, as in real ids, so logs are readable.
_FILE_ID_PREFIX = {
    "photos": "AgAC", "profile_photos": "AgAC", "documents": "BQAC", "stickers": "CAAC",
    "videos": "BAAC", "music": "CQAC", "voice": "AwAC", "animations": "CgAC",
}  # fmt: skip
_DEFAULT_EXTENSION = {
    "photos": ".jpg", "profile_photos": ".jpg", "stickers": ".webp", "videos": ".mp4",
    "music": ".mp3", "voice": ".oga", "animations": ".mp4", "documents": "",
}  # fmt: skip


class World:
    """Users, chats and files, plus the bot's own account and the simulated clock."""

    def __init__(
        self,
        *,
        bot_id: int,
        bot_username: str,
        bot_first_name: str,
        can_join_groups: bool,
        can_read_all_group_messages: bool,
        supports_inline_queries: bool,
        can_connect_to_business: bool = False,
        id_base: int = 0,
    ) -> None:
        self.bot = FakeUser(bot_id, bot_first_name, username=bot_username, is_bot=True)
        self.can_join_groups = can_join_groups
        self.can_read_all_group_messages = can_read_all_group_messages
        self.supports_inline_queries = supports_inline_queries
        self.can_connect_to_business = can_connect_to_business  # Business Mode in @BotFather
        self.users: dict[int, FakeUser] = {bot_id: self.bot}
        self.chats: dict[int, FakeChat] = {}
        self.files: dict[str, StoredFile] = {}
        self.files_by_path: dict[str, StoredFile] = {}
        self.photos: dict[str, Photo] = {}  # by the file id of any of its sizes
        self.url_contents: dict[str, tuple[bytes, str | None]] = {}
        self.sent: list[Sent] = []
        self.deleted: list[tuple[int, int]] = []  # (chat_id, message_id) the bot deleted
        self.bot_reactions: dict[tuple[int, int], list[dict[str, Any]]] = {}
        # The bot's chat actions (chat id, action, when), oldest first.
        self.chat_actions: list[tuple[int, str, int]] = []
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.business_connections: dict[str, BusinessConnection] = {}
        # A business account's chat with a contact has the contact's id, as the bot's own private
        # chat with that contact does: hence the key (connection id, contact id).
        self.business_chats: dict[tuple[str, int], FakeChat] = {}
        # The bot's chat actions on behalf of business accounts (connection id, chat id, action,
        # when), oldest first.
        self.business_chat_actions: list[tuple[str, int, str, int]] = []
        # Presses of the bot's inline buttons and the bot's answers to them.
        self.callbacks = Callbacks()
        self.clock_offset = 0.0
        self.closed = False  # close was called
        self.logged_out = False  # logOut was called
        # id_base lets fakes that share one homeserver (one test each) give out distinct ids.
        self._user_ids = itertools.count(7_000_000_001 + id_base)
        self._group_ids = itertools.count(4_000_000_001 + id_base)
        self._channel_ids = itertools.count(2_000_000_001 + id_base)
        self._file_numbers = itertools.count(1)
        self._id_base = id_base
        self._connection_numbers = itertools.count(1)

    # -- clock -----------------------------------------------------------------------------------

    def now(self) -> int:
        """Unix time as the fake's messages carry it."""
        return int(time.time() + self.clock_offset)

    def advance_time(self, seconds: float) -> None:
        """Move the simulated clock (for the 48-hour deletion limit and similar)."""
        self.clock_offset += seconds

    # -- users and chats ---------------------------------------------------------------------------

    def add_user(
        self,
        first_name: str = "Alice",
        *,
        last_name: str | None = None,
        username: str | None = None,
        user_id: int | None = None,
        is_bot: bool = False,
        language_code: str | None = None,
        is_premium: bool = False,
        bio: str | None = None,
        profile_photos: Iterable[bytes] = (),
        started_bot: bool = True,
    ) -> FakeUser:
        """A Telegram user; `started_bot` means a private chat with the bot exists."""
        user = FakeUser(
            user_id if user_id is not None else next(self._user_ids),
            first_name,
            last_name=last_name,
            username=username,
            is_bot=is_bot,
            language_code=language_code,
            is_premium=is_premium,
            bio=bio,
            started_bot=started_bot and not is_bot,
        )
        self.users[user.id] = user
        for data in profile_photos:
            self.add_profile_photo(user, data)
        if user.started_bot:
            self.private_chat(user)
        return user

    def private_chat(self, user: FakeUser) -> FakeChat:
        """The private chat between the bot and a user (created when first asked for)."""
        chat = self.chats.get(user.id)
        if chat is None:
            chat = FakeChat(user.id, "private", user=user)
            chat.members = {user.id: Member("member"), self.bot.id: Member("member")}
            self.chats[user.id] = chat
        user.started_bot = True
        return chat

    def add_group(self, title: str, **options: Any) -> FakeChat:
        """A basic group; see add_chat for the options."""
        return self.add_chat("group", title, **options)

    def add_supergroup(self, title: str, **options: Any) -> FakeChat:
        return self.add_chat("supergroup", title, **options)

    def add_channel(self, title: str, **options: Any) -> FakeChat:
        options.setdefault("bot_status", "administrator")
        if options["bot_status"] == "administrator":
            options.setdefault("bot_rights", {"can_post_messages": True, "can_edit_messages": True})
        return self.add_chat("channel", title, **options)

    def add_chat(
        self,
        chat_type: str,
        title: str,
        *,
        chat_id: int | None = None,
        username: str | None = None,
        description: str | None = None,
        photo: bytes | None = None,
        is_forum: bool = False,
        sign_messages: bool = False,
        owner: FakeUser | None = None,
        members: Iterable[FakeUser] = (),
        bot_status: str | None = "member",
        bot_rights: dict[str, bool] | None = None,
        permissions: dict[str, bool] | None = None,
    ) -> FakeChat:
        """A group, supergroup or channel. The bot joins with `bot_status` (None: not a member)."""
        if chat_id is None:
            if chat_type == "group":
                chat_id = -next(self._group_ids)
            else:
                chat_id = -(10**12 + next(self._channel_ids))
        chat = FakeChat(
            chat_id,
            chat_type,
            title=title,
            username=username,
            description=description,
            is_forum=is_forum,
            sign_messages=sign_messages,
        )
        if permissions:
            chat.permissions.update(_checked(permissions, PERMISSIONS))
        self.chats[chat_id] = chat
        if photo is not None:
            chat.photo = self.store_photo(photo, kind="profile_photos")
        if owner is not None:
            self.set_member(chat, owner, "creator")
        for user in members:
            self.set_member(chat, user, "member")
        if bot_status is not None:
            self.set_member(chat, self.bot, bot_status, rights=bot_rights)
        return chat

    def set_member(
        self,
        chat: FakeChat,
        user: FakeUser,
        status: str = "member",
        *,
        custom_title: str | None = None,
        until_date: int = 0,
        is_anonymous: bool = False,
        is_member: bool = True,
        rights: dict[str, bool] | None = None,
        **more_rights: bool,
    ) -> Member:
        """Set a membership without producing updates. Rights (as a dict and/or keywords) are
        admin rights for "administrator" (can_manage_chat is implied) or the permissions left
        to a "restricted" member."""
        rights = {**(rights or {}), **more_rights}
        if status not in STATUSES:
            raise ValueError(f"unknown chat member status {status!r}")
        if status == "administrator":
            rights = {"can_manage_chat": True, **_checked(rights, ALL_ADMIN_RIGHTS)}
        elif status == "restricted":
            rights = _checked(rights, PERMISSIONS)
        elif rights:
            raise ValueError(f"status {status!r} takes no rights")
        member = Member(status, rights, custom_title, until_date, is_anonymous, is_member)
        chat.members[user.id] = member
        self.users.setdefault(user.id, user)
        return member

    def set_bot_member(self, chat: FakeChat, status: str, **rights: bool) -> Member:
        return self.set_member(chat, self.bot, status, rights=rights)

    def add_forum_topic(self, chat: FakeChat, name: str) -> int:
        """A topic of a forum supergroup; returns its message_thread_id."""
        if not chat.is_forum:
            raise ValueError("only forum supergroups have topics")
        thread_id = chat.allocate_message_id()
        chat.topics[thread_id] = name
        return thread_id

    def chat(self, chat_id: int) -> FakeChat:
        return self.chats[chat_id]

    def find_chat(self, chat_id: int | str) -> FakeChat | None:
        """A chat by id or by public @username."""
        if isinstance(chat_id, str):
            name = chat_id.removeprefix("@").lower()
            return next(
                (c for c in self.chats.values() if c.username and c.username.lower() == name),
                None,
            )
        return self.chats.get(chat_id)

    # -- Telegram Business -----------------------------------------------------------------------

    def add_business_connection(
        self,
        user: FakeUser,
        *,
        rights: dict[str, bool] | None = None,
        enabled: bool = True,
    ) -> BusinessConnection:
        """The user connects the bot to their business account, or sets that connection anew
        (same id; rights=None keeps the rights it had, `enabled` is always set). A new
        connection without rights gets can_reply only. Raises ValueError where Telegram would
        refuse the user: no Premium (PREMIUM_ACCOUNT_REQUIRED) or a bot without Business Mode
        (BOT_BUSINESS_MISSING)."""
        if user.is_bot:
            raise ValueError("bots have no business accounts")
        if not user.is_premium:
            raise ValueError("PREMIUM_ACCOUNT_REQUIRED: only Premium users can connect a bot")
        if not self.can_connect_to_business:
            raise ValueError("BOT_BUSINESS_MISSING: the bot has no Business Mode")
        if rights is not None:
            rights = _checked(rights, load_schema().fields("BusinessBotRights"))
        connection = self.business_connection_of(user)
        if connection is None:
            number = next(self._connection_numbers)
            digest = hashlib.sha256(f"business:{self._id_base}:{number}".encode()).digest()
            connection = BusinessConnection(
                id=base64.urlsafe_b64encode(digest).decode().rstrip("=")[:24],
                user=user,
                date=self.now(),
                rights={"can_reply": True} if rights is None else rights,
                is_enabled=enabled,
            )
            self.business_connections[connection.id] = connection
            self.users.setdefault(user.id, user)
        else:
            if rights is not None:
                connection.rights = rights
            connection.is_enabled = enabled
        return connection

    def business_connection_of(self, user: FakeUser) -> BusinessConnection | None:
        return next((c for c in self.business_connections.values() if c.user.id == user.id), None)

    def business_chat(self, connection: BusinessConnection, contact: FakeUser) -> FakeChat:
        """The business account's private chat with a contact (created when first asked for);
        the bot sees it with the contact's id as chat id."""
        if contact.id == connection.user.id or contact.is_bot:
            raise ValueError("a business chat is with another, human, user")
        key = (connection.id, contact.id)
        chat = self.business_chats.get(key)
        if chat is None:
            chat = FakeChat(contact.id, "private", user=contact, id_source=connection.message_ids)
            chat.members = {contact.id: Member("member"), connection.user.id: Member("member")}
            self.business_chats[key] = chat
            self.users.setdefault(contact.id, contact)
        return chat

    def business_sent(
        self, connection: BusinessConnection, contact: FakeUser | None = None
    ) -> list[Sent]:
        """Messages the bot sent on behalf of a business account (to one contact, or all),
        oldest first, deleted ones included."""
        return [
            s
            for s in self.sent
            if s.business_connection_id == connection.id
            and (contact is None or s.chat_id == contact.id)
        ]

    # -- files -----------------------------------------------------------------------------------

    def store_file(
        self,
        data: bytes,
        kind: str = "documents",
        *,
        file_name: str | None = None,
        mime_type: str | None = None,
        width: int = 0,
        height: int = 0,
    ) -> StoredFile:
        number = next(self._file_numbers)
        digest = hashlib.sha256(f"{kind}:{number}".encode()).digest()
        token = base64.urlsafe_b64encode(digest).decode().rstrip("=")
        extension = _DEFAULT_EXTENSION.get(kind, "")
        if file_name and "." in file_name:
            extension = "." + file_name.rsplit(".", 1)[1]
        elif mime_type and kind == "documents":
            extension = mimetypes.guess_extension(mime_type) or ""
        stored = StoredFile(
            file_id=_FILE_ID_PREFIX.get(kind, "BQAC") + token,
            file_unique_id="AQAD" + token[:12],
            data=data,
            file_path=f"{kind}/file_{number}{extension}",
            file_name=file_name,
            mime_type=mime_type,
            width=width,
            height=height,
        )
        self.files[stored.file_id] = stored
        self.files_by_path[stored.file_path] = stored
        return stored

    def store_photo(self, data: bytes, kind: str = "photos") -> Photo:
        """A photo in Telegram's sizes; raises ValueError if the bytes are not an image."""
        size = image_size(data)
        if size is None:
            raise ValueError("not a PNG, JPEG, GIF or WebP image")
        width, height = size
        longest = max(width, height, 1)
        largest = min(longest, PHOTO_SIDES[-1])
        sides = [side for side in PHOTO_SIDES if side < largest] + [largest]
        sizes = []
        for side in sides:
            scale = side / longest
            w, h = max(1, round(width * scale)), max(1, round(height * scale))
            sizes.append(self.store_file(data, kind, mime_type="image/jpeg", width=w, height=h))
        photo = Photo(sizes)
        for stored in sizes:
            self.photos[stored.file_id] = photo
        return photo

    def add_profile_photo(self, user: FakeUser, data: bytes) -> Photo:
        """A new (current) profile photo; it also becomes the photo of the private chat."""
        photo = self.store_photo(data, kind="profile_photos")
        user.profile_photos.insert(0, photo)
        if user.id in self.chats:
            self.chats[user.id].photo = photo
        return photo

    def set_url_content(self, url: str, data: bytes, mime_type: str | None = None) -> None:
        """What Telegram would download when a file is sent by HTTP URL."""
        self.url_contents[url] = (data, mime_type)

    # -- inspection ------------------------------------------------------------------------------

    def sent_to(self, chat: FakeChat | FakeUser | int | None = None) -> list[Sent]:
        """Messages the bot sent in its own chats (all, or to one chat; a user means the private
        chat), oldest first, deleted ones included; business_sent lists the others."""
        chat_id = chat.id if isinstance(chat, FakeChat | FakeUser) else chat
        return [
            s
            for s in self.sent
            if s.business_connection_id is None and (chat_id is None or s.chat_id == chat_id)
        ]

    def message(self, chat: FakeChat | int, message_id: int) -> dict[str, Any] | None:
        chat_obj = chat if isinstance(chat, FakeChat) else self.chats[chat]
        return chat_obj.messages.get(message_id)

    def forget_messages(self, chat: FakeChat, message_ids: Iterable[int]) -> None:
        """Deleted messages leave the chat; records of the bot's own ones are marked deleted
        (matched by the message itself: a business chat shares its id with a bot chat)."""
        gone = [chat.messages.pop(i) for i in message_ids if i in chat.messages]
        for record in self.sent:
            if any(record.message is message for message in gone):
                record.deleted = True

    def file_bytes(self, file_id: str) -> bytes:
        return self.files[file_id].data


def _checked(values: dict[str, bool], allowed: Iterable[str]) -> dict[str, bool]:
    unknown = set(values) - set(allowed)
    if unknown:
        raise ValueError(f"unknown rights or permissions: {sorted(unknown)}")
    return dict(values)
