"""Events a connector hands to the core. Frozen dataclasses, dispatched with ``match``.

They are stored in the remote inbox before the network is told they arrived, so they must be
plain data: the codec below turns them into JSON and back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import TypeAdapter

from .ids import PortalKey, RemoteMessageID, RemoteUserID


@dataclass(frozen=True, slots=True)
class RemoteUser:
    """A remote user as the network describes them at the time of an event."""

    id: RemoteUserID
    displayname: str
    # Extra fields for ``bridge.displayname_template`` (Telegram: first_name, last_name, username).
    name_fields: dict[str, str] = field(default_factory=dict)
    # An opaque id of the current avatar; a change of id means a new avatar to upload.
    avatar_id: str | None = None
    is_bot: bool = False


@dataclass(frozen=True, slots=True)
class MessageContent:
    """One Matrix-ready part of a message: text now, media in later versions."""

    body: str
    html: str | None = None
    msgtype: Literal["m.text", "m.notice", "m.emote"] = "m.text"


@dataclass(frozen=True, slots=True)
class ChatInfo:
    """What the network says about a chat, used to create and update its room."""

    name: str | None = None
    topic: str | None = None
    avatar_id: str | None = None
    is_direct: bool = False


@dataclass(frozen=True, slots=True)
class RemoteMessage:
    portal: PortalKey
    message_id: RemoteMessageID
    sender: RemoteUser
    parts: tuple[MessageContent, ...]
    timestamp: datetime
    chat: ChatInfo | None = None
    reply_to: RemoteMessageID | None = None
    kind: Literal["message"] = "message"


RemoteEvent = RemoteMessage

_CODEC: TypeAdapter[RemoteEvent] = TypeAdapter(RemoteEvent)


def encode_event(event: RemoteEvent) -> dict[str, Any]:
    encoded: dict[str, Any] = _CODEC.dump_python(event, mode="json")
    return encoded


def decode_event(data: dict[str, Any]) -> RemoteEvent:
    return _CODEC.validate_python(data)
