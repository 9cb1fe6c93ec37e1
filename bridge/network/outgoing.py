"""What the core asks a connector to carry to the network."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from .ids import RemoteMessageID


@dataclass(frozen=True, slots=True)
class MatrixSender:
    mxid: str
    displayname: str
    # True when the bot sends on this user's behalf (relay mode) rather than their own account.
    relayed: bool = True


FileKind = Literal["image", "file", "video", "audio", "voice", "sticker"]


@dataclass(frozen=True, slots=True)
class OutgoingFile:
    """A Matrix file, downloaded by the core, for the network to send."""

    kind: FileKind
    data: bytes = field(repr=False)
    file_name: str
    mimetype: str
    width: int | None = None
    height: int | None = None
    duration_ms: int | None = None


@dataclass(frozen=True, slots=True)
class MatrixMessage:
    """Text, or a file with its caption as ``body`` (empty for none, unless relayed: then the
    sender's name)."""

    event_id: str
    room_id: str
    sender: MatrixSender
    msgtype: Literal["m.text", "m.notice", "m.emote"]
    body: str
    html: str | None = None
    reply_to: RemoteMessageID | None = None
    # The remote thread (a Telegram forum topic) the message goes into.
    thread_id: RemoteMessageID | None = None
    file: OutgoingFile | None = None
    # A shared location (latitude, longitude); ``body`` is then the relayed name, if any.
    geo: tuple[float, float] | None = None


@dataclass(frozen=True, slots=True)
class MatrixEdit:
    """A Matrix message's new content (``message.event_id`` is the edit's own event), and the
    remote parts its first version became, in order (part id, remote id)."""

    message: MatrixMessage
    parts: tuple[tuple[str, RemoteMessageID], ...]
    # The message is a file (part "0"), and ``message`` its new caption.
    caption: bool = False


@dataclass(frozen=True, slots=True)
class SentMessage:
    """One message the network accepted; a long text may become several."""

    message_id: RemoteMessageID
    part_id: str = ""


@dataclass(frozen=True, slots=True)
class PartRemoved:
    """An edit made the message shorter: this part is gone from the remote chat."""

    part_id: str


@dataclass(frozen=True, slots=True)
class SendingPart:
    """Yielded just before a part leaves for the network, so the core notes it first: a part
    noted but never recorded as sent is in doubt after a crash."""

    part_id: str


@dataclass(frozen=True, slots=True)
class SendProgress:
    """What the core knows of a message's parts when it asks a connector to send it."""

    # Parts recorded as sent: not to be sent again.
    already_sent: frozenset[str] = frozenset()
    # Parts whose sending started but was never recorded, each with the newest remote message
    # the bridge knew then: the connector looks for them past it before sending them again, if
    # its network lets it.
    in_doubt: Mapping[str, RemoteMessageID | None] = field(default_factory=dict)
    # Remote ids of the chat's messages the bridge knows now (newest first): not the part.
    known_messages: tuple[RemoteMessageID, ...] = ()
