"""getBusinessConnection, readBusinessMessage and deleteBusinessMessages (the sends and edits
with business_connection_id live with their methods; business.py has the shared checks)."""

from __future__ import annotations

from typing import Any

from .business import (
    INVALID_MESSAGE_ID,
    business_chat_of,
    check_enabled,
    check_right,
    connection_by_id,
)
from .errors import NotModelled, bad_request
from .events import Simulation
from .objects import business_connection_object

Params = dict[str, Any]
DELETE_LIMIT = 100


async def get_business_connection(sim: Simulation, p: Params) -> Any:
    return business_connection_object(connection_by_id(sim, p["business_connection_id"]))


async def read_business_message(sim: Simulation, p: Params) -> Any:
    """Marks the chat read up to the message. Modelled: as readHistory does, an id the chat
    does not have is accepted too (it only moves the mark)."""
    connection, chat = business_chat_of(sim, p, "can_read_messages", message_id=True)
    contact_id = chat.id
    connection.read_up_to[contact_id] = max(
        connection.read_up_to.get(contact_id, 0), p["message_id"]
    )
    return True


async def delete_business_messages(sim: Simulation, p: Params) -> Any:
    """Messages the bot sent for the account need can_delete_sent_messages (or
    can_delete_all_messages), others can_delete_all_messages. Unknown ids are ignored, as
    messages.deleteMessages ignores them (modelled); no 48-hour limit, since the bot acts as
    the user, who has none in private chats (modelled)."""
    message_ids: list[int] = p["message_ids"]
    if len(message_ids) > DELETE_LIMIT:
        raise bad_request("too many message identifiers specified")
    connection = connection_by_id(sim, p["business_connection_id"])
    if any(message_id <= 0 for message_id in message_ids):
        raise bad_request(INVALID_MESSAGE_ID)
    check_enabled(connection)
    chats = [
        chat
        for (connection_id, _), chat in sim.business_chats.items()
        if connection_id == connection.id and not chat.messages.keys().isdisjoint(message_ids)
    ]
    if len(chats) > 1:
        raise NotModelled("deleteBusinessMessages with messages of several chats")
    for chat in chats:
        for message_id in message_ids:
            message = chat.messages.get(message_id)
            if message is None:
                continue
            if "sender_business_bot" in message:
                check_right(connection, "can_delete_sent_messages", "can_delete_all_messages")
            else:
                check_right(connection, "can_delete_all_messages")
        sim.forget_messages(chat, message_ids)
    return True
