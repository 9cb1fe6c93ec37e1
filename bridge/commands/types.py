"""What a command is, and what a running command sees."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from ..config.model import PermissionLevel


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    handler: Callable[[CommandEvent], Awaitable[None]]
    help: str
    level: PermissionLevel = PermissionLevel.USER
    args: str = ""
    section: str = "General"
    aliases: tuple[str, ...] = ()


class Commands(Protocol):
    """What a running command may ask of the processor that runs it (processor.py)."""

    @property
    def prefix(self) -> str: ...

    def available_to(self, level: PermissionLevel) -> list[Command]: ...

    def prompt(self, user: str, prompt: PendingPrompt) -> None: ...

    def cancel(self, user: str) -> PendingPrompt | None: ...

    def usage(self, name: str, is_management_room: bool) -> str: ...


@dataclass(slots=True)
class CommandEvent:
    sender: str
    level: PermissionLevel
    room_id: str
    command: str
    args: list[str]
    is_management_room: bool
    processor: Commands
    _reply: Callable[[str, str | None], Awaitable[None]] = field(repr=False)

    async def reply(self, text: str, html: str | None = None) -> None:
        await self._reply(text, html)


@dataclass(frozen=True, slots=True)
class PendingPrompt:
    """A command waiting for the user's next message (for example a login asking for a code)."""

    command: str
    handler: Callable[[CommandEvent, str], Awaitable[None]]
