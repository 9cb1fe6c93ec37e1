"""Matrix events in a portal's room, carried to the remote chat."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, cast

from mautrix.errors import MatrixRequestError
from mautrix.types import EventType, RoomID, UserID

from bridge.config.model import PermissionLevel
from bridge.network.ids import RemoteMessageID
from bridge.network.interface import DeliveryError
from bridge.network.outgoing import MatrixMessage, MatrixSender

if TYPE_CHECKING:
    from .portal import Portal

TEXT_TYPES = ("m.text", "m.notice", "m.emote")


async def handle_event(portal: Portal, event: dict[str, Any]) -> None:
    sender = event.get("sender")
    if not isinstance(sender, str) or _is_bridge_user(portal, sender):
        return
    if event.get("type") == "m.room.message":
        await _message(portal, event, sender)


def _is_bridge_user(portal: Portal, sender: str) -> bool:
    return sender == portal.ctx.config.bot_mxid or portal.ctx.ghosts.is_ghost(sender)


async def _message(portal: Portal, event: dict[str, Any], sender: str) -> None:
    ctx = portal.ctx
    content = event.get("content")
    room_id = str(event.get("room_id"))
    event_id = str(event.get("event_id"))
    if not isinstance(content, dict) or not isinstance(content.get("body"), str):
        return
    level = ctx.users.level(sender)

    async def reply(text: str, html: str | None = None) -> None:
        await notice(portal, text, html)

    if await ctx.commands.handle(sender, level, room_id, content["body"], False, reply):
        return
    if level < PermissionLevel.RELAY:
        return
    msgtype = content.get("msgtype")
    if msgtype not in TEXT_TYPES:
        await notice(
            portal, f"Your {msgtype} message was not bridged: only text is bridged so far."
        )
        return
    html = (
        content.get("formatted_body") if content.get("format") == "org.matrix.custom.html" else None
    )
    message = MatrixMessage(
        event_id=event_id,
        room_id=room_id,
        sender=MatrixSender(sender, await _displayname(portal, sender), relayed=True),
        msgtype=cast(Literal["m.text", "m.notice", "m.emote"], msgtype),
        body=content["body"],
        html=html if isinstance(html, str) else None,
        reply_to=await _reply_target(portal, content),
    )
    try:
        sent = await ctx.connector.send_message(portal.key, message)
    except DeliveryError as refusal:
        await notice(portal, f"Your message was not bridged: {refusal}")
        return
    except Exception:
        await notice(portal, "Your message was not bridged: an internal error; see the bridge log.")
        raise
    for part in sent:
        await ctx.messages.add(
            portal.id, part.message_id, part.part_id, event_id, room_id, sender_mxid=sender
        )


async def _reply_target(portal: Portal, content: dict[str, Any]) -> RemoteMessageID | None:
    relates = content.get("m.relates_to")
    if not isinstance(relates, dict):
        return None
    in_reply_to = relates.get("m.in_reply_to")
    if not isinstance(in_reply_to, dict) or not isinstance(in_reply_to.get("event_id"), str):
        return None
    rows = await portal.ctx.messages.by_mxid(in_reply_to["event_id"])
    return RemoteMessageID(rows[0].remote_id) if rows else None


async def _displayname(portal: Portal, user_id: str) -> str:
    try:
        member = await portal.ctx.matrix.bot.get_state_event(
            RoomID(str(portal.room_id)), EventType.ROOM_MEMBER, user_id
        )
        name = member.get("displayname") if isinstance(member, dict) else None
        if name is None:
            name = getattr(member, "displayname", None)
    except MatrixRequestError:
        name = None
    return str(name) if name else UserID(user_id).removeprefix("@").split(":", 1)[0]


async def notice(portal: Portal, text: str, html: str | None = None) -> None:
    if portal.room_id is None:
        return
    content: dict[str, Any] = {"msgtype": "m.notice", "body": text}
    if html is not None:
        content["format"] = "org.matrix.custom.html"
        content["formatted_body"] = html
    await portal.ctx.matrix.bot.send_message_event(
        RoomID(portal.room_id),
        EventType.ROOM_MESSAGE,
        content,  # type: ignore[arg-type]
    )
