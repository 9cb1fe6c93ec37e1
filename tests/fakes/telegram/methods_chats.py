"""getChat and the member queries, setChatTitle, setChatDescription and leaveChat."""

from __future__ import annotations

from typing import Any

from .access import Access, resolve_chat
from .errors import bad_request
from .events import Simulation
from .messages import new_message
from .objects import chat_full_info, chat_member_object
from .state import FakeChat, Member

Params = dict[str, Any]
TITLE_LIMIT = 128
DESCRIPTION_LIMIT = 255


async def get_chat(sim: Simulation, p: Params) -> Any:
    return chat_full_info(resolve_chat(sim, p["chat_id"], Access.READ))


async def get_chat_member(sim: Simulation, p: Params) -> Any:
    user_id = p["user_id"]
    access = Access.READ if user_id == sim.bot.id else Access.READ_MEMBERS
    chat = resolve_chat(sim, p["chat_id"], access)
    user = sim.users.get(user_id)
    if user is None:
        raise bad_request("user not found")
    return chat_member_object(chat, user, chat.member(user_id))


async def get_chat_administrators(sim: Simulation, p: Params) -> Any:
    chat = resolve_chat(sim, p["chat_id"], Access.READ_MEMBERS)
    if chat.type == "private":
        raise bad_request("there are no administrators in the private chat")
    result = []
    for status in ("creator", "administrator"):
        for user_id, member in chat.members.items():
            user = sim.users[user_id]
            other_bot = user.is_bot and user_id != sim.bot.id
            if member.status == status and (not other_bot or p.get("return_bots")):
                result.append(chat_member_object(chat, user, member))
    return result


async def get_chat_member_count(sim: Simulation, p: Params) -> Any:
    chat = resolve_chat(sim, p["chat_id"], Access.READ_MEMBERS)
    return sum(1 for member in chat.members.values() if member.present)


def _check_change_info(sim: Simulation, chat: FakeChat, what: str) -> None:
    if chat.type == "private":
        raise bad_request(f"can't change private chat {what}")
    # Bots need the right as appointed administrators, even in basic groups.
    if not chat.member(sim.bot.id).right("can_change_info"):
        raise bad_request(f"not enough rights to change chat {what}")


def _bot_service_message(sim: Simulation, chat: FakeChat, **content: Any) -> None:
    """Telegram posts a service message for the change; the bot gets no update for its own."""
    message = new_message(sim, chat, sim.bot)
    message.update(content)
    chat.outgoing.add(message["message_id"])


async def set_chat_title(sim: Simulation, p: Params) -> Any:
    chat = resolve_chat(sim, p["chat_id"], Access.WRITE)
    title = " ".join(p["title"].split())[:TITLE_LIMIT]
    if not title:
        raise bad_request("title must be non-empty")
    _check_change_info(sim, chat, "title")
    if title != chat.title:  # an unchanged title succeeds without a service message
        chat.title = title
        _bot_service_message(sim, chat, new_chat_title=title)
    return True


async def set_chat_description(sim: Simulation, p: Params) -> Any:
    chat = resolve_chat(sim, p["chat_id"], Access.WRITE)
    description = p.get("description", "")
    _check_change_info(sim, chat, "description")
    if len(description) > DESCRIPTION_LIMIT:
        raise bad_request("CHAT_ABOUT_TOO_LONG")
    if description == (chat.description or ""):
        raise bad_request("chat description is not modified")
    chat.description = description or None
    return True


async def leave_chat(sim: Simulation, p: Params) -> Any:
    chat = resolve_chat(sim, p["chat_id"], Access.READ)
    if chat.type == "private":
        raise bad_request("chat member status can't be changed in private chats")
    old = chat.member(sim.bot.id)
    if not old.present:
        raise bad_request("USER_NOT_PARTICIPANT")
    new = Member("left")
    chat.members[sim.bot.id] = new
    sim.member_changed(chat, sim.bot, sim.bot, old, new)
    return True
