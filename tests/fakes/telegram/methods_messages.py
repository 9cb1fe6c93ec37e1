"""sendMessage, sendLocation, editMessageText, editMessageCaption, editMessageReplyMarkup,
answerCallbackQuery, deleteMessage and setMessageReaction, and the pieces every sending method
shares (threads, replies, length limits, recording what was sent, acting for a business
account)."""

from __future__ import annotations

from typing import Any

from .access import Access, check_can_send, resolve_chat, resolve_message
from .business import business_chat_of, business_message_to_edit, send_target
from .callbacks import check_markup
from .errors import NotModelled, bad_request
from .events import Simulation
from .formatting import format_text
from .html_parser import utf16_len
from .messages import is_service, new_message, reply_snapshot, resolve_mentions, set_text
from .objects import user_object
from .schema import load_schema
from .state import BusinessConnection, FakeChat, Sent

Params = dict[str, Any]

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
DELETE_WINDOW = 48 * 3600
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)


def thread_of(chat: FakeChat, thread_id: Any) -> int | None:
    """message_thread_id counts only in forums (elsewhere the official server ignores it)."""
    if thread_id is None or not chat.is_forum:
        return None
    if thread_id not in chat.topics:
        raise bad_request("message thread not found")
    return int(thread_id)


def reply_fields(chat: FakeChat, reply: Params | None) -> Params:
    if not reply:
        return {}
    if reply.get("chat_id") not in (None, chat.id):
        raise NotModelled("replies to messages of other chats")
    target = chat.messages.get(reply["message_id"])
    if target is None:
        if reply.get("allow_sending_without_reply"):
            return {}
        raise bad_request("message to be replied not found")
    fields: Params = {"reply_to_message": reply_snapshot(target)}
    quote = reply.get("quote")
    if quote:
        source = target.get("text", target.get("caption", ""))
        index = source.find(quote)
        if index < 0:
            raise bad_request("QUOTE_TEXT_INVALID")
        position = utf16_len(source[:index])
        fields["quote"] = {"text": quote, "position": position, "is_manual": True}
    return fields


def caption_fields(p: Params) -> Params:
    if not p.get("caption"):
        return {}
    text, entities = format_text(
        p["caption"], p.get("parse_mode"), p.get("caption_entities"), allow_empty=True
    )
    if utf16_len(text) > CAPTION_LIMIT:
        raise bad_request("message caption is too long")
    fields: Params = {}
    if text:
        set_text(fields, text, entities, caption=True)
    return fields


def post(
    sim: Simulation,
    method: str,
    p: Params,
    chat: FakeChat,
    content: Params,
    reply: Params,
    connection: BusinessConnection | None = None,
) -> dict[str, Any]:
    """Create, store and record a message the bot sends (for a business account: as the
    business user, naming the bot as sender_business_bot)."""
    thread_id = thread_of(chat, p.get("message_thread_id"))
    signature = sim.bot.first_name if chat.type == "channel" and chat.sign_messages else None
    sender = sim.bot if connection is None else connection.user
    message = new_message(sim, chat, sender, thread_id=thread_id, author_signature=signature)
    if connection is not None:
        message["business_connection_id"] = connection.id
        message["sender_business_bot"] = user_object(sim.bot)
    message.update(reply)
    for key in ("entities", "caption_entities"):
        if key in content:
            content[key] = resolve_mentions(sim, content[key])
    message.update(content)
    markup = p.get("reply_markup")
    check_markup(markup)
    if isinstance(markup, dict) and "inline_keyboard" in markup:
        message["reply_markup"] = markup
    chat.outgoing.add(message["message_id"])
    record = Sent(method, chat.id, message["message_id"], p, message)
    sim.sent.append(record)
    if connection is not None:
        record.business_connection_id = connection.id
        # Bot authors report Telegram echoing the bot's own business sends as business_message
        # (told apart by sender_business_bot); not verified against Telegram itself.
        sim.updates.push("business_message", message)
    return message


async def send_message(sim: Simulation, p: Params) -> Any:
    chat, connection = send_target(sim, p)
    thread_of(chat, p.get("message_thread_id"))
    text, entities = _message_text(p)
    reply = reply_fields(chat, p.get("reply_parameters"))
    content: Params = {}
    set_text(content, text, entities)
    if p.get("link_preview_options"):
        content["link_preview_options"] = p["link_preview_options"]
    return post(sim, "sendMessage", p, chat, content, reply, connection)


async def send_location(sim: Simulation, p: Params) -> Any:
    """A point on the map (live locations are not modelled: live_period is refused)."""
    chat, connection = send_target(sim, p)
    if p.get("live_period"):
        raise NotModelled("live locations")
    latitude, longitude = p["latitude"], p["longitude"]
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise bad_request("wrong latitude or longitude specified")
    reply = reply_fields(chat, p.get("reply_parameters"))
    content: Params = {"location": {"latitude": latitude, "longitude": longitude}}
    return post(sim, "sendLocation", p, chat, content, reply, connection)


async def send_chat_action(sim: Simulation, p: Params) -> Any:
    # The server reads the action before it looks at the chat.
    if p["action"] not in load_schema().chat_actions():
        raise bad_request("wrong parameter action in request")
    if p.get("business_connection_id"):
        # Modelled: typing counts as replying (can_reply, the 24-hour window).
        connection, chat = business_chat_of(sim, p, "can_reply")
        sim.business_chat_actions.append((connection.id, chat.id, p["action"], sim.now()))
        return True
    chat = resolve_chat(sim, p["chat_id"], Access.WRITE)
    check_can_send(sim, chat)
    sim.chat_actions.append((chat.id, p["action"], sim.now()))
    return True


