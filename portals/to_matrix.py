"""Remote events into the portal's Matrix room, as ghosts."""

from __future__ import annotations

import json
from typing import Any, assert_never

from mautrix.api import Method, Path
from mautrix.appservice import IntentAPI
from mautrix.errors import MatrixRequestError
from mautrix.types import EventID, EventType, RoomID

from bridge.db.stores import MessageStore, PortalStore
from bridge.ghosts import GhostManager
from bridge.matrix.client import MatrixClient
from bridge.metrics import REMOTE_TO_MATRIX, BridgeMetrics, MessageKind
from bridge.network.events import (
    MessageContent,
    PollStart,
    RemoteChatCreate,
    RemoteChatMigrate,
    RemoteChatUpdate,
    RemoteDeletion,
    RemoteEdit,
    RemoteEvent,
    RemoteMembership,
    RemoteMessage,
    RemoteReaction,
)
from bridge.network.interface import NetworkConnector

from .migrate import ChatMoves
from .remote_media import media_event
from .remote_reactions import RemoteReactions
from .remote_senders import RemoteSenders
from .room import OPENED_BY_CHAT_ADMIN, PortalRooms
from .state import PortalState
from .to_matrix_ids import BRIDGE_KEY, SOURCE_KEY, mark, transaction_id

POLL_START = "org.matrix.msc3381.poll.start"


