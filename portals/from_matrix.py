"""Matrix events in a portal's room, carried to the remote chat."""

from __future__ import annotations

import html
import time
from typing import Any, Literal, cast

from mautrix.api import Method, Path
from mautrix.appservice import IntentAPI
from mautrix.errors import MatrixRequestError
from mautrix.types import EventID, RoomID

from bridge.commands.processor import CommandProcessor
from bridge.config.model import Config, PermissionLevel
from bridge.db.inbox import MatrixInboxStore, RemoteInboxStore, StoredMatrixEvent
from bridge.db.stores import MessageStore
from bridge.lru import BoundedDict
from bridge.matrix.gaps import DeliveryGaps
from bridge.metrics import MATRIX_TO_REMOTE, BridgeMetrics, MessageKind
from bridge.network.capabilities import SendsAsUser
from bridge.network.ids import RemoteMessageID
from bridge.network.interface import DeliveryError, NetworkConnector, TemporaryFailure
from bridge.network.outgoing import (
    FileKind,
    MatrixMessage,
    MatrixSender,
    SendingPart,
    SendProgress,
    SentMessage,
)

from . import relay
from .catch_up import UndeliveredEvents
from .delivery import retry_delay
from .direct_rooms import DirectRooms
from .matrix_edits import MatrixEdits
from .matrix_files import caption_of, fetch_file, file_kind
from .matrix_locations import location_of
from .matrix_reactions import MatrixReactions, annotation
from .matrix_redactions import MatrixRedactions, redacted_event
from .matrix_room_changes import MatrixRoomChanges
from .notices import send_notice
from .senders import MatrixSenders
from .state import Notify, PortalState
from .to_matrix_ids import bridge_name, carries_marker

TEXT_TYPES = ("m.text", "m.notice", "m.emote")
# Remote messages waiting in the inbox whose ids a look-up for a part in doubt may skip.
WAITING_KNOWN = 500


