"""Matrix-side commands that bridge a room to a remote chat and undo it."""

from __future__ import annotations

from bridge.bridging import BridgingRefused, RoomBridging
from bridge.commands.types import Command, CommandEvent
from bridge.config.model import PermissionLevel


def portal_commands(bridging: RoomBridging) -> list[Command]:
    async def bridge_command(event: CommandEvent) -> None:
        if len(event.args) != 1:
            await event.reply(f"Usage: {event.processor.usage('bridge', False)} <chat id>")
            return
        try:
            await bridging.bridge(
                event.sender, event.level, event.room_id, event.args[0], event.reply
            )
        except BridgingRefused as refusal:
            await event.reply(str(refusal))

    async def unbridge_command(event: CommandEvent) -> None:
        try:
            await bridging.unbridge(event.sender, event.level, event.room_id, event.reply)
        except BridgingRefused as refusal:
            await event.reply(str(refusal))

    return [
        Command(
            "bridge",
            bridge_command,
            "Bridge this room to a remote chat the bot is in",
            PermissionLevel.USER,
            args="<chat id>",
            section="Portals",
        ),
        Command(
            "unbridge",
            unbridge_command,
            "Stop bridging this room",
            PermissionLevel.USER,
            section="Portals",
        ),
    ]
