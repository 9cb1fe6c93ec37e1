"""Rooms that are not portals: the bot's invites, management rooms and their commands."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from mautrix.errors import MatrixRequestError
from mautrix.types import EventType, RoomID

from .commands.processor import CommandProcessor
from .config.model import Config, PermissionLevel
from .matrix.client import MatrixClient
from .users import UserManager

log = logging.getLogger("bridge.management")

WELCOME = (
    "Hello, I am the {network} bridge bot. This room is your management room: send commands "
    "here without a prefix. Send help for the commands you can use."
)


class ManagementRooms:
    def __init__(
        self,
        config: Config,
        matrix: MatrixClient,
        users: UserManager,
        commands: CommandProcessor,
        network_name: str,
    ) -> None:
        self._config = config
        self._matrix = matrix
        self._users = users
        self._commands = commands
        self._network_name = network_name
        # Told of a user inviting someone other than the bot (a ghost, for a direct chat).
        self.on_invite: Callable[[str, str, str], Awaitable[None]] | None = None

    async def handle(self, event: dict[str, Any]) -> None:
        sender = event.get("sender")
        room_id = event.get("room_id")
        content = event.get("content")
        if not isinstance(sender, str) or not isinstance(room_id, str):
            return
        if not isinstance(content, dict) or sender == self._config.bot_mxid:
            return
        match event.get("type"):
            case "m.room.member":
                await self._membership(event, sender, room_id, content)
            case "m.room.message":
                await self._message(sender, room_id, content)

    async def _membership(
        self, event: dict[str, Any], sender: str, room_id: str, content: dict[str, Any]
    ) -> None:
        membership = content.get("membership")
        target = event.get("state_key")
        if target == self._config.bot_mxid and membership == "invite":
            await self._invited(sender, room_id, content)
        elif membership == "invite" and isinstance(target, str) and self.on_invite is not None:
            await self.on_invite(sender, target, room_id)
        elif (
            target == sender
            and membership in ("leave", "ban")
            and await self._users.is_management_room(sender, room_id)
        ):
            await self._users.set_management_room(sender, None)
            log.info("%s left their management room %s", sender, room_id)

    async def _invited(self, inviter: str, room_id: str, content: dict[str, Any]) -> None:
        bot = self._matrix.bot
        if self._users.level(inviter) < PermissionLevel.RELAY:
            log.info("Rejecting invite from %s, who may not use the bridge", inviter)
            try:
                await bot.leave_room(
                    RoomID(room_id), reason="You are not allowed to use this bridge"
                )
            except MatrixRequestError:
                log.warning("Could not reject the invite to %s", room_id, exc_info=True)
            return
        await bot.join_room(RoomID(room_id))
        if content.get("is_direct") or await self._only_two_of_us(room_id):
            await self._users.set_management_room(inviter, room_id)
            await self._send(room_id, WELCOME.format(network=self._network_name))

    async def _only_two_of_us(self, room_id: str) -> bool:
        """A room is a DM when nobody but the inviter and the bot is in it or invited to it."""
        return len(await self._matrix.present_members(self._matrix.bot, room_id)) <= 2

    async def _message(self, sender: str, room_id: str, content: dict[str, Any]) -> None:
        body = content.get("body")
        if not isinstance(body, str):
            return
        is_management = await self._users.is_management_room(sender, room_id)

        async def reply(text: str, html: str | None = None) -> None:
            await self._send(room_id, text, html)

        await self._commands.handle(
            sender, self._users.level(sender), room_id, body, is_management, reply
        )

    async def _send(self, room_id: str, text: str, html: str | None = None) -> None:
        content: dict[str, Any] = {"msgtype": "m.notice", "body": text}
        if html is not None:
            content["format"] = "org.matrix.custom.html"
            content["formatted_body"] = html
        await self._matrix.bot.send_message_event(
            RoomID(room_id),
            EventType.ROOM_MESSAGE,
            content,  # type: ignore[arg-type]
        )
