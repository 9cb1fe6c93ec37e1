"""Bridging a Matrix room to a remote chat and undoing it, as the portals offer it to the
commands and the provisioning API: one set of checks, whoever asks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from .config.model import PermissionLevel

Refusal = Literal[
    "not_permitted", "already_bridged", "not_bridged", "chat_unavailable", "management_room"
]

# Tells the room's members what happened (a command's reply, a notice from the API).
Announce = Callable[[str], Awaitable[None]]


class BridgingRefused(Exception):
    """Nothing was changed; ``reason`` says why for a program, the text for a person."""

    def __init__(self, reason: Refusal, text: str) -> None:
        super().__init__(text)
        self.reason: Refusal = reason


@dataclass(frozen=True, slots=True)
class BridgedRoom:
    room_id: str
    chat_id: str
    name: str | None
    # The Matrix user a portal is held for (a direct chat through the bot), if any.
    receiver: str | None = None


class RoomBridging(Protocol):
    async def bridge(
        self,
        sender: str,
        level: PermissionLevel,
        room_id: str,
        chat_id: str,
        announce: Announce,
    ) -> BridgedRoom:
        """Bridge the room to the chat; raise BridgingRefused."""

    async def unbridge(
        self, sender: str, level: PermissionLevel, room_id: str, announce: Announce
    ) -> BridgedRoom:
        """Stop bridging the room (what it was bridged to); raise BridgingRefused."""

    async def bridged_rooms(self) -> list[BridgedRoom]:
        """Every portal that has a room."""
