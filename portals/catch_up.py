"""Filling gaps in what the homeserver delivered, before relaying a Matrix message.

The homeserver delivers a room's events in transactions that should arrive in order. Synapse
can strand a transaction created while it recovers from a failed delivery and send it much
later, after newer ones; a relayed message would then overtake the one before it. So before
a message leaves for the remote chat, the events just before it in the room's timeline are
checked: any the bridge never received are stored and handled first, in timeline order, and
the homeserver's late delivery of them is deduplicated by event id.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from mautrix.api import Method, Path
from mautrix.types import EventID, RoomID

from bridge.db.inbox import StoredMatrixEvent

if TYPE_CHECKING:
    from .portal import Portal

# How far back to look, in events and in time: a gap older than this is no stranded delivery.
LOOK_BACK_EVENTS = 50
LOOK_BACK_MS = 3600 * 1000


async def missing_before(portal: Portal, event: dict[str, Any]) -> list[StoredMatrixEvent]:
    """Events before ``event`` in its room not handled yet, oldest first, stored in the inbox.

    They were never delivered, or were delivered after ``event`` and wait behind it.
    """
    room_id, event_id = event.get("room_id"), event.get("event_id")
    if not isinstance(room_id, str) or not isinstance(event_id, str):
        return []
    context = await portal.ctx.matrix.bot.api.request(
        Method.GET,
        Path.v3.rooms[RoomID(room_id)].context[EventID(event_id)],
        query_params={"limit": str(LOOK_BACK_EVENTS)},
    )
    newest_first = context.get("events_before", [])
    return await _unhandled(portal, room_id, newest_first, int(event.get("origin_server_ts", 0)))


async def missing_latest(portal: Portal) -> list[StoredMatrixEvent]:
    """The room's latest events not handled yet, oldest first, stored in the inbox: a
    stranded delivery with no later message to reveal it."""
    room_id = portal.room_id
    if room_id is None:
        return []
    page = await portal.ctx.matrix.bot.api.request(
        Method.GET,
        Path.v3.rooms[RoomID(room_id)].messages,
        query_params={"dir": "b", "limit": str(LOOK_BACK_EVENTS)},
    )
    return await _unhandled(portal, room_id, page.get("chunk", []), int(time.time() * 1000))


async def _unhandled(
    portal: Portal, room_id: str, newest_first: list[Any], now_ms: int
) -> list[StoredMatrixEvent]:
    """Walk back from the newest event to the first handled one; what lies between, oldest
    first. Events older than LOOK_BACK_MS are no stranded delivery and end the walk."""
    inbox = portal.ctx.matrix_inbox
    # The bridge's own events (the bot's, the ghosts') come back to it in their own time and
    # say nothing about the order of the users' events: look past them.
    before = [
        item
        for item in newest_first
        if isinstance(item, dict)
        and isinstance(item.get("event_id"), str)
        and not _from_bridge(portal, item)
    ]
    status = await inbox.status([item["event_id"] for item in before])
    oldest_allowed = now_ms - LOOK_BACK_MS
    gap: list[dict[str, Any]] = []
    for item in before:
        known = status.get(item["event_id"])
        handled = known is not None and known[1]
        if handled or int(item.get("origin_server_ts", 0)) < oldest_allowed:
            break
        gap.append(item)
    missing = []
    for item in reversed(gap):
        known = status.get(item["event_id"])
        if known is not None:
            missing.append(StoredMatrixEvent(known[0], room_id, item))
            continue
        stored = await inbox.accept_fetched({**item, "room_id": room_id})
        if stored is not None:
            missing.append(stored)
    return missing


def _from_bridge(portal: Portal, item: dict[str, Any]) -> bool:
    sender = item.get("sender")
    return sender == portal.ctx.config.bot_mxid or (
        isinstance(sender, str) and portal.ctx.ghosts.is_ghost(sender)
    )