class ToMatrix:
    """Remote events into the portal's Matrix room."""

    def __init__(
        self,
        matrix: MatrixClient,
        ghosts: GhostManager,
        connector: NetworkConnector,
        messages: MessageStore,
        portals: PortalStore,
        rooms: PortalRooms,
        moves: ChatMoves,
        reactions: RemoteReactions,
        senders: RemoteSenders,
        metrics: BridgeMetrics,
        bridge: str,
    ) -> None:
        """``bridge``: the bridge's name in the marker of what it sends (to_matrix_ids.py)."""
        self._bridge = bridge
        self._metrics = metrics
        self._matrix = matrix
        self._ghosts = ghosts
        self._connector = connector
        self._messages = messages
        self._portals = portals
        self._rooms = rooms
        self._moves = moves
        self._reactions = reactions
        self._senders = senders

    async def handle(self, portal: PortalState, event: RemoteEvent, recheck: bool = False) -> bool:
        """``recheck``: an earlier attempt may have reached the homeserver without its answer
        reaching the bridge; look before sending again.

        Returns whether handling the event again would be harmless (its effect is in the message
        map), so that marking it handled may wait.
        """
        match event:
            case RemoteMessage():
                await self._message(portal, event, recheck)
                return True
            case RemoteEdit():
                await self._edit(portal, event, recheck)
            case RemoteReaction():
                await self._reactions.carry(portal, event)
            case RemoteDeletion():
                await self._deletion(portal, event)
            case RemoteChatCreate():
                await self._create(portal, event)
            case RemoteChatUpdate():
                if event.sender is not None and portal.room_id is not None:
                    await self._ghosts.ensure(event.sender)
                await self._rooms.update(portal, event.name, event.topic, event.avatar)
            case RemoteMembership():
                await self._membership(portal, event)
            case RemoteChatMigrate():
                await self._moves.follow(portal, event.new_chat_id)
            case _:
                assert_never(event)
        return False

    async def _create(self, portal: PortalState, event: RemoteChatCreate) -> None:
        if event.request_id is not None and not (portal.record.extra or {}).get(
            OPENED_BY_CHAT_ADMIN
        ):
            # Asked for by an admin of the chat (/bridge): its alias may open it again later.
            extra = {**(portal.record.extra or {}), OPENED_BY_CHAT_ADMIN: True}
            await self._portals.update(portal.id, extra=extra)
            portal.record.extra = extra
        # Invited when the room is made; a create that finds the room made already (the same
        # chat's next message came before it was) invites nobody again.
        invite = event.invite if portal.room_id is None else ()
        room_id = await self._rooms.ensure(portal, event.info, invite)
        alias = None if event.info.is_direct else self._rooms.alias_of(portal.key)
        await self._connector.portal_created(portal.key, room_id, alias, event)

    async def _membership(self, portal: PortalState, event: RemoteMembership) -> None:
        room_id = portal.room_id
        if room_id is None:
            return
        ghost = await self._ghosts.ensure(event.user)
        intent = self._matrix.intent(ghost.mxid)
        if event.membership == "join":
            await intent.ensure_joined(RoomID(room_id))
            return
        try:
            if event.by is not None and event.by.id != event.user.id:
                reason = f"Removed by {event.by.displayname}"
                await self._matrix.bot.kick_user(RoomID(room_id), intent.mxid, reason=reason)
            else:
                await intent.leave_room(RoomID(room_id))
        except MatrixRequestError as error:
            # Already gone (never joined, or left on its own): nothing to undo.
            portal.log.debug("%s could not leave %s: %s", ghost.mxid, room_id, error)

    async def _message(
        self, portal: PortalState, message: RemoteMessage, recheck: bool, txn_tag: str = ""
    ) -> None:
        """``txn_tag``: tells the sends apart from others of the same message (an edit sent as
        new must not be taken by the homeserver for a send of the first version)."""
        room_id = portal.room_id
        if room_id is None:
            portal.log.debug("No room yet; message %s not bridged", message.message_id)
            return
        done: set[str] = set()
        if recheck:  # a first attempt has nothing recorded: no need to ask
            rows = await self._messages.by_remote(portal.id, message.message_id)
            done = {row.part_id for row in rows}
        intent = await self._senders.joined(portal, room_id, message.sender)
        senders = self._senders.senders(message.sender)
        reply_to = await self._reply_target(portal, message)
        thread_root = await self._thread_root(portal, message)
        timestamp = int(message.timestamp.timestamp() * 1000)
        for index, part in enumerate(message.parts):
            part_id = str(index)
            if part_id in done:
                continue
            txn_id = transaction_id(portal.key, message.message_id, f"{txn_tag}{part_id}")
            event_id = await _find_sent(intent, room_id, txn_id, senders) if recheck else None
            if event_id is None:
                event_type, content = "m.room.message", _content(part)
                if part.poll is not None:
                    event_type, content = POLL_START, _poll_content(part.poll, part.body)
                elif part.media is not None:
                    event_type, content = await media_event(
                        self._connector, portal.log, intent, part, part.media
                    )
                relation = _relation(reply_to, thread_root)
                if relation is not None:
                    content["m.relates_to"] = relation
                mark(content, self._bridge, txn_id)
                kind = EventType.find(event_type, EventType.Class.MESSAGE)
                try:
                    event_id = await _send(intent, room_id, kind, content, txn_id, timestamp)
                except MatrixRequestError as error:
                    if not self._senders.refused(error) or self._ghosts.is_ghost(intent.mxid):
                        raise
                    # The bridge may no longer act as the linked user: the ghost shows it.
                    portal.log.warning(
                        "Sending as %s refused (%s); as the ghost", intent.mxid, error
                    )
                    intent = await self._senders.ghost(portal, room_id, message.sender)
                    event_id = await _send(intent, room_id, kind, content, txn_id, timestamp)
            await self._messages.add(
                portal.id,
                message.message_id,
                part_id,
                event_id,
                room_id,
                sender_remote_id=str(message.sender.id),
                sender_mxid=intent.mxid,
            )
        self._metrics.bridged(
            REMOTE_TO_MATRIX, _kind(message.parts[0]) if message.parts else "text"
        )

    async def _deletion(self, portal: PortalState, deletion: RemoteDeletion) -> None:
        """Every Matrix event the message became is redacted (by the bot, which moderates portal
        rooms); redacting again is harmless, so a retry is too."""
        room_id = portal.room_id
        rows = await self._messages.by_remote(portal.id, deletion.message_id)
        if room_id is None or not rows:
            return
        network = self._connector.display_name
        for row in rows:
            await self._matrix.bot.redact(
                RoomID(room_id), EventID(row.mxid), reason=f"Deleted in {network}"
            )
            await self._messages.remove_part(row.mxid, row.part_id)
        self._metrics.bridged(REMOTE_TO_MATRIX, "redaction")

    async def _edit(self, portal: PortalState, edit: RemoteEdit, recheck: bool) -> None:
        """Each part the message became in Matrix is replaced (``m.replace``) by its new content."""
        room_id = portal.room_id
        rows = {
            row.part_id: row for row in await self._messages.by_remote(portal.id, edit.message_id)
        }
        if room_id is None:
            portal.log.debug("No room yet; edit of %s not bridged", edit.message_id)
            return
        if not rows:
            # Its sender cannot be told, and Matrix never saw the message (it came before the
            # portal, or failed): it arrives now, as it reads now, and later edits replace it.
            portal.log.info("Edit of %s, which was not bridged: sent as new", edit.message_id)
            message = RemoteMessage(
                edit.portal, edit.message_id, edit.sender, edit.parts, edit.timestamp
            )
            await self._message(portal, message, recheck, f"edit:{edit.edit_id}:")
            return
        first_sender = next(iter(rows.values())).sender_mxid
        intent = await self._senders.of_sender(portal, room_id, first_sender, edit.sender)
        senders = self._senders.senders(edit.sender)
        timestamp = int(edit.timestamp.timestamp() * 1000)
        for index, part in enumerate(edit.parts):
            row = rows.get(str(index))
            if row is None:
                portal.log.info("Edit of %s has a part %d it did not have", edit.message_id, index)
                continue
            txn_id = transaction_id(portal.key, edit.message_id, f"edit:{edit.edit_id}:{index}")
            if recheck and await _find_sent(intent, room_id, txn_id, senders) is not None:
                continue
            if part.media is not None:
                # A new caption: the file stays as it was in Matrix.
                first = await intent.get_event(RoomID(room_id), EventID(row.mxid))
                content = caption_replacement(first.content.serialize(), part, row.mxid)
            else:
                content = replacement(part, row.mxid)
            mark(content, self._bridge, txn_id)
            await intent.send_message_event(
                RoomID(room_id),
                EventType.ROOM_MESSAGE,
                content,  # type: ignore[arg-type]
                txn_id=txn_id,
                timestamp=timestamp,
            )
        self._metrics.bridged(REMOTE_TO_MATRIX, "edit")

    async def _reply_target(self, portal: PortalState, message: RemoteMessage) -> str | None:
        if message.reply_to is None:
            return None
        rows = await self._messages.by_remote(portal.id, message.reply_to)
        return rows[0].mxid if rows else None

    async def _thread_root(self, portal: PortalState, message: RemoteMessage) -> str | None:
        """The Matrix event that roots the message's thread (its topic's first message)."""
        if message.thread_id is None:
            return None
        rows = await self._messages.by_remote(portal.id, message.thread_id)
        if not rows:
            portal.log.debug("Topic %s started before the portal; no thread", message.thread_id)
            return None
        return rows[0].mxid


