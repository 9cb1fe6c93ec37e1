"""Message objects shared by incoming (injected) and outgoing (sent by the bot) messages."""

from __future__ import annotations

import copy
from typing import Any

from .objects import chat_object, user_object
from .state import FakeChat, FakeUser
from .world import World

# Message fields that make a message a service message (no content of its own).
SERVICE_FIELDS = frozenset(
    {
        "new_chat_members", "left_chat_member", "new_chat_title", "new_chat_photo",
        "delete_chat_photo", "group_chat_created", "supergroup_chat_created",
        "channel_chat_created", "migrate_to_chat_id", "migrate_from_chat_id", "pinned_message",
        "forum_topic_created",
    }
)  # fmt: skip


# The fake users Telegram puts in `from` of a group message sent on behalf of a chat ("for
# backward compatibility", as the Bot API says of sender_chat): @GroupAnonymousBot for the
# group's anonymous administrators, @Channel_Bot for a channel.
GROUP_ANONYMOUS_BOT = {
    "id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"
}  # fmt: skip
CHANNEL_BOT = {"id": 136817688, "is_bot": True, "first_name": "Channel", "username": "Channel_Bot"}


def new_message(
    world: World,
    chat: FakeChat,
    sender: FakeUser | None,
    *,
    thread_id: int | None = None,
    author_signature: str | None = None,
    on_behalf_of: FakeChat | None = None,
) -> dict[str, Any]:
    """A stored message with a fresh id; channel posts have sender_chat instead of from. In a
    group, a message sent ``on_behalf_of`` a chat (the group itself for an anonymous admin, or
    a channel) has that chat as sender_chat and a fake user in from."""
    message: dict[str, Any] = {"message_id": chat.allocate_message_id()}
    if thread_id is not None and chat.is_forum:
        message["message_thread_id"] = thread_id
        message["is_topic_message"] = True
    if chat.type == "channel":
        message["sender_chat"] = chat_object(chat)
        if author_signature:
            message["author_signature"] = author_signature
    elif on_behalf_of is not None:
        message["sender_chat"] = chat_object(on_behalf_of)
        message["from"] = dict(GROUP_ANONYMOUS_BOT if on_behalf_of is chat else CHANNEL_BOT)
        if author_signature:
            message["author_signature"] = author_signature
    else:
        assert sender is not None, "messages outside channels need a sender"
        message["from"] = user_object(sender)
    message["date"] = world.now()
    message["chat"] = chat_object(chat)
    chat.messages[message["message_id"]] = message
    return message


def reply_snapshot(message: dict[str, Any]) -> dict[str, Any]:
    """The replied-to message as a reply shows it: without its own reply_to_message."""
    snapshot = copy.deepcopy(message)
    snapshot.pop("reply_to_message", None)
    return snapshot


def is_service(message: dict[str, Any]) -> bool:
    return not SERVICE_FIELDS.isdisjoint(message)


def resolve_mentions(world: World, entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fill text_mention users in; Telegram drops mentions of users it cannot resolve."""
    result = []
    for entity in entities:
        if entity["type"] != "text_mention":
            result.append(entity)
            continue
        user = world.users.get(entity.get("user", {}).get("id", 0))
        if user is not None:
            result.append({**entity, "user": user_object(user)})
    return result


def set_text(
    message: dict[str, Any], text: str, entities: list[dict[str, Any]], *, caption: bool = False
) -> None:
    key, entities_key = ("caption", "caption_entities") if caption else ("text", "entities")
    message[key] = text
    if entities:
        message[entities_key] = entities
    else:
        message.pop(entities_key, None)
