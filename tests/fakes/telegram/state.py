"""The simulated Telegram world: users, chats, memberships, files and messages."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

# ChatMemberAdministrator rights: always present, then per chat type.
ADMIN_RIGHTS = (
    "can_manage_chat", "can_delete_messages", "can_manage_video_chats", "can_restrict_members",
    "can_promote_members", "can_change_info", "can_invite_users", "can_post_stories",
    "can_edit_stories", "can_delete_stories",
)  # fmt: skip
GROUP_ADMIN_RIGHTS = ("can_pin_messages",)
SUPERGROUP_ADMIN_RIGHTS = ("can_pin_messages", "can_manage_topics")
CHANNEL_ADMIN_RIGHTS = ("can_post_messages", "can_edit_messages", "can_manage_direct_messages")
ALL_ADMIN_RIGHTS = frozenset(ADMIN_RIGHTS + SUPERGROUP_ADMIN_RIGHTS + CHANNEL_ADMIN_RIGHTS)

# ChatPermissions, which ChatMemberRestricted repeats as required fields.
PERMISSIONS = (
    "can_send_messages", "can_send_audios", "can_send_documents", "can_send_photos",
    "can_send_videos", "can_send_video_notes", "can_send_voice_notes", "can_send_polls",
    "can_send_other_messages", "can_add_web_page_previews", "can_react_to_messages",
    "can_edit_tag", "can_change_info", "can_invite_users", "can_pin_messages", "can_manage_topics",
)  # fmt: skip
# A new group's defaults: members may post anything, but not change info, pin or manage topics.
DEFAULT_PERMISSIONS = {
    name: name not in ("can_change_info", "can_pin_messages", "can_manage_topics")
    for name in PERMISSIONS
}

STATUSES = ("creator", "administrator", "member", "restricted", "left", "kicked")


@dataclass
class StoredFile:
    """A file on the fake's servers, downloadable through getFile and the file route."""

    file_id: str
    file_unique_id: str
    data: bytes
    file_path: str
    file_name: str | None = None
    mime_type: str | None = None
    width: int = 0
    height: int = 0


@dataclass
class Photo:
    """One image in the sizes Telegram would offer; every size serves the original bytes."""

    sizes: list[StoredFile]


@dataclass
class FakeUser:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    is_bot: bool = False
    language_code: str | None = None
    is_premium: bool = False
    bio: str | None = None
    profile_photos: list[Photo] = field(default_factory=list)  # newest first
    started_bot: bool = True  # a private chat with the bot exists
    blocked_bot: bool = False


@dataclass
class Member:
    status: str
    rights: dict[str, bool] = field(default_factory=dict)  # admin rights or restrictions
    custom_title: str | None = None
    until_date: int = 0
    is_anonymous: bool = False
    is_member: bool = True  # for "restricted": still in the chat

    @property
    def present(self) -> bool:
        if self.status == "restricted":
            return self.is_member
        return self.status in ("creator", "administrator", "member")

    @property
    def is_admin(self) -> bool:
        return self.status in ("creator", "administrator")

    def right(self, name: str) -> bool:
        """An admin right (creators have them all)."""
        return self.status == "creator" or (
            self.status == "administrator" and self.rights.get(name, False)
        )


@dataclass
class FakeChat:
    id: int
    type: str  # private, group, supergroup, channel
    title: str | None = None
    username: str | None = None
    description: str | None = None
    user: FakeUser | None = None  # the other party of a private chat
    photo: Photo | None = None
    is_forum: bool = False
    sign_messages: bool = False
    permissions: dict[str, bool] = field(default_factory=lambda: dict(DEFAULT_PERMISSIONS))
    members: dict[int, Member] = field(default_factory=dict)
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)
    outgoing: set[int] = field(default_factory=set)  # ids of messages the bot sent
    topics: dict[int, str] = field(default_factory=dict)  # forum topic thread id -> name
    reactions: dict[int, dict[int, list[dict[str, Any]]]] = field(default_factory=dict)
    migrated_to: int | None = None
    migrated_from: int | None = None
    next_message_id: int = 1
    # A business account's chats share its account-wide message ids (deleteBusinessMessages
    # names messages by id alone).
    id_source: Iterator[int] | None = field(default=None, repr=False)

    def member(self, user_id: int) -> Member:
        return self.members.get(user_id) or Member("left")

    def allocate_message_id(self) -> int:
        if self.id_source is not None:
            return next(self.id_source)
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id


@dataclass
class Sent:
    """A message the bot sent through the API; `message` is the stored dict, kept up to date."""

    method: str
    chat_id: int
    message_id: int
    params: dict[str, Any]
    message: dict[str, Any]
    edits: list[dict[str, Any]] = field(default_factory=list)  # earlier versions, oldest first
    deleted: bool = False
    business_connection_id: str | None = None  # sent on behalf of a business account

    @property
    def text(self) -> str | None:
        value = self.message.get("text", self.message.get("caption"))
        return value if isinstance(value, str) else None

    @property
    def entities(self) -> list[dict[str, Any]]:
        value = self.message.get("entities", self.message.get("caption_entities", []))
        return list(value) if isinstance(value, list) else []

    @property
    def content_edits(self) -> int:
        """Edits that changed what the message says (its text or caption and their entities);
        ``edits`` also holds versions that only changed the buttons, as a look-up's probe does."""
        versions = [*self.edits, self.message]
        return sum(
            1
            for before, after in itertools.pairwise(versions)
            if _content(before) != _content(after)
        )


def _content(message: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(message.get(key) for key in ("text", "entities", "caption", "caption_entities"))


@dataclass
class BusinessConnection:
    """A user's connection of the bot to their business account: one per user, whose id stays
    the same when the user changes the rights or disables the bot."""

    id: str
    user: FakeUser
    date: int
    rights: dict[str, bool]  # BusinessBotRights; missing names are False
    is_enabled: bool = True
    last_incoming: dict[int, int] = field(default_factory=dict)  # contact id -> when they wrote
    read_up_to: dict[int, int] = field(default_factory=dict)  # contact id -> id the bot read to
    message_ids: Iterator[int] = field(default_factory=lambda: itertools.count(1), repr=False)

    def right(self, name: str) -> bool:
        return self.rights.get(name, False)
