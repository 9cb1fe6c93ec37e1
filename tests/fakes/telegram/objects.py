"""Bot API JSON objects built from the simulated state (every one is checked against the schema
when it leaves the server)."""

from __future__ import annotations

from typing import Any

from .state import (
    ADMIN_RIGHTS,
    CHANNEL_ADMIN_RIGHTS,
    GROUP_ADMIN_RIGHTS,
    PERMISSIONS,
    SUPERGROUP_ADMIN_RIGHTS,
    BusinessConnection,
    FakeChat,
    FakeUser,
    Member,
    Photo,
    StoredFile,
)

MAX_REACTION_COUNT = 11  # Telegram's default per chat
ACCENT_COLORS = 7  # without a chosen colour, Telegram derives the accent colour from the id


def _without_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def user_object(user: FakeUser) -> dict[str, Any]:
    return _without_none(
        {
            "id": user.id,
            "is_bot": user.is_bot,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "username": user.username,
            "language_code": user.language_code,
            "is_premium": True if user.is_premium else None,
        }
    )


def chat_object(chat: FakeChat) -> dict[str, Any]:
    if chat.type == "private":
        assert chat.user is not None
        fields: dict[str, Any] = {
            "first_name": chat.user.first_name,
            "last_name": chat.user.last_name,
            "username": chat.user.username,
        }
    else:
        fields = {"title": chat.title, "username": chat.username}
        if chat.is_forum:
            fields["is_forum"] = True
    return _without_none({"id": chat.id, "type": chat.type, **fields})


def chat_photo_object(photo: Photo) -> dict[str, Any]:
    small, big = photo.sizes[0], photo.sizes[-1]
    return {
        "small_file_id": small.file_id,
        "small_file_unique_id": small.file_unique_id,
        "big_file_id": big.file_id,
        "big_file_unique_id": big.file_unique_id,
    }


def chat_full_info(chat: FakeChat) -> dict[str, Any]:
    info = chat_object(chat)
    info["accent_color_id"] = abs(chat.id) % ACCENT_COLORS
    info["max_reaction_count"] = MAX_REACTION_COUNT
    gifts = chat.type == "private"
    info["accepted_gift_types"] = {
        "unlimited_gifts": gifts,
        "limited_gifts": gifts,
        "unique_gifts": gifts,
        "premium_subscription": gifts,
        "gifts_from_channels": gifts,
    }
    if chat.photo is not None:
        info["photo"] = chat_photo_object(chat.photo)
    if chat.type == "private":
        assert chat.user is not None
        if chat.user.bio:
            info["bio"] = chat.user.bio
    elif chat.description:
        info["description"] = chat.description
    if chat.type in ("group", "supergroup"):
        info["permissions"] = dict(chat.permissions)
    if chat.username:
        info["active_usernames"] = [chat.username]
    return info


def photo_size_object(size: StoredFile) -> dict[str, Any]:
    return {
        "file_id": size.file_id,
        "file_unique_id": size.file_unique_id,
        "width": size.width,
        "height": size.height,
        "file_size": len(size.data),
    }


def photo_object(photo: Photo) -> list[dict[str, Any]]:
    return [photo_size_object(size) for size in photo.sizes]


def file_object(stored: StoredFile) -> dict[str, Any]:
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": len(stored.data),
        "file_path": stored.file_path,
    }


def admin_right_names(chat: FakeChat) -> tuple[str, ...]:
    if chat.type == "channel":
        return ADMIN_RIGHTS + CHANNEL_ADMIN_RIGHTS
    if chat.type == "supergroup":
        return ADMIN_RIGHTS + SUPERGROUP_ADMIN_RIGHTS
    return ADMIN_RIGHTS + GROUP_ADMIN_RIGHTS


def chat_member_object(chat: FakeChat, user: FakeUser, member: Member) -> dict[str, Any]:
    """ChatMember of the subtype its status names."""
    result: dict[str, Any] = {"status": member.status, "user": user_object(user)}
    if member.status == "creator":
        result["is_anonymous"] = member.is_anonymous
    elif member.status == "administrator":
        result["can_be_edited"] = False  # only the promoter may edit, and the bot promotes no one
        result["is_anonymous"] = member.is_anonymous
        for name in admin_right_names(chat):
            result[name] = member.rights.get(name, False)
    elif member.status == "restricted":
        result["is_member"] = member.is_member
        for name in PERMISSIONS:
            result[name] = member.rights.get(name, False)
        result["until_date"] = member.until_date
    elif member.status == "kicked" or (member.status == "member" and member.until_date):
        result["until_date"] = member.until_date
    if member.custom_title and member.status in ("creator", "administrator"):
        result["custom_title"] = member.custom_title
    return result


def business_connection_object(connection: BusinessConnection) -> dict[str, Any]:
    """BusinessConnection as the official server writes it: rights always present, listing only
    the rights granted. (It also writes a deprecated top-level can_reply, which the schema no
    longer has, so the fake leaves it out.)"""
    return {
        "id": connection.id,
        "user": user_object(connection.user),
        "user_chat_id": connection.user.id,
        "date": connection.date,
        "rights": {name: True for name, granted in connection.rights.items() if granted},
        "is_enabled": connection.is_enabled,
    }
