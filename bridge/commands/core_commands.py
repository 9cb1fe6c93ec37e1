"""The commands every bridge has: help, ping, version, cancel."""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from itertools import groupby

from ..config.model import PermissionLevel
from .types import Command, CommandEvent


def core_commands(
    version: str,
    network_name: str,
    status: Callable[[], Awaitable[str]],
    limits: str | None = None,
    account: Callable[[str], Awaitable[str]] | None = None,
) -> list[Command]:
    """``limits``: what the network keeps from the bridge, said at the end of ``help``;
    ``account``: a line for ``ping`` about the sender's linked account."""

    async def help_command(event: CommandEvent) -> None:
        commands = event.processor.available_to(event.level)
        lines: list[str] = []
        html_parts: list[str] = []
        if not event.is_management_room:
            lines.append(f"Commands start with {event.processor.prefix} here.")
            prefix = html.escape(event.processor.prefix)
            html_parts.append(f"<p>Commands start with <code>{prefix}</code> here.</p>")
        for section, members in groupby(commands, key=lambda command: command.section):
            items = list(members)
            lines.append(f"{section}:")
            lines += [f"  {_usage(command)} - {command.help}" for command in items]
            html_parts.append(f"<p><strong>{html.escape(section)}</strong></p><ul>")
            html_parts += [
                f"<li><code>{html.escape(_usage(command))}</code>: {html.escape(command.help)}</li>"
                for command in items
            ]
            html_parts.append("</ul>")
        if limits:
            lines.append(limits)
            html_parts.append(f"<p>{html.escape(limits)}</p>")
        await event.reply("\n".join(lines), "".join(html_parts))

    async def ping_command(event: CommandEvent) -> None:
        text = f"Pong! The bridge is running. {network_name}: {await status()}"
        if account is not None and event.level >= PermissionLevel.USER:
            text += f"\n{await account(event.sender)}"
        await event.reply(text)

    async def version_command(event: CommandEvent) -> None:
        await event.reply(f"matrix-telegram-bridge {version}")

    async def cancel_command(event: CommandEvent) -> None:
        cancelled = event.processor.cancel(event.sender)
        if cancelled is None:
            await event.reply("There is nothing to cancel.")
        else:
            await event.reply(f"Cancelled {cancelled.command}.")

    return [
        Command("help", help_command, "Show the commands you can use", PermissionLevel.RELAY),
        Command(
            "ping",
            ping_command,
            "Check the bridge and your link",
            PermissionLevel.RELAY,
        ),
        Command("version", version_command, "Show the bridge's version", PermissionLevel.RELAY),
        Command(
            "cancel",
            cancel_command,
            "Stop the command that waits for your answer",
            PermissionLevel.RELAY,
        ),
    ]


def _usage(command: Command) -> str:
    return f"{command.name} {command.args}".strip()
