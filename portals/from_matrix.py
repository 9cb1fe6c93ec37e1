"""Matrix events in a portal's room, carried to the remote chat."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Literal, cast

from mautrix.errors import MatrixRequestError
from mautrix.types import EventType, RoomID, UserID

from bridge.config.model import PermissionLevel
from bridge.db.inbox import StoredMatrixEvent
from bridge.network.ids import RemoteMessageID
from bridge.network.interface import DeliveryError, TemporaryFailure
from bridge.network.outgoing import (
    FileKind,
    MatrixMessage,
    MatrixSender,
    SendingPart,
    SendProgress,
    SentMessage,
)

from . import relay
from .catch_up import missing_before, missing_latest
from .delivery import retry_delay
from .matrix_edits import carry_edit
from .matrix_files import caption_of, fetch_file, file_kind
from .matrix_locations import location_of
from .matrix_reactions import annotation, carry_reaction
from .matrix_redactions import carry_redaction, redacted_event
from .to_matrix_ids import carries_marker

if TYPE_CHECKING:
    from .portal import Portal

TEXT_TYPES = ("m.text", "m.notice", "m.emote")
# Remote messages waiting in the inbox whose ids a look-up for a part in doubt may skip.
WAITING_KNOWN = 500


async def handle_event(
    portal: Portal,
    event: dict[str, Any],
    retry: bool = False,
    catching_up: bool = False,
    inbox_id: int = 0,
) -> bool:
    """Carry one Matrix event of the portal's room to the remote chat.

    ``retry``: an earlier attempt (or a run before a restart) may have sent some of it.
    Returns whether handling the event again would be harmless (its parts are in the message
    map), so that marking it handled may wait.
    """
    sender = event.get("sender")
    content = event.get("content")
    if not isinstance(sender, str) or not isinstance(content, dict):
        return False
    if _is_bridge_user(portal, sender) or carries_marker(event):
        return False  # the bridge's own doing, come back
    if portal.room_id != event.get("room_id"):
        # Unbridging hands the room's waiting events to the room's lane; this one was on its
        # way into the portal's meanwhile.
        portal.log.info(
            "Event %s came after its room was unbridged; not handled", event.get("event_id")
        )
        return False
    match event.get("type"):
        case "m.room.message" | "m.sticker":
            return await _message(portal, event, sender, content, retry, catching_up, inbox_id)
        case "m.reaction" if (relation := annotation(content)) is not None:
            if _relays(portal, sender):
                target, key = relation
                await carry_reaction(
                    portal,
                    str(event.get("event_id")),
                    sender,
                    target,
                    key,
                    lambda text: notice(portal, text),
                )
        case "org.matrix.msc3381.poll.start" | "m.poll.start" if _relays(portal, sender):
            network = portal.ctx.connector.display_name
            await notice(portal, f"Your poll was not bridged: polls are not carried to {network}.")
        case "m.room.redaction" if (redacts := redacted_event(event)) is not None:
            if _relays(portal, sender):
                await carry_redaction(portal, sender, redacts, lambda text: notice(portal, text))
        case "m.room.name" if isinstance(content.get("name"), str):
            await _room_change(portal, sender, "name", content["name"])
        case "m.room.topic" if isinstance(content.get("topic"), str):
            await _room_change(portal, sender, "topic", content["topic"])
        case "m.room.member" if event.get("state_key") == sender:
            _remember_name(portal, sender, content)
            await _membership(portal, event, sender, content)
    return False


async def _catch_up(portal: Portal, event: dict[str, Any], inbox_id: int) -> None:
    """Handle, in timeline order, earlier events of the room not handled yet (see
    catch_up.py), so this message cannot overtake them. Only done when there is reason to
    think deliveries left a gap before it (bridge/matrix/gaps.py), not for every message."""
    if not portal.ctx.gaps.due(portal.checked_at, inbox_id):
        return
    try:
        missing = await missing_before(portal, event)
    except MatrixRequestError as error:
        if error.http_status >= 500 or error.http_status == 429:
            raise  # passing trouble: the portal tries again
        # The homeserver does not know the event's place (it is not in its timeline).
        portal.log.debug("No timeline around %s: %s", event.get("event_id"), error)
        missing = []
    await _handle_ahead(portal, missing)
    portal.checked_at = inbox_id


async def sweep(portal: Portal) -> None:
    """Handle the room's latest events that never arrived (run from the portal's lane)."""
    await _handle_ahead(portal, await missing_latest(portal))


async def _handle_ahead(portal: Portal, events: list[StoredMatrixEvent]) -> None:
    for missing in events:
        event_id = str(missing.event.get("event_id"))
        portal.log.warning("Event %s came out of order or not at all; handling it now", event_id)
        await handle_event(portal, missing.event, retry=True, catching_up=True)
        await portal.ctx.matrix_inbox.mark_handled(missing.id)
        portal.caught_up.add(event_id)


def _remember_name(portal: Portal, user_id: str, content: dict[str, Any]) -> None:
    name = content.get("displayname")
    if content.get("membership") == "join" and isinstance(name, str) and name:
        portal.ctx.names[(str(portal.room_id), user_id)] = name


def _relays(portal: Portal, sender: str) -> bool:
    """Whether the bot carries what this Matrix user does (relaying on, and their level)."""
    ctx = portal.ctx
    return ctx.config.bridge.relay.enabled and ctx.users.level(sender) >= PermissionLevel.RELAY


def _is_bridge_user(portal: Portal, sender: str) -> bool:
    return sender == portal.ctx.config.bot_mxid or portal.ctx.ghosts.is_ghost(sender)


async def _message(
    portal: Portal,
    event: dict[str, Any],
    sender: str,
    content: dict[str, Any],
    retry: bool,
    catching_up: bool,
    inbox_id: int,
) -> bool:
    ctx = portal.ctx
    room_id = str(event.get("room_id"))
    event_id = str(event.get("event_id"))
    body = content.get("body")
    if not isinstance(body, str):
        return False
    level = ctx.users.level(sender)

    async def reply(text: str, html: str | None = None) -> None:
        # To the event's room even if the command unbridged it.
        await send_notice(portal, room_id, text, html)

    if await ctx.commands.handle(sender, level, room_id, body, False, reply):
        return False
    if level < PermissionLevel.RELAY:
        return False
    if not ctx.config.bridge.relay.enabled:
        # No Matrix user can link a remote account yet, so each one would be relayed by the bot.
        if sender not in portal.told_relay_off:
            network = ctx.connector.display_name
            await notice(
                portal,
                f"{sender}, your messages are not bridged to {network}: relaying by the bridge "
                f"bot is turned off (bridge.relay.enabled), and you have no linked {network} "
                "account.",
            )
            portal.told_relay_off.add(sender)
        return False
    ctx.activity[room_id] = time.monotonic()
    if not catching_up:
        await _catch_up(portal, event, inbox_id)
    original = _replaced(content)
    if original is not None:
        # An edit: what counts is its new content (the body outside is a fallback).
        new_content = content.get("m.new_content")
        if not isinstance(new_content, dict) or not isinstance(new_content.get("body"), str):
            return False
        content = new_content
    kind = file_kind(str(event.get("type")), content)
    message = await _relayed(portal, event_id, room_id, sender, content, kind, original is not None)
    if message is None:
        return False
    if original is not None:
        progress = await _progress(portal, event_id, original) if retry else SendProgress()
        return await carry_edit(
            portal, message, original, progress, lambda text: notice(portal, text), kind is not None
        )
    progress = await _progress(portal, event_id) if retry else SendProgress()
    return await _send(portal, message, progress)


async def _relayed(
    portal: Portal,
    event_id: str,
    room_id: str,
    sender: str,
    content: dict[str, Any],
    kind: FileKind | None,
    edit: bool,
) -> MatrixMessage | None:
    """The message as the bot relays it (None, with a notice, if it cannot be)."""
    msgtype = content.get("msgtype")
    file = None
    geo: tuple[float, float] | None = None
    if kind is not None:
        if not edit:  # an edit changes only the caption: the file stays as it was sent
            file = await fetch_file(portal, kind, content, lambda text: notice(portal, text))
            if file is None:
                return None
        msgtype = "m.text"
        text, formatted = caption_of(kind, content)
    elif msgtype == "m.location" and not edit:
        geo = await location_of(portal, content, lambda text: notice(portal, text))
        if geo is None:
            return None
        msgtype, text, formatted = "m.text", "", None
    elif msgtype in TEXT_TYPES:
        text, formatted = content["body"], content.get("formatted_body")
        if content.get("format") != "org.matrix.custom.html" or not isinstance(formatted, str):
            formatted = None
    else:
        what = "edit" if edit else "message"
        await notice(
            portal,
            f"Your {msgtype} {what} was not bridged: the bridge does not carry that kind yet.",
        )
        return None
    displayname = await _displayname(portal, sender)
    template = portal.ctx.config.bridge.relay.message_formats[str(msgtype)]
    plain, rendered = relay.render(template, displayname, sender, text, formatted)
    if (kind is not None or geo is not None) and not text:
        # No caption: the sender's name alone ("Name: " without what would follow).
        plain, rendered = plain.rstrip(" :"), rendered.rstrip(" :")
    return MatrixMessage(
        event_id=event_id,
        room_id=room_id,
        sender=MatrixSender(sender, displayname, relayed=True),
        msgtype=cast(Literal["m.text", "m.notice", "m.emote"], msgtype),
        body=plain,
        html=rendered,
        reply_to=None if edit else await _reply_target(portal, content),
        thread_id=None if edit else await _thread_target(portal, content),
        file=file,
        geo=geo,
    )


async def _send(portal: Portal, message: MatrixMessage, progress: SendProgress) -> bool:
    ctx = portal.ctx
    event_id, sender = message.event_id, message.sender.mxid
    leaving: str | None = None  # the part noted as leaving and not yet recorded
    try:
        async for step in ctx.connector.send_message(portal.key, message, progress):
            match step:
                case SendingPart(part_id=part_id):
                    await ctx.messages.intend(portal.id, event_id, part_id)
                    leaving = part_id
                case SentMessage(message_id=remote_id, part_id=part_id):
                    await ctx.messages.add(
                        portal.id, remote_id, part_id, event_id, message.room_id, sender_mxid=sender
                    )
                    leaving = None
    except DeliveryError as refusal:
        await ctx.messages.forget_intents(event_id)
        await notice(portal, f"Your message was not bridged: {refusal}")
        return False
    except TemporaryFailure as failure:
        if leaving is not None and not failure.in_doubt:
            # Refused (a flood limit, say): the part did not leave; no need to look for it.
            await ctx.messages.forget_intent(event_id, leaving)
        raise
    except Exception as failure:
        if retry_delay(failure, 0) is None:
            await notice(
                portal, "Your message was not bridged: an internal error; see the bridge log."
            )
        raise
    return True


async def _progress(portal: Portal, event_id: str, edited: str | None = None) -> SendProgress:
    """Parts recorded on an earlier attempt (or before a crash) are not sent again; parts that
    were leaving when it stopped are looked for first. ``edited``: the event is an edit of
    this one, under which its new parts are recorded (and edited again, not skipped)."""
    messages = portal.ctx.messages
    already = {row.part_id for row in await messages.by_mxid(event_id)} if edited is None else set()
    in_doubt = {
        part: RemoteMessageID(after) if after is not None else None
        for part, after in (await messages.in_doubt(event_id, edited)).items()
    }
    known: tuple[RemoteMessageID, ...] = ()
    if in_doubt:
        recent = await messages.recent_remote_ids(portal.id)
        # Remote messages stored but not bridged yet (after a restart, say) are not the part
        # either: a look-up need not spend a probe on them.
        waiting = await portal.ctx.remote_inbox.lane_batch(portal.lane.name, 0, WAITING_KNOWN)
        stored = [
            str(row.event["message_id"])
            for row in waiting
            if row.event.get("kind") == "message" and "message_id" in row.event
        ]
        known = tuple(RemoteMessageID(i) for i in (*recent, *stored))
    return SendProgress(frozenset(already), in_doubt, known)


async def _room_change(portal: Portal, sender: str, what: str, value: str) -> None:
    ctx = portal.ctx
    if not ctx.config.bridge.send_room_changes or ctx.users.level(sender) < PermissionLevel.RELAY:
        return
    if value == (portal.record.name if what == "name" else portal.record.topic):
        return  # the change came from the remote side
    try:
        if what == "name":
            await ctx.connector.set_chat_name(portal.key, value)
        else:
            await ctx.connector.set_chat_topic(portal.key, value)
    except DeliveryError as refusal:
        await notice(portal, f"The room's new {what} was not sent to the chat: {refusal}")
        return
    await ctx.portals.update(portal.id, **{what: value})
    setattr(portal.record, what, value)


async def _membership(
    portal: Portal, event: dict[str, Any], sender: str, content: dict[str, Any]
) -> None:
    ctx = portal.ctx
    relay_config = ctx.config.bridge.relay
    if not relay_config.announce_membership or ctx.users.level(sender) < PermissionLevel.RELAY:
        return
    unsigned = event.get("unsigned")
    previous = unsigned.get("prev_content", {}) if isinstance(unsigned, dict) else {}
    before = previous.get("membership") if isinstance(previous, dict) else None
    now = content.get("membership")
    if now == "join" and before != "join":
        change = "join"
        name = content.get("displayname")
    elif now == "leave" and before == "join":
        change = "leave"
        name = previous.get("displayname")
    else:
        return  # a profile change, an invite, a knock: nothing to announce
    displayname = name if isinstance(name, str) and name else _localpart(sender)
    plain, rendered = relay.render(
        relay_config.membership_formats[change], displayname, sender, "", None
    )
    message = MatrixMessage(
        event_id=str(event.get("event_id")),
        room_id=str(event.get("room_id")),
        sender=MatrixSender(sender, displayname, relayed=True),
        msgtype="m.notice",
        body=plain,
        html=rendered,
    )
    try:
        async for _ in ctx.connector.send_message(portal.key, message):
            pass  # an announcement is not mapped: nothing to note
    except DeliveryError as refusal:
        portal.log.warning("Could not announce %s of %s: %s", change, sender, refusal)


def _replaced(content: dict[str, Any]) -> str | None:
    """The event an edit replaces, if the content is an edit."""
    relates = content.get("m.relates_to")
    if not isinstance(relates, dict) or relates.get("rel_type") != "m.replace":
        return None
    event_id = relates.get("event_id")
    return event_id if isinstance(event_id, str) else None


async def _thread_target(portal: Portal, content: dict[str, Any]) -> RemoteMessageID | None:
    """The remote thread (a forum topic) of a message in a Matrix thread, if its root was
    bridged."""
    relates = content.get("m.relates_to")
    if not isinstance(relates, dict) or relates.get("rel_type") != "m.thread":
        return None
    root = relates.get("event_id")
    rows = await portal.ctx.messages.by_mxid(root) if isinstance(root, str) else []
    return RemoteMessageID(rows[0].remote_id) if rows else None


async def _reply_target(portal: Portal, content: dict[str, Any]) -> RemoteMessageID | None:
    relates = content.get("m.relates_to")
    if not isinstance(relates, dict) or relates.get("is_falling_back") is True:
        # A thread's reply fallback: the message answers nothing in particular.
        return None
    in_reply_to = relates.get("m.in_reply_to")
    if not isinstance(in_reply_to, dict) or not isinstance(in_reply_to.get("event_id"), str):
        return None
    rows = await portal.ctx.messages.by_mxid(in_reply_to["event_id"])
    return RemoteMessageID(rows[0].remote_id) if rows else None


def _localpart(user_id: str) -> str:
    return UserID(user_id).removeprefix("@").split(":", 1)[0]


async def _displayname(portal: Portal, user_id: str) -> str:
    """The sender's name as of their message: names seen in this room's own (ordered) member
    events first, then the room's current state, then the global profile (remembered, so a
    steady conversation asks the homeserver nothing)."""
    key = (str(portal.room_id), user_id)
    known = portal.ctx.names.touch(key)
    if known:
        return known
    bot = portal.ctx.matrix.bot
    name: str | None = None
    try:
        member = await bot.get_state_event(
            RoomID(str(portal.room_id)), EventType.ROOM_MEMBER, user_id
        )
        if getattr(member, "membership", None) == "join":
            name = getattr(member, "displayname", None)
        if not name:
            name = await bot.get_displayname(UserID(user_id))
    except MatrixRequestError:
        name = None
    if name:
        portal.ctx.names[key] = str(name)
        return str(name)
    return _localpart(user_id)


async def notice(portal: Portal, text: str, html: str | None = None) -> None:
    if portal.room_id is not None:
        await send_notice(portal, portal.room_id, text, html)


async def send_notice(portal: Portal, room_id: str, text: str, html: str | None = None) -> None:
    content: dict[str, Any] = {"msgtype": "m.notice", "body": text}
    if html is not None:
        content["format"] = "org.matrix.custom.html"
        content["formatted_body"] = html
    await portal.ctx.matrix.bot.send_message_event(
        RoomID(room_id),
        EventType.ROOM_MESSAGE,
        content,  # type: ignore[arg-type]
    )