def _message_text(p: Params) -> tuple[str, list[dict[str, Any]]]:
    if not p.get("text"):
        raise bad_request("message text is empty")
    text, entities = format_text(p["text"], p.get("parse_mode"), p.get("entities"))
    if utf16_len(text) > TEXT_LIMIT:
        raise bad_request("message is too long")
    return text, entities


def _message_to_edit(sim: Simulation, p: Params) -> dict[str, Any]:
    """The message an edit names: one the bot sent, or one of a business account's."""
    if "inline_message_id" in p:
        raise NotModelled("inline messages")
    if p.get("business_connection_id"):
        return business_message_to_edit(sim, p)
    if "chat_id" not in p:
        raise bad_request("chat_id is empty")
    chat, message = resolve_message(
        sim, p["chat_id"], p.get("message_id"), Access.EDIT, "message to edit"
    )
    if message["message_id"] not in chat.outgoing:
        raise bad_request("message can't be edited")
    return message


def _keep_version(sim: Simulation, message: dict[str, Any]) -> None:
    """Remember the version an edit replaces (for messages the bot sent)."""
    record = next((s for s in sim.sent if s.message is message), None)
    if record is not None:
        record.edits.append(dict(message))


async def edit_message_text(sim: Simulation, p: Params) -> Any:
    message = _message_to_edit(sim, p)
    if "text" not in message:
        raise bad_request("there is no text in the message to edit")
    text, entities = _message_text(p)
    entities = resolve_mentions(sim, entities)
    markup = p.get("reply_markup")
    check_markup(markup)
    if (
        text == message["text"]
        and entities == message.get("entities", [])
        and markup == message.get("reply_markup")
    ):
        raise bad_request(NOT_MODIFIED)
    _keep_version(sim, message)
    set_text(message, text, entities)
    if markup is None:
        message.pop("reply_markup", None)
    else:
        message["reply_markup"] = markup
    if p.get("link_preview_options"):
        message["link_preview_options"] = p["link_preview_options"]
    message["edit_date"] = sim.now()
    return message


_CAPTIONED = ("photo", "video", "animation", "audio", "document", "voice", "paid_media")


async def edit_message_caption(sim: Simulation, p: Params) -> Any:
    """Only the bot's own messages that carry a file; the same caption again is "not
    modified"."""
    message = _message_to_edit(sim, p)
    if not any(kind in message for kind in _CAPTIONED):
        raise bad_request("there is no caption in the message to edit")
    fields = caption_fields(p)
    fields["caption_entities"] = resolve_mentions(sim, fields.get("caption_entities", []))
    if not fields.get("caption_entities"):
        fields.pop("caption_entities", None)
    if fields.get("caption") == message.get("caption") and fields.get(
        "caption_entities", []
    ) == message.get("caption_entities", []):
        raise bad_request(NOT_MODIFIED)
    _keep_version(sim, message)
    message.pop("caption", None)
    message.pop("caption_entities", None)
    message.update(fields)
    message["edit_date"] = sim.now()
    return message


async def edit_message_reply_markup(sim: Simulation, p: Params) -> Any:
    """Only the bot's own messages; the same markup again is "not modified", as for text."""
    message = _message_to_edit(sim, p)
    markup = p.get("reply_markup")
    check_markup(markup)
    if markup == message.get("reply_markup"):
        raise bad_request(NOT_MODIFIED)
    _keep_version(sim, message)
    if markup is None:
        message.pop("reply_markup", None)
    else:
        message["reply_markup"] = markup
    message["edit_date"] = sim.now()
    return message


async def answer_callback_query(sim: Simulation, p: Params) -> Any:
    return sim.callbacks.answer(p)


async def delete_message(sim: Simulation, p: Params) -> Any:
    chat, message = resolve_message(
        sim, p["chat_id"], p["message_id"], Access.WRITE, "message to delete"
    )
    if not _can_delete(sim, chat, message):
        raise bad_request("message can't be deleted")
    sim.forget_messages(chat, [message["message_id"]])
    sim.deleted.append((chat.id, message["message_id"]))
    return True


def _can_delete(sim: Simulation, chat: FakeChat, message: dict[str, Any]) -> bool:
    if sim.now() - message["date"] > DELETE_WINDOW:
        return False
    if "supergroup_chat_created" in message or "channel_chat_created" in message:
        return False
    bot = chat.member(sim.bot.id)
    outgoing = message["message_id"] in chat.outgoing
    if chat.type == "private":
        return True
    if chat.type == "group":
        return outgoing or bot.is_admin
    if chat.type == "supergroup":
        return outgoing or bot.right("can_delete_messages")
    return (outgoing and bot.right("can_post_messages")) or bot.right("can_delete_messages")


async def set_message_reaction(sim: Simulation, p: Params) -> Any:
    reactions: list[dict[str, Any]] = p.get("reaction") or []
    chat, message = resolve_message(
        sim, p["chat_id"], p["message_id"], Access.READ, "message to react"
    )
    allowed = load_schema().reaction_emoji()
    if any(r.get("type") != "emoji" or r.get("emoji") not in allowed for r in reactions):
        raise bad_request("REACTION_INVALID")
    if is_service(message):
        raise bad_request("REACTION_INVALID")
    if len(reactions) > 1:
        raise bad_request("REACTIONS_TOO_MANY")
    sim.bot_reactions[(chat.id, message["message_id"])] = reactions
    return True