def replacement(part: MessageContent, event_id: str) -> dict[str, Any]:
    """An ``m.replace`` of ``event_id`` by ``part``, with the "* " fallback for clients that
    do not know edits."""
    new = _content(part)
    content = {**new, "body": f"* {part.body}", "m.new_content": new}
    if part.html is not None:
        content["formatted_body"] = f"* {part.html}"
    content["m.relates_to"] = {"rel_type": "m.replace", "event_id": event_id}
    return content


def caption_replacement(
    first: dict[str, Any], part: MessageContent, event_id: str
) -> dict[str, Any]:
    """An ``m.replace`` of a file's event (``first``, its content) with a new caption."""
    new = {
        key: value
        for key, value in first.items()
        if key not in ("m.relates_to", "format", "formatted_body", SOURCE_KEY, BRIDGE_KEY)
    }
    name = str(first.get("filename") or first.get("body") or "")
    new["filename"] = name
    new["body"] = part.body or name
    if part.html is not None:
        new |= {"format": "org.matrix.custom.html", "formatted_body": part.html}
    return {
        "msgtype": new.get("msgtype", "m.file"),
        "body": f"* {new['body']}",
        "m.new_content": new,
        "m.relates_to": {"rel_type": "m.replace", "event_id": event_id},
    }


async def _send(
    intent: IntentAPI,
    room_id: str,
    kind: EventType,
    content: dict[str, Any],
    txn_id: str,
    timestamp: int,
) -> EventID:
    return await intent.send_message_event(
        RoomID(room_id),
        kind,
        content,  # type: ignore[arg-type]
        txn_id=txn_id,
        timestamp=timestamp,
    )


