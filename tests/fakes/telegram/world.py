"""Building and querying the simulated world (no updates are produced here: see events.py)."""

from __future__ import annotations

import base64
import hashlib
import itertools
import mimetypes
import time
from collections.abc import Iterable
from typing import Any

from .images import image_size
from .state import (
    ALL_ADMIN_RIGHTS,
    PERMISSIONS,
    STATUSES,
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
        id_base: int = 0,
    ) -> None:
        self.bot = FakeUser(bot_id, bot_first_name, username=bot_username, is_bot=True)
        self.can_join_groups = can_join_groups
        self.can_read_all_group_messages = can_read_all_group_messages
        self.supports_inline_queries = supports_inline_queries
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
        self.clock_offset = 0.0
        self.closed = False  # close was called
        self.logged_out = False  # logOut was called
        # id_base lets fakes that share one homeserver (one test each) give out distinct ids.
        self._user_ids = itertools.count(7_000_000_001 + id_base)
        self._group_ids = itertools.count(4_000_000_001 + id_base)
        self._channel_ids = itertools.count(2_000_000_001 + id_base)
        self._file_numbers = itertools.count(1)

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
        """Messages the bot sent (all, or to one chat; a user means the private chat), oldest
        first, deleted ones included."""
        chat_id = chat.id if isinstance(chat, FakeChat | FakeUser) else chat
        return [s for s in self.sent if chat_id is None or s.chat_id == chat_id]

    def message(self, chat: FakeChat | int, message_id: int) -> dict[str, Any] | None:
        chat_obj = chat if isinstance(chat, FakeChat) else self.chats[chat]
        return chat_obj.messages.get(message_id)

    def file_bytes(self, file_id: str) -> bytes:
        return self.files[file_id].data


def _checked(values: dict[str, bool], allowed: Iterable[str]) -> dict[str, bool]:
    unknown = set(values) - set(allowed)
    if unknown:
        raise ValueError(f"unknown rights or permissions: {sorted(unknown)}")
    return dict(values)
