"""Matrix-side commands that bridge a room to a remote chat and undo it."""

from __future__ import annotations

from bridge.accounts import AccountLinks
from bridge.commands.types import Command, CommandEvent
from bridge.config.model import PermissionLevel
from bridge.network.capabilities import LinksAccounts
from bridge.network.ids import PortalKey, RemoteChatID
from bridge.network.interface import ChatUnavailable, NetworkConnector

from .manager import BindRefused, PortalManager


def portal_commands(
    portals: PortalManager, connector: NetworkConnector, accounts: AccountLinks
) -> list[Command]:
    network = connector.display_name

    async def may_manage(event: CommandEvent, key: PortalKey) -> bool:
        """Bridge admins may (un)bridge any chat; a user whose linked account administers
        the chat may (un)bridge that one."""
        if event.level >= PermissionLevel.ADMIN:
            return True
        link = await accounts.link_of(event.sender)
        if link is not None and isinstance(connector, LinksAccounts):
            administers = await connector.administers(key, link[0])
            if administers:
                return True
        await event.reply(
            f"Only bridge admins, or users whose linked {network} account is an "
            f"administrator of the chat, can do that."
        )
        return False

    async def bridge_command(event: CommandEvent) -> None:
        if len(event.args) != 1:
            await event.reply(f"Usage: {event.processor.usage('bridge', False)} <chat id>")
            return
        if event.is_management_room:
            await event.reply(
                "Run this in the room you want to bridge, not in your management room."
            )
            return
        if await portals.by_room(event.room_id) is not None:
            await event.reply("This room is bridged already; unbridge it first.")
            return
        key = PortalKey(RemoteChatID(event.args[0]))
        if not await may_manage(event, key):
            return
        try:
            info = await connector.get_chat_info(key)
        except ChatUnavailable as reason:
            await event.reply(f"Cannot bridge {event.args[0]}: {reason}")
            return
        name = info.name or event.args[0]
        try:
            # Checked in the portal's own order: a room created for the chat meanwhile (from
            # the network's side) is not overwritten.
            await portals.bind_room(
                key, event.room_id, info, then=lambda: event.reply(f"Bridged this room to {name}.")
            )
        except BindRefused as refusal:
            await event.reply(f"Cannot bridge {event.args[0]}: {refusal}.")

    async def unbridge_command(event: CommandEvent) -> None:
        portal = await portals.by_room(event.room_id)
        if portal is None:
            await event.reply("This room is not bridged.")
            return
        if not await may_manage(event, portal.key):
            return
        # Answer first: once unbound, the room's next events leave this portal's queue and
        # could be answered before this.
        await event.reply(f"This room is no longer bridged to {portal.record.name or portal.key}.")
        await portals.unbind_room(portal)

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
