"""What a command is, and what a running command sees."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..config.model import PermissionLevel

if TYPE_CHECKING:
    from .processor import CommandProcessor


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    handler: Callable[[CommandEvent], Awaitable[None]]
    help: str
    level: PermissionLevel = PermissionLevel.USER
    args: str = ""
    section: str = "General"
    aliases: tuple[str, ...] = ()


@dataclass(slots=True)
class CommandEvent:
    sender: str
    level: PermissionLevel
    room_id: str
    command: str
    args: list[str]
    is_management_room: bool
    processor: CommandProcessor
    _reply: Callable[[str, str | None], Awaitable[None]] = field(repr=False)

    async def reply(self, text: str, html: str | None = None) -> None:
        await self._reply(text, html)


@dataclass(frozen=True, slots=True)
class PendingPrompt:
    """A command waiting for the user's next message (for example a login asking for a code)."""

    command: str
    handler: Callable[[CommandEvent, str], Awaitable[None]]