async def _find_sent(
    intent: IntentAPI, room_id: str, txn_id: str, senders: list[str]
) -> str | None:
    """The event an earlier attempt sent, if the homeserver took it.

    The transaction id makes the homeserver drop a resend only while it remembers the id
    (Synapse: in memory, for a while); after a homeserver restart only the marker in the
    content tells. Looks at the ghost's latest messages in the room.
    """
    query = {
        "dir": "b",
        "limit": "100",
        "filter": json.dumps(
            {"senders": senders, "types": ["m.room.message", "m.sticker", POLL_START]}
        ),
    }
    response = await intent.api.request(
        Method.GET, Path.v3.rooms[RoomID(room_id)].messages, query_params=query
    )
    for event in response.get("chunk", []):
        content = event.get("content")
        if isinstance(content, dict) and content.get(SOURCE_KEY) == txn_id:
            return str(event["event_id"])
    return None


def _relation(reply_to: str | None, thread_root: str | None) -> dict[str, Any] | None:
    """A reply, a message in a thread, or a reply in a thread (with the reply fallback clients
    without threads show: the thread's root when it answers nothing in particular)."""
    if thread_root is not None:
        return {
            "rel_type": "m.thread",
            "event_id": thread_root,
            "is_falling_back": reply_to is None,
            "m.in_reply_to": {"event_id": reply_to or thread_root},
        }
    if reply_to is not None:
        return {"m.in_reply_to": {"event_id": reply_to}}
    return None


def _kind(part: MessageContent) -> MessageKind:
    if part.poll is not None:
        return "poll"
    if part.media is not None:
        return "file"
    return "location" if part.geo_uri is not None else "text"


def _content(part: MessageContent) -> dict[str, Any]:
    content: dict[str, Any] = {"msgtype": part.msgtype, "body": part.body}
    if part.html is not None:
        content["format"] = "org.matrix.custom.html"
        content["formatted_body"] = part.html
    if part.geo_uri is not None:
        content["geo_uri"] = part.geo_uri
        content["org.matrix.msc3488.location"] = {"uri": part.geo_uri}
    return content


def _poll_content(poll: PollStart, fallback: str) -> dict[str, Any]:
    """An MSC3381 poll start; clients without polls show the fallback text."""
    kind = "disclosed" if poll.disclosed else "undisclosed"
    content: dict[str, Any] = {
        POLL_START: {
            "question": {"org.matrix.msc1767.text": poll.question},
            "kind": f"org.matrix.msc3381.poll.{kind}",
            "max_selections": poll.max_selections,
            "answers": [
                {"id": str(index), "org.matrix.msc1767.text": answer}
                for index, answer in enumerate(poll.answers)
            ],
        },
        "org.matrix.msc1767.text": fallback,
        "body": fallback,
    }
    return content
