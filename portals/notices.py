"""Notices from the bridge bot into a room: how a Matrix user learns what did not cross."""

from __future__ import annotations

from typing import Any

from mautrix.appservice import IntentAPI
from mautrix.types import EventType, RoomID


async def send_notice(
    bot: IntentAPI,
    room_id: str,
    text: str,
    html: str | None = None,
    txn_id: str | None = None,
    reply_to: str | None = None,
) -> None:
    """``txn_id``: the homeserver makes one event of every send with the same id. ``reply_to``:
    the event the notice is about (clients show it above the notice)."""
    content: dict[str, Any] = {"msgtype": "m.notice", "body": text}
    if html is not None:
        content["format"] = "org.matrix.custom.html"
        content["formatted_body"] = html
    if reply_to is not None:
        content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
    await bot.send_message_event(
        RoomID(room_id),
        EventType.ROOM_MESSAGE,
        content,  # type: ignore[arg-type]
        txn_id=txn_id,
    )
