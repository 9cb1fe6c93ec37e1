"""Events a portal gave up (a bound of bridge.retries, an admin's skip, an unbridge behind them)
in words: what the stuck command lists, and the notice that tells the room whose event did not
cross and why."""

from __future__ import annotations

from typing import Any, assert_never

from bridge.network.events import (
    RemoteChatCreate,
    RemoteChatMigrate,
    RemoteChatUpdate,
    RemoteDeletion,
    RemoteEdit,
    RemoteEvent,
    RemoteMembership,
    RemoteMessage,
    RemoteReaction,
    RemoteUser,
)

from .lanes import MatrixItem, RemoteItem

_MSGTYPES = {"m.image": "image", "m.file": "file", "m.video": "video", "m.audio": "audio file"}


def what_waits(item: MatrixItem | RemoteItem, network: str) -> str:
    """The event in a few words, for an admin."""
    match item:
        case MatrixItem(event=event):
            return (
                f"{_matrix_kind(event)} {event.get('event_id')} from {event.get('sender')} "
                f"to {network}"
            )
        case RemoteItem(event=remote):
            sender = _remote_sender(remote)
            by = f" from {sender.displayname} ({sender.id})" if sender is not None else ""
            return f"{network} {_remote_kind(remote)}{by}"
        case _:
            assert_never(item)


def notice_of(
    item: MatrixItem | RemoteItem, reason: str, network: str, may_have_arrived: bool
) -> tuple[str, str | None]:
    """The notice telling that ``item`` was not bridged because of ``reason``, and the Matrix
    event it is about (its reply target), if any."""
    match item:
        case MatrixItem(event=event):
            text = (
                f"{event.get('sender')}, your {_matrix_kind(event)} was not bridged to "
                f"{network}: {reason}. The bridge stopped trying, so that what was sent after "
                "it can follow."
            )
            if may_have_arrived:
                text += f" It may have reached {network} all the same."
            event_id = event.get("event_id")
            return text, event_id if isinstance(event_id, str) else None
        case RemoteItem(event=remote):
            sender = _remote_sender(remote)
            by = f" from {sender.displayname}" if sender is not None else ""
            return f"A {network} {_remote_kind(remote)}{by} was not bridged: {reason}.", None
        case _:
            assert_never(item)


def _matrix_kind(event: dict[str, Any]) -> str:
    content = event.get("content")
    content = content if isinstance(content, dict) else {}
    match event.get("type"):
        case "m.room.message":
            return _MSGTYPES.get(str(content.get("msgtype")), "message")
        case "m.sticker":
            return "sticker"
        case "m.reaction":
            return "reaction"
        case "m.room.redaction":
            return "redaction"
        case "m.room.name":
            return "room name"
        case "m.room.topic":
            return "room topic"
        case _:
            return "event"


def _remote_kind(event: RemoteEvent) -> str:
    match event:
        case RemoteMessage(message_id=message_id):
            return f"message {message_id}"
        case RemoteEdit(message_id=message_id):
            return f"edit of message {message_id}"
        case RemoteReaction(message_id=message_id):
            return f"reaction to message {message_id}"
        case RemoteDeletion(message_id=message_id):
            return f"deletion of message {message_id}"
        case RemoteChatUpdate():
            return "change of the chat's name, description or photo"
        case RemoteMembership():
            return "join or leave"
        case RemoteChatCreate() | RemoteChatMigrate():
            return "change of the chat"
        case _:
            assert_never(event)


def _remote_sender(event: RemoteEvent) -> RemoteUser | None:
    match event:
        case RemoteMessage(sender=sender) | RemoteEdit(sender=sender):
            return sender
        case RemoteReaction(sender=sender):
            return sender
        case RemoteChatUpdate(sender=sender):
            return sender
        case RemoteMembership(user=user):
            return user
        case _:
            return None
