"""stuck and skip, for bridge admins: what each chat's queue waits on (an event that keeps
failing, see retries.py), and giving that event up so that the chat moves on."""

from __future__ import annotations

import asyncio
import time

from bridge.commands.types import Command, CommandEvent
from bridge.config.model import PermissionLevel

from .manager import PortalManager, StuckChat

# Seconds skip waits to say how it went (an attempt under way may take longer).
SKIP_PATIENCE = 10.0


def stuck_commands(portals: PortalManager, network: str) -> list[Command]:
    async def stuck(event: CommandEvent) -> None:
        if not event.is_management_room:
            await event.reply(_only_there("stuck"))
            return
        chats = portals.stuck()
        if not chats:
            await event.reply("No chat waits on an event that keeps failing.")
            return
        now = time.monotonic()
        lines = [f"Chats waiting on an event that keeps failing ({len(chats)}):"]
        lines += [f"- {_chat(chat, network)}: {chat.wait.summary(now)}" for chat in chats]
        lines.append(
            "Send skip with a room id or chat id to give its event up (its sender is told)."
        )
        await event.reply("\n".join(lines))

    async def skip(event: CommandEvent) -> None:
        if not event.is_management_room:
            await event.reply(_only_there("skip"))
            return
        if len(event.args) != 1:
            await event.reply(f"Usage: {event.processor.usage('skip', True)} <room id or chat id>")
            return
        wanted = event.args[0]
        chats = [chat for chat in portals.stuck() if wanted in (chat.room_id, chat.chat_id)]
        if len(chats) > 1:
            await event.reply(
                f"Several chats are {wanted} (direct chats of several users): name the room id."
            )
            return
        wait = chats[0].skip(event.sender) if chats else None
        if wait is None:
            await event.reply(
                f"{wanted} waits on nothing: its events go through."
                if portals.names_a_portal(wanted)
                else f"No bridged room or {network} chat is {wanted}."
            )
            return
        try:
            async with asyncio.timeout(SKIP_PATIENCE):
                await wait.ended.wait()
        except TimeoutError:
            await event.reply(
                f"{wait.what} is given up if the attempt under way fails too (it has been "
                f"under way for over {SKIP_PATIENCE:.0f} s)."
            )
            return
        if wait.ending == "skipped":
            text = f"Skipped {wait.what}; its sender was told, and the chat moves on."
        elif wait.ending == "went through":
            text = f"{wait.what} went through meanwhile: nothing was skipped."
        else:
            text = f"{wait.what} was {wait.ending} meanwhile."
        await event.reply(text)

    return [
        Command(
            "stuck",
            stuck,
            "Show the chats whose queue waits on an event that keeps failing",
            PermissionLevel.ADMIN,
            section="Administration",
        ),
        Command(
            "skip",
            skip,
            "Give up the event a chat's queue waits on (its sender is told)",
            PermissionLevel.ADMIN,
            args="<room id or chat id>",
            section="Administration",
        ),
    ]


def _chat(chat: StuckChat, network: str) -> str:
    name = f" {chat.name}" if chat.name else ""
    return f"{chat.room_id or 'no room yet'} ({network} chat {chat.chat_id}{name})"


def _only_there(name: str) -> str:
    return f"Send {name} in your management room (a private chat with the bridge bot)."
