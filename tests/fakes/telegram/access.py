"""Which chats and messages the bot may address, with the official server's error answers
(telegram-bot-api's check_chat_access and check_message)."""

from __future__ import annotations

from enum import Enum
from typing import Any

from .errors import ApiError, bad_request, forbidden
from .state import FakeChat
from .world import World


class Access(Enum):
    READ = "read"
    READ_MEMBERS = "read members"
    EDIT = "edit"
    WRITE = "write"


_KIND = {"group": "group", "supergroup": "supergroup", "channel": "channel"}
_MEDIA_NOUN = {
    "can_send_messages": "text messages",
    "can_send_photos": "photos",
    "can_send_documents": "documents",
    "can_send_videos": "videos",
    "can_send_audios": "audios",
    "can_send_voice_notes": "voice notes",
    "can_send_other_messages": "stickers",
}


def resolve_chat(world: World, chat_id: Any, access: Access) -> FakeChat:
    chat = world.find_chat(chat_id) if isinstance(chat_id, int | str) else None
    if chat is None:
        user = world.users.get(chat_id) if isinstance(chat_id, int) else None
        if user is not None and access is Access.WRITE:
            raise forbidden("bot can't initiate conversation with a user")
        raise bad_request("chat not found")
    write = access in (Access.WRITE, Access.READ_MEMBERS)
    edit = write or access is Access.EDIT
    bot = chat.member(world.bot.id)
    if chat.type == "private":
        assert chat.user is not None
        if not chat.user.started_bot:
            raise bad_request("chat not found")
        if chat.user.blocked_bot and write:
            raise forbidden("bot was blocked by the user")
    elif chat.type == "group":
        if chat.migrated_to is not None and write:
            raise ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": chat.migrated_to},
            )
        if bot.status == "kicked" and edit:
            raise forbidden("bot was kicked from the group chat")
        if not bot.present and edit:
            raise forbidden("bot is not a member of the group chat")
    else:
        kind = _KIND[chat.type]
        if bot.status == "kicked":
            raise forbidden(f"bot was kicked from the {kind} chat")
        needs_membership = edit if chat.username else True
        if not bot.present and needs_membership:
            raise forbidden(f"bot is not a member of the {kind} chat")
    return chat


def resolve_message(
    world: World, chat_id: Any, message_id: Any, access: Access, what: str
) -> tuple[FakeChat, dict[str, Any]]:
    """A chat and one of its messages; `what` names it in the error ("message to edit")."""
    chat = resolve_chat(world, chat_id, access)
    message = chat.messages.get(message_id) if isinstance(message_id, int) else None
    if message is None:
        raise bad_request(f"{what} not found")
    return chat, message


def check_can_send(world: World, chat: FakeChat, permission: str = "can_send_messages") -> None:
    """Rights to post: channel admins with can_post_messages; in groups, the member's own
    restrictions or else the chat's default permissions (admins are exempt)."""
    bot = chat.member(world.bot.id)
    if chat.type == "channel":
        if not bot.right("can_post_messages"):
            raise bad_request("need administrator rights in the channel chat")
        return
    if chat.type == "private" or bot.is_admin:
        return
    allowed = bot.rights.get(permission, False) if bot.status == "restricted" else True
    allowed = allowed and chat.permissions.get(permission, True)
    if not allowed:
        raise bad_request(f"not enough rights to send {_MEDIA_NOUN[permission]} to the chat")
