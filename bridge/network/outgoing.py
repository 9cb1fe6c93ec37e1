"""What the core asks a connector to carry to the network."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .ids import RemoteMessageID


@dataclass(frozen=True, slots=True)
class MatrixSender:
    mxid: str
    displayname: str
    # True when the bot sends on this user's behalf (relay mode) rather than their own account.
    relayed: bool = True


@dataclass(frozen=True, slots=True)
class MatrixMessage:
    event_id: str
    room_id: str
    sender: MatrixSender
    msgtype: Literal["m.text", "m.notice", "m.emote"]
    body: str
    html: str | None = None
    reply_to: RemoteMessageID | None = None


@dataclass(frozen=True, slots=True)
class SentMessage:
    """One message the network accepted; a long text may become several."""

    message_id: RemoteMessageID
    part_id: str = ""
