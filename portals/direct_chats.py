"""A Matrix user's direct chat with a remote user, through the bot.

Inviting a remote user's ghost to a room (Element's "start chat") makes it a portal of the
bot's private chat with that user, held for the inviter: the ghost joins and brings the bot,
and the bot carries the inviter's messages there under their name. ``pm`` opens such a room
from the bridge's side. The bridge cannot read encrypted rooms yet, so an encrypted room is
not bridged: the ghost says so at once and points to ``pm``, whose rooms are unencrypted.
"""

from __future__ import annotations

import logging
from typing import Any

from mautrix.appservice import IntentAPI
from mautrix.errors import MatrixRequestError
from mautrix.types import EventType, RoomID

from bridge.commands.types import Command, CommandEvent
from bridge.config.model import PermissionLevel
from bridge.ghosts import GhostManager
from bridge.matrix.client import MatrixClient
from bridge.network.capabilities import HasBot
from bridge.network.events import ChatInfo
from bridge.network.ids import PortalKey, RemoteChatID, RemoteUserID
from bridge.network.interface import ChatUnavailable, NetworkConnector
from bridge.users import UserManager

from .manager import BindRefused, PortalManager

log = logging.getLogger("portals.direct_chats")


def encrypted_notice(network: str) -> str:
    return (
        "This chat is end-to-end encrypted, and the bridge cannot read encrypted messages yet: "
        f"nothing written here can reach {network}. Send pm with their {network} id to the "
        "bridge bot in your management room for an unencrypted chat that works."
    )


def crowded_notice(network: str, others: list[str]) -> str:
    return (
        f"This room is not bridged: a direct chat with a {network} user is a room of you, them "
        f"and the bridge bot, and {', '.join(others)} {'is' if len(others) == 1 else 'are'} "
        f"here too, who would read their private replies. Start the chat in a room of your "
        f"own, or send pm with their {network} id to the bridge bot."
    )


class DirectChats:
    def __init__(
        self,
        matrix: MatrixClient,
        ghosts: GhostManager,
        users: UserManager,
        portals: PortalManager,
        connector: NetworkConnector,
    ) -> None:
        self._matrix = matrix
        self._ghosts = ghosts
        self._users = users
        self._portals = portals
        self._connector = connector

    async def invited(self, inviter: str, target: str, room_id: str) -> None:
        """``inviter`` invited ``target`` to a room that is no portal."""
        remote = self._ghosts.remote_id_of(target)
        if remote is None:
            return
        ghost = self._matrix.intent(target)
        if self._users.level(inviter) < PermissionLevel.USER:
            await _leave(ghost.leave_room(RoomID(room_id), reason="You may not open chats"))
            return
        await ghost.join_room(RoomID(room_id))
        network = self._connector.display_name
        if await _encrypted(ghost, room_id):
            await ghost.send_notice(RoomID(room_id), encrypted_notice(network))
            await _leave(ghost.leave_room(RoomID(room_id)))
            return
        key = PortalKey(RemoteChatID(str(remote)), inviter)
        existing = await self._portals.get(key)
        if existing is not None and existing.room_id is not None:
            await ghost.send_notice(
                RoomID(room_id),
                f"You have a chat with them already: {existing.room_id}. This room is not bridged.",
            )
            await _leave(ghost.leave_room(RoomID(room_id)))
            return
        bot = self._matrix.bot
        others = await self._matrix.present_members(ghost, room_id) - {inviter, target, bot.mxid}
        if others:
            await ghost.send_notice(RoomID(room_id), crowded_notice(network, sorted(others)))
            await _leave(ghost.leave_room(RoomID(room_id)))
            return
        info, reachable = await self._info(key, target)
        await ghost.invite_user(RoomID(room_id), bot.mxid)
        await bot.join_room(RoomID(room_id))

        async def welcome() -> None:
            # In the portal's turn: before the messages written meanwhile are handled.
            text = f"This room is your chat with {info.name} on {network}."
            if not reachable:
                text += " " + self.not_started(info.name or str(remote))
            await bot.send_notice(RoomID(room_id), text)

        try:
            await self._portals.bind_room(key, room_id, info, then=welcome)
        except BindRefused as refusal:
            await ghost.send_notice(RoomID(room_id), f"This room is not bridged: {refusal}.")
            return
        log.info("%s opened a direct chat with %s in %s", inviter, remote, room_id)

    async def open(self, mxid: str, remote: RemoteUserID) -> tuple[str, bool]:
        """``pm``: the room of ``mxid``'s direct chat with ``remote`` (made if new, unencrypted,
        with them invited) and whether the remote user can be reached yet."""
        key = PortalKey(RemoteChatID(str(remote)), mxid)
        ghost_mxid = self._ghosts.mxid_for(remote)
        info, reachable = await self._info(key, ghost_mxid)
        room_id = await self._portals.create_room(key, info, invite=[mxid])
        await self._matrix.intent(ghost_mxid).ensure_joined(RoomID(room_id))
        return room_id, reachable

    def not_started(self, name: str) -> str:
        network = self._connector.display_name
        connector = self._connector
        contact = connector.bot_contact if isinstance(connector, HasBot) else None
        how = contact.instructions() if contact is not None else "open a chat with it there"
        return (
            f"{name} has not started a chat with the bridge bot on {network} yet, so your "
            f"messages cannot reach them: ask them to {how}."
        )

    async def _info(self, key: PortalKey, ghost_mxid: str) -> tuple[ChatInfo, bool]:
        try:
            return await self._connector.get_chat_info(key), True
        except ChatUnavailable as reason:
            log.info("Direct chat with %s not reachable yet: %s", key.chat_id, reason)
        try:
            name = await self._matrix.bot.get_displayname(ghost_mxid)  # type: ignore[arg-type]
        except MatrixRequestError:
            name = None
        return ChatInfo(name=name or str(key.chat_id), is_direct=True), False


def direct_commands(direct: DirectChats, network: str) -> list[Command]:
    async def pm_command(event: CommandEvent) -> None:
        if len(event.args) != 1:
            await event.reply(f"Usage: {event.processor.usage('pm', False)} <{network} user id>")
            return
        room_id, reachable = await direct.open(event.sender, RemoteUserID(event.args[0]))
        text = f"Your chat with {event.args[0]} is {room_id}: you are invited."
        if not reachable:
            text += " " + direct.not_started(event.args[0])
        await event.reply(text)

    return [
        Command(
            "pm",
            pm_command,
            f"Open an (unencrypted) direct chat with a {network} user",
            PermissionLevel.USER,
            args=f"<{network} user id>",
            section="Portals",
        )
    ]


async def _encrypted(member: IntentAPI, room_id: str) -> bool:
    try:
        await member.get_state_event(RoomID(room_id), EventType.ROOM_ENCRYPTION)
    except MatrixRequestError:
        return False  # no such state: not encrypted
    return True


async def _leave(leaving: Any) -> None:
    try:
        await leaving
    except MatrixRequestError as error:
        log.debug("Could not leave: %s", error)
