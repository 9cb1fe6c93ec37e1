"""Opaque identifiers for remote objects; only a connector knows how its network encodes them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NewType

RemoteChatID = NewType("RemoteChatID", str)
RemoteUserID = NewType("RemoteUserID", str)
RemoteMessageID = NewType("RemoteMessageID", str)


@dataclass(frozen=True, slots=True)
class PortalKey:
    """Which remote chat a portal stands for, and for whom: ``receiver`` "" means everyone, a
    Matrix user's ID a direct chat through the bot held for them, anything else a value of the
    connector's own (a business connection)."""

    chat_id: RemoteChatID
    receiver: str = ""

    def __str__(self) -> str:
        return f"{self.chat_id}/{self.receiver}" if self.receiver else str(self.chat_id)


def part_order(part_id: str) -> tuple[int, str]:
    """Sort key of the parts one message became: "0", "1", ... in number order (any other id,
    which a connector may use for an extra part, after them)."""
    return (int(part_id), "") if part_id.isdigit() else (1 << 30, part_id)
