"""Finds the command in a message, checks the sender's level and runs it."""

from __future__ import annotations

import difflib
import html
import logging
from collections.abc import Awaitable, Callable, Iterable

from ..config.model import PermissionLevel
from ..network.interface import TemporaryFailure
from .types import Command, CommandEvent, PendingPrompt

log = logging.getLogger("bridge.commands")

Reply = Callable[[str, str | None], Awaitable[None]]


class CommandProcessor:
    def __init__(self, prefix: str, commands: Iterable[Command]) -> None:
        self.prefix = prefix
        self._commands: dict[str, Command] = {}
        self._pending: dict[str, PendingPrompt] = {}
        for command in commands:
            self.register(command)

    def register(self, command: Command) -> None:
        for name in (command.name, *command.aliases):
            if name in self._commands:
                raise ValueError(f"command {name!r} is registered twice")
            self._commands[name] = command

    def available_to(self, level: PermissionLevel) -> list[Command]:
        unique = {command.name: command for command in self._commands.values()}
        return sorted(
            (command for command in unique.values() if command.level <= level),
            key=lambda command: (command.section, command.name),
        )

    def prompt(self, user: str, prompt: PendingPrompt) -> None:
        self._pending[user] = prompt

    def cancel(self, user: str) -> PendingPrompt | None:
        return self._pending.pop(user, None)

    def pending(self, user: str) -> PendingPrompt | None:
        return self._pending.get(user)

    def command_text(self, body: str, is_management_room: bool) -> str | None:
        """The command line in a message, or None if the message is not a command."""
        stripped = body.strip()
        if stripped.startswith(self.prefix):
            rest = stripped[len(self.prefix) :]
            # "!tg ping" is a command; "!tgfoo" is just a message that happens to start alike.
            if rest == "" or rest[0].isspace():
                return rest.strip()
            return None
        return stripped if is_management_room else None

    async def handle(
        self,
        sender: str,
        level: PermissionLevel,
        room_id: str,
        body: str,
        is_management_room: bool,
        reply: Reply,
        claim: Callable[[], Awaitable[bool]] | None = None,
    ) -> bool:
        """Run the message as a command or as the answer to a pending prompt.

        ``claim`` marks the message handled before it runs, and says False if it was already
        (a command must not run twice): the message is then left alone.

        Returns False if the message is neither (it is then an ordinary message).
        """
        if level < PermissionLevel.RELAY:
            return False
        text = self.command_text(body, is_management_room)
        pending = self._pending.get(sender)
        if pending is not None and is_management_room:
            name = (text or "").split(maxsplit=1)[0].lower() if text else ""
            if name != "cancel":
                if not await _claimed(claim):
                    return True
                event = self._event(sender, level, room_id, pending.command, [], True, reply)
                self._pending.pop(sender, None)
                await pending.handler(event, body)
                return True
        if text is None:
            return False
        if not await _claimed(claim):
            return True
        name, _, rest = text.partition(" ")
        name = name.lower()
        args = rest.split()
        if not name:
            await reply(_help_hint(self.prefix, is_management_room), None)
            return True
        command = self._commands.get(name)
        event = self._event(sender, level, room_id, name, args, is_management_room, reply)
        if command is None:
            await self._unknown(event, level)
            return True
        if level < command.level:
            await reply(
                f"You may not use {name}: it needs the {command.level.name.lower()} level, "
                f"and you have {level.name.lower()}.",
                None,
            )
            return True
        try:
            await command.handler(event)
        except TemporaryFailure as failure:
            # The network cannot be reached now (not connected yet, say): said, not an error.
            await reply(f"The {name} command cannot be done now: {failure}. Try again later.", None)
        except Exception:
            log.exception("Command %s by %s failed", name, sender)
            await reply(
                f"The {name} command failed with an internal error; see the bridge log.", None
            )
        return True

    def _event(
        self,
        sender: str,
        level: PermissionLevel,
        room_id: str,
        name: str,
        args: list[str],
        is_management_room: bool,
        reply: Reply,
    ) -> CommandEvent:
        return CommandEvent(
            sender=sender,
            level=level,
            room_id=room_id,
            command=name,
            args=args,
            is_management_room=is_management_room,
            processor=self,
            _reply=reply,
        )

    async def _unknown(self, event: CommandEvent, level: PermissionLevel) -> None:
        names = [command.name for command in self.available_to(level)]
        close = difflib.get_close_matches(event.command, names, n=1)
        hint = f" Did you mean {close[0]}?" if close else ""
        help_name = self.usage("help", event.is_management_room)
        text = (
            f"Unknown command {event.command}.{hint} Send {help_name} for the commands you can use."
        )
        html_text = (
            f"Unknown command <code>{html.escape(event.command)}</code>."
            + (f" Did you mean <code>{html.escape(close[0])}</code>?" if close else "")
            + f" Send <code>{html.escape(help_name)}</code> for the commands you can use."
        )
        await event.reply(text, html_text)

    def usage(self, name: str, is_management_room: bool) -> str:
        return name if is_management_room else f"{self.prefix} {name}"


async def _claimed(claim: Callable[[], Awaitable[bool]] | None) -> bool:
    if claim is None or await claim():
        return True
    log.info("A command that was handled already came again; not run again")
    return False


def _help_hint(prefix: str, is_management_room: bool) -> str:
    help_name = "help" if is_management_room else f"{prefix} help"
    return f"Send {help_name} for the commands you can use."
