"""Calls made on behalf of a business account (those with business_connection_id): which chat
and message they reach, with the errors Telegram answers.

The official server checks the chat id and looks the connection up itself (telegram-bot-api's
check_business_connection_chat_id, TDLib's BusinessConnectionManager): those texts are
observed in their sources. Disabled connections, missing rights and the 24-hour window are
left to Telegram's servers, whose MTProto error codes the Bot API passes on as
"Bad Request: CODE" (it turns a 403 with such a code into a 400 too). The codes below are the
ones Telegram documents for the methods involved; which code answers which of these cases is
modelled, not observed, except where noted.
"""

from __future__ import annotations

from typing import Any

from .access import Access, check_can_send, resolve_chat
from .errors import bad_request
from .state import BusinessConnection, FakeChat
from .world import World

REPLY_WINDOW = 24 * 3600  # can_reply covers chats with an incoming message this recent
EDIT_WINDOW = 48 * 3600  # for business messages the bot did not send (editMessageText docs)

CONNECTION_NOT_FOUND = "business connection not found"
INVALID_MESSAGE_ID = "invalid message identifier specified"
CONNECTION_INVALID = "BUSINESS_CONNECTION_INVALID"
ACCESS_FORBIDDEN = "BOT_ACCESS_FORBIDDEN"
# Observed: bots handle exactly this answer to replies sent after the 24 hours.
PEER_USAGE_MISSING = "BUSINESS_PEER_USAGE_MISSING"


def connection_by_id(world: World, connection_id: Any) -> BusinessConnection:
    """A connection the server can look up: disabled ones too (getBusinessConnection shows them
    with is_enabled false)."""
    connection = world.business_connections.get(connection_id)
    if connection is None:
        raise bad_request(CONNECTION_NOT_FOUND)
    return connection


def check_enabled(connection: BusinessConnection) -> None:
    if not connection.is_enabled:
        raise bad_request(CONNECTION_INVALID)


def check_right(connection: BusinessConnection, *names: str) -> None:
    """One of the named business bot rights is needed."""
    if not any(connection.right(name) for name in names):
        raise bad_request(ACCESS_FORBIDDEN)


def in_reply_window(world: World, connection: BusinessConnection, contact_id: int) -> bool:
    last = connection.last_incoming.get(contact_id)
    return last is not None and world.now() - last <= REPLY_WINDOW


def business_chat_of(
    world: World,
    p: dict[str, Any],
    right: str,
    *,
    message_id: bool = False,
) -> tuple[BusinessConnection, FakeChat]:
    """The business chat p["chat_id"] names, checked in the server's order: the chat id, the
    connection, the chat's kind, the message id (if the call has one), then Telegram's checks:
    enabled, `right`, and the 24 hours since the contact last wrote (every call naming a chat
    is bound by them, reads included: "the chat must have been active in the last 24
    hours")."""
    chat_id = p.get("chat_id")
    if chat_id is None or chat_id == "":
        raise bad_request("chat identifier is empty")
    if not isinstance(chat_id, int):
        raise bad_request("chat identifier must be a valid Integer")
    connection = connection_by_id(world, p["business_connection_id"])
    if chat_id < 0:
        raise bad_request("chat must be a private chat")
    if chat_id == connection.user.id:
        raise bad_request("messages must not be sent to self")
    if message_id and p.get("message_id", 0) <= 0:
        raise bad_request(INVALID_MESSAGE_ID)
    check_enabled(connection)
    contact = world.users.get(chat_id)
    if contact is None or contact.is_bot:
        raise bad_request("chat not found")  # modelled: a user the account never met
    check_right(connection, right)
    if not in_reply_window(world, connection, contact.id):
        raise bad_request(PEER_USAGE_MISSING)
    return connection, world.business_chat(connection, contact)


def send_target(
    world: World, p: dict[str, Any], permission: str = "can_send_messages"
) -> tuple[FakeChat, BusinessConnection | None]:
    """Where a send goes: a business chat (needs can_reply and the 24-hour window) or one of
    the bot's own chats. An empty business_connection_id counts as none, as in the server."""
    if p.get("business_connection_id"):
        connection, chat = business_chat_of(world, p, "can_reply")
        return chat, connection
    chat = resolve_chat(world, p["chat_id"], Access.WRITE)
    check_can_send(world, chat, permission)
    return chat, None


def business_message_to_edit(world: World, p: dict[str, Any]) -> dict[str, Any]:
    """A message of the business account the bot may edit: any of the account's own messages,
    but those the bot did not send and that have no inline keyboard only within 48 hours."""
    connection, chat = business_chat_of(world, p, "can_reply", message_id=True)
    message = chat.messages.get(p["message_id"])
    if message is None:
        raise bad_request("MESSAGE_ID_INVALID")
    if message.get("from", {}).get("id") != connection.user.id:
        raise bad_request("MESSAGE_AUTHOR_REQUIRED")
    sent_by_bot = "sender_business_bot" in message
    if (
        not sent_by_bot
        and "reply_markup" not in message
        and world.now() - message["date"] > EDIT_WINDOW
    ):
        raise bad_request("MESSAGE_EDIT_TIME_EXPIRED")
    return message