class FromMatrix:
    def __init__(
        self,
        config: Config,
        bot: IntentAPI,
        senders: MatrixSenders,
        commands: CommandProcessor,
        connector: NetworkConnector,
        messages: MessageStore,
        inboxes: tuple[MatrixInboxStore, RemoteInboxStore],
        gaps: DeliveryGaps,
        activity: BoundedDict[str, float],
        undelivered: UndeliveredEvents,
        room_changes: MatrixRoomChanges,
        edits: MatrixEdits,
        reactions: MatrixReactions,
        redactions: MatrixRedactions,
        direct_rooms: DirectRooms,
        metrics: BridgeMetrics,
    ) -> None:
        self._config = config
        self._bridge = bridge_name(config.appservice.id, config.homeserver.domain)
        self._metrics = metrics
        self._bot = bot
        self._senders = senders
        self._commands = commands
        self._connector = connector
        self._messages = messages
        self._matrix_inbox, self._remote_inbox = inboxes
        self._gaps = gaps
        # When a Matrix user last wrote in a portal room (monotonic), for the sweep for events
        # the homeserver never delivered.
        self._activity = activity
        self._undelivered = undelivered
        self._room_changes = room_changes
        self._edits = edits
        self._reactions = reactions
        self._redactions = redactions
        self._direct_rooms = direct_rooms

    async def handle(
        self,
        portal: PortalState,
        event: dict[str, Any],
        retry: bool = False,
        catching_up: bool = False,
        inbox_id: int = 0,
    ) -> bool:
        """Carry one Matrix event of the portal's room to the remote chat.

        ``retry``: an earlier attempt (or a run before a restart) may have sent some of it.
        Returns whether handling the event again would be harmless (its parts are in the
        message map), so that marking it handled may wait.
        """
        sender = event.get("sender")
        content = event.get("content")
        if not isinstance(sender, str) or not isinstance(content, dict):
            return False
        if self._senders.is_bridge_user(sender) or carries_marker(event, self._bridge):
            return False  # the bridge's own doing, come back (another bridge's is a user's)
        if portal.room_id != event.get("room_id"):
            # Unbridging hands the room's waiting events to the room's lane; this one was on
            # its way into the portal's meanwhile.
            portal.log.info(
                "Event %s came after its room was unbridged; not handled", event.get("event_id")
            )
            return False
        relays = self._senders.relays(sender)

        async def notify(text: str) -> None:
            await self.notice(portal, text)

        match event.get("type"):
            case "m.room.message" | "m.sticker":
                return await self._message(
                    portal, event, sender, content, retry, catching_up, inbox_id
                )
            case "m.reaction" if relays and (relation := annotation(content)) is not None:
                target, key = relation
                event_id = str(event.get("event_id"))
                await self._reactions.carry(portal, event_id, sender, target, key, notify)
            case "org.matrix.msc3381.poll.start" | "m.poll.start" if relays:
                self._metrics.failed(MATRIX_TO_REMOTE, "unsupported")
                network = self._connector.display_name
                await notify(f"Your poll was not bridged: polls are not carried to {network}.")
            case "m.room.redaction" if relays and (redacts := redacted_event(event)) is not None:
                await self._redactions.carry(portal, sender, redacts, notify)
            case "m.room.name" if isinstance(content.get("name"), str):
                await self._room_changes.rename(portal, sender, "name", content["name"], notify)
            case "m.room.topic" if isinstance(content.get("topic"), str):
                await self._room_changes.rename(portal, sender, "topic", content["topic"], notify)
            case "m.room.encryption":
                network = self._connector.display_name
                await notify(
                    "This room is now end-to-end encrypted, and the bridge cannot read encrypted "
                    f"messages: nothing written here reaches {network} any more (encryption "
                    "cannot be turned off in a room). For a direct chat, send pm with their "
                    f"{network} id to the bridge bot for an unencrypted one."
                )
            case "m.room.encrypted":
                self._metrics.failed(MATRIX_TO_REMOTE, "encrypted")
                if sender in portal.told_encrypted:
                    return False
                portal.told_encrypted.add(sender)
                network = self._connector.display_name
                await notify(
                    f"{sender}, your messages here are encrypted and the bridge cannot read "
                    f"them: they do not reach {network}."
                )
            case "m.room.member" if outsider := self._direct_rooms.outsider(portal, event):
                joined = content.get("membership") == "join"
                await self._direct_rooms.close(portal, outsider, joined)
            case "m.room.member" if event.get("state_key") == sender:
                self._senders.remember_name(str(portal.room_id), sender, content)
                await self._room_changes.announce_membership(portal, event, sender, content)
        return False

    def asks_to_unbridge(self, event: dict[str, Any]) -> bool:
        """Whether the event is a bridge admin's unbridge command (read at intake, so that
        the unbridge does not wait long behind an event that keeps failing)."""
        content, sender = event.get("content"), event.get("sender")
        if event.get("type") != "m.room.message" or not isinstance(content, dict):
            return False
        body = content.get("body")
        if not isinstance(body, str) or not isinstance(sender, str):
            return False
        text = self._commands.command_text(body, False)
        if text is None or [word.lower() for word in text.split(maxsplit=1)[:1]] != ["unbridge"]:
            return False
        return self._senders.level(sender) >= PermissionLevel.ADMIN

    async def sweep(self, portal: PortalState) -> None:
        """Handle the room's latest events that never arrived (run from the portal's lane)."""
        await self._handle_ahead(portal, await self._undelivered.missing_latest(portal))

    async def notice(self, portal: PortalState, text: str, html: str | None = None) -> None:
        if portal.room_id is not None:
            await send_notice(self._bot, portal.room_id, text, html)

    async def _catch_up(self, portal: PortalState, event: dict[str, Any], inbox_id: int) -> None:
        """Handle, in timeline order, earlier events of the room not handled yet (see
        catch_up.py), so this message cannot overtake them. Only done when there is reason to
        think deliveries left a gap before it (bridge/matrix/gaps.py), not for every
        message."""
        if not self._gaps.due(portal.checked_at, inbox_id):
            return
        portal.log.debug(
            "Looking for undelivered events before %s (inbox %d; last looked at %d)",
            event.get("event_id"),
            inbox_id,
            portal.checked_at,
        )
        try:
            missing = await self._undelivered.missing_before(portal, event)
        except MatrixRequestError as error:
            if error.http_status >= 500 or error.http_status == 429:
                raise  # passing trouble: the portal tries again
            # The homeserver does not know the event's place (it is not in its timeline).
            portal.log.debug("No timeline around %s: %s", event.get("event_id"), error)
            missing = []
        await self._handle_ahead(portal, missing)
        portal.checked_at = inbox_id

    async def _handle_ahead(self, portal: PortalState, events: list[StoredMatrixEvent]) -> None:
        for missing in events:
            event_id = str(missing.event.get("event_id"))
            portal.log.warning(
                "Event %s came out of order or not at all; handling it now", event_id
            )
            await self.handle(
                portal, missing.event, retry=True, catching_up=True, inbox_id=missing.id
            )
            await self._matrix_inbox.mark_handled(missing.id)
            portal.caught_up.add(event_id)

    async def _message(
        self,
        portal: PortalState,
        event: dict[str, Any],
        sender: str,
        content: dict[str, Any],
        retry: bool,
        catching_up: bool,
        inbox_id: int,
    ) -> bool:
        room_id = str(event.get("room_id"))
        event_id = str(event.get("event_id"))
        body = content.get("body")
        if not isinstance(body, str):
            return False
        level = self._senders.level(sender)

        async def reply(text: str, html: str | None = None) -> None:
            # To the event's room even if the command unbridged it.
            await send_notice(self._bot, room_id, text, html)

        async def claim() -> bool:
            # A command is not made harmless to repeat by the message map, as a message is:
            # it is marked handled before it runs, and runs only if this marked it.
            return await self._matrix_inbox.claim(inbox_id)

        claiming = claim if inbox_id else None
        if await self._commands.handle(sender, level, room_id, body, False, reply, claiming):
            return False
        if level < PermissionLevel.RELAY:
            return False
        as_user = self._sends_as(portal, sender)
        if as_user is False:
            self._metrics.failed(MATRIX_TO_REMOTE, "not_permitted")
            await self.notice(
                portal,
                f"{sender}, your message was not bridged: this chat belongs to another user's "
                f"{self._connector.display_name} account, and only they can write in it.",
            )
            return False
        if as_user is None and not self._config.bridge.relay.enabled:
            # The bot cannot write as a user's remote account (a linked one neither): each
            # Matrix user's messages would be relayed by the bot.
            self._metrics.failed(MATRIX_TO_REMOTE, "not_permitted")
            if sender not in portal.told_relay_off:
                network = self._connector.display_name
                await self.notice(
                    portal,
                    f"{sender}, your messages are not bridged to {network}: relaying by the "
                    f"bridge bot is turned off (bridge.relay.enabled), and the bot cannot write "
                    f"as your {network} account here.",
                )
                portal.told_relay_off.add(sender)
            return False
        self._activity[room_id] = time.monotonic()
        if not catching_up:
            await self._catch_up(portal, event, inbox_id)
        original = _replaced(content)
        if original is not None:
            # An edit: what counts is its new content (the body outside is a fallback).
            new_content = content.get("m.new_content")
            if not isinstance(new_content, dict) or not isinstance(new_content.get("body"), str):
                return False
            content = new_content

        async def notify(text: str) -> None:
            await self.notice(portal, text)

        kind = file_kind(str(event.get("type")), content)
        message = await self._relayed(
            portal, event_id, sender, content, kind, original, notify, as_user=bool(as_user)
        )
        if message is None:
            return False
        if original is not None:
            progress = await self._progress(portal, event_id, original) if retry else SendProgress()
            return await self._edits.carry(
                portal, message, original, progress, notify, kind is not None
            )
        progress = await self._progress(portal, event_id) if retry else SendProgress()
        return await self._send(portal, message, progress, notify)

    async def _relayed(
        self,
        portal: PortalState,
        event_id: str,
        sender: str,
        content: dict[str, Any],
        kind: FileKind | None,
        original: str | None,
        notify: Notify,
        as_user: bool = False,
    ) -> MatrixMessage | None:
        """The message as the bot relays it (None, with a notice, if it cannot be).
        ``original``: the message is the new content of this event (an edit); ``as_user``:
        it goes out as the sender's own remote account, without the relay's name."""
        room_id = str(portal.room_id)
        edit = original is not None
        msgtype = content.get("msgtype")
        file = None
        geo: tuple[float, float] | None = None
        if kind is not None:
            if not edit:  # an edit changes only the caption: the file stays as it was sent
                file = await fetch_file(self._connector, self._bot, kind, content, notify)
                if file is None:
                    self._metrics.failed(MATRIX_TO_REMOTE, "file_refused")
                    return None
            msgtype = "m.text"
            text, formatted = caption_of(kind, content)
        elif msgtype == "m.location" and not edit:
            geo = await location_of(self._connector, content, notify)
            if geo is None:
                self._metrics.failed(MATRIX_TO_REMOTE, "unsupported")
                return None
            msgtype, text, formatted = "m.text", "", None
        elif msgtype in TEXT_TYPES:
            text, formatted = content["body"], content.get("formatted_body")
            if content.get("format") != "org.matrix.custom.html" or not isinstance(formatted, str):
                formatted = None
        else:
            what = "edit" if edit else "message"
            self._metrics.failed(MATRIX_TO_REMOTE, "unsupported")
            await notify(
                f"Your {msgtype} {what} was not bridged: the bridge does not carry that kind yet."
            )
            return None
        displayname = await self._senders.displayname(room_id, sender)
        if as_user:
            plain, rendered = text, formatted or html.escape(text)
        else:
            template = self._config.bridge.relay.message_formats[str(msgtype)]
            plain, rendered = relay.render(template, displayname, sender, text, formatted)
        if (kind is not None or geo is not None) and not text:
            # No caption: the sender's name alone ("Name: " without what would follow).
            plain, rendered = plain.rstrip(" :"), rendered.rstrip(" :")
        return MatrixMessage(
            event_id=event_id,
            room_id=room_id,
            sender=MatrixSender(sender, displayname, relayed=not as_user),
            msgtype=cast(Literal["m.text", "m.notice", "m.emote"], msgtype),
            body=plain,
            html=rendered,
            reply_to=None if edit else await self._reply_target(content),
            thread_id=await self._thread_of(room_id, original, content, kind is not None),
            file=file,
            geo=geo,
        )

    async def _send(
        self, portal: PortalState, message: MatrixMessage, progress: SendProgress, notify: Notify
    ) -> bool:
        messages = self._messages
        event_id, sender = message.event_id, message.sender.mxid
        leaving: str | None = None  # the part noted as leaving and not yet recorded
        try:
            async for step in self._connector.send_message(portal.key, message, progress):
                match step:
                    case SendingPart(part_id=part_id):
                        await messages.intend(portal.id, event_id, part_id)
                        leaving = part_id
                    case SentMessage(message_id=remote_id, part_id=part_id):
                        await messages.add(
                            portal.id,
                            remote_id,
                            part_id,
                            event_id,
                            message.room_id,
                            sender_mxid=sender,
                        )
                        leaving = None
        except DeliveryError as refusal:
            self._metrics.failed(MATRIX_TO_REMOTE, "refused")
            portal.log.info("Message not bridged: %s", refusal)
            await messages.forget_intents(event_id)
            await notify(f"Your message was not bridged: {refusal}")
            return False
        except TemporaryFailure as failure:
            if leaving is not None and not failure.in_doubt:
                # Refused (a flood limit, say): the part did not leave; no need to look for it.
                await messages.forget_intent(event_id, leaving)
            raise
        except Exception as failure:
            if retry_delay(failure, 0) is None:
                await notify("Your message was not bridged: an internal error; see the bridge log.")
            raise
        kind: MessageKind = "file" if message.file is not None else "text"
        self._metrics.bridged(MATRIX_TO_REMOTE, "location" if message.geo is not None else kind)
        return True

    async def _progress(
        self, portal: PortalState, event_id: str, edited: str | None = None
    ) -> SendProgress:
        """Parts recorded on an earlier attempt (or before a crash) are not sent again; parts
        that were leaving when it stopped are looked for first. ``edited``: the event is an
        edit of this one, under which its new parts are recorded (and edited again, not
        skipped)."""
        messages = self._messages
        already = (
            {row.part_id for row in await messages.by_mxid(event_id)} if edited is None else set()
        )
        in_doubt = {
            part: RemoteMessageID(after) if after is not None else None
            for part, after in (await messages.in_doubt(event_id, edited)).items()
        }
        known: tuple[RemoteMessageID, ...] = ()
        if in_doubt:
            recent = await messages.recent_remote_ids([portal.id])
            # Remote messages stored but not bridged yet (after a restart, say) are not the
            # part either: a look-up need not spend a probe on them.
            waiting = await self._remote_inbox.lane_batch(portal.lane, 0, WAITING_KNOWN)
            stored = [
                str(row.event["message_id"])
                for row in waiting
                if row.event.get("kind") == "message" and "message_id" in row.event
            ]
            known = tuple(RemoteMessageID(i) for i in (*recent, *stored))
        return SendProgress(frozenset(already), in_doubt, known)

    def _sends_as(self, portal: PortalState, sender: str) -> bool | None:
        connector = self._connector
        return (
            connector.sends_as(portal.key, sender) if isinstance(connector, SendsAsUser) else None
        )

    async def _thread_of(
        self, room_id: str, original: str | None, content: dict[str, Any], caption: bool
    ) -> RemoteMessageID | None:
        """The remote thread the message goes to. An edit's new content names no thread, but
        parts it adds belong in the thread of the message it edits (a new caption adds none)."""
        if original is None:
            return await self._thread_target(content)
        if caption:
            return None
        try:
            # Asked directly: the intent's get_event would first make sure the bot is joined.
            first = await self._bot.api.request(
                Method.GET, Path.v3.rooms[RoomID(room_id)].event[EventID(original)]
            )
        except MatrixRequestError as error:
            if error.http_status >= 500 or error.http_status == 429:
                raise  # passing trouble: the portal tries again
            return None  # gone (redacted, say): no thread to keep
        content = first.get("content")
        return await self._thread_target(content) if isinstance(content, dict) else None

    async def _thread_target(self, content: dict[str, Any]) -> RemoteMessageID | None:
        """The remote thread (a forum topic) of a message in a Matrix thread, if its root was
        bridged."""
        relates = content.get("m.relates_to")
        if not isinstance(relates, dict) or relates.get("rel_type") != "m.thread":
            return None
        root = relates.get("event_id")
        rows = await self._messages.by_mxid(root) if isinstance(root, str) else []
        return RemoteMessageID(rows[0].remote_id) if rows else None

    async def _reply_target(self, content: dict[str, Any]) -> RemoteMessageID | None:
        relates = content.get("m.relates_to")
        if not isinstance(relates, dict) or relates.get("is_falling_back") is True:
            # A thread's reply fallback: the message answers nothing in particular.
            return None
        in_reply_to = relates.get("m.in_reply_to")
        if not isinstance(in_reply_to, dict) or not isinstance(in_reply_to.get("event_id"), str):
            return None
        rows = await self._messages.by_mxid(in_reply_to["event_id"])
        return RemoteMessageID(rows[0].remote_id) if rows else None


def _replaced(content: dict[str, Any]) -> str | None:
    """The event an edit replaces, if the content is an edit."""
    relates = content.get("m.relates_to")
    if not isinstance(relates, dict) or relates.get("rel_type") != "m.replace":
        return None
    event_id = relates.get("event_id")
    return event_id if isinstance(event_id, str) else None
