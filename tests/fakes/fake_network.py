"""A network connector for core tests: no network library, everything in memory.

It proves the seam: remote messages reach Matrix through a portal, Matrix messages reach the
connector, and a connector's own commands (with a prompt that ``cancel`` can stop) work.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bridge.commands.types import Command, CommandEvent, PendingPrompt
from bridge.config.loader import ConfigError
from bridge.config.model import PermissionLevel
from bridge.health import HealthCheck
from bridge.network.events import (
    AvatarRef,
    ChatInfo,
    MessageContent,
    RemoteChatCreate,
    RemoteDeletion,
    RemoteMessage,
    RemoteUser,
)
from bridge.network.ids import PortalKey, RemoteChatID, RemoteMessageID, RemoteUserID
from bridge.network.interface import (
    NOTHING_SENT,
    BridgeContext,
    ChatUnavailable,
    DeliveryError,
    TemporaryFailure,
)
from bridge.network.outgoing import MatrixMessage, SendingPart, SendProgress, SentMessage


@dataclass
class FakeNetwork:
    """What the fake remote network saw."""

    sent: list[tuple[PortalKey, MatrixMessage]] = field(default_factory=list)
    chats: dict[str, ChatInfo] = field(default_factory=dict)
    renames: list[tuple[PortalKey, str, str]] = field(default_factory=list)
    created: list[tuple[PortalKey, str, str | None]] = field(default_factory=list)
    # Read markers: (chat, the Matrix reader, the message read up to).
    read: list[tuple[PortalKey, str, RemoteMessageID]] = field(default_factory=list)
    refuse_next: str | None = None
    crash_on_body: str | None = None
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    # Sending fails with passing trouble while ``down``; ``reachable`` is what the connector's
    # health check reports (down with the network, or up while only sending fails).
    down: bool = False
    down_chats: set[str] = field(default_factory=set)  # sending into these chats fails too
    reachable: bool = True
    send_attempts: int = 0


class FakeConnector:
    name = "fakenet"
    display_name = "FakeNet"

    def __init__(self, network: FakeNetwork | None = None) -> None:
        self.network = network or FakeNetwork()
        self.bridge: BridgeContext | None = None
        self.receiving = False
        self.token = ""
        self._ids = itertools.count(1000)
        self.codes: dict[str, str] = {}

    def configure(self, section: Mapping[str, Any]) -> None:
        token = section.get("token", "")
        if not isinstance(token, str):
            raise ConfigError("fakenet.token: must be a string")
        self.token = token

    async def start(self, bridge: BridgeContext) -> None:
        self.bridge = bridge

    async def start_receiving(self) -> None:
        self.receiving = True

    async def stop_receiving(self) -> None:
        self.receiving = False

    async def stop(self) -> None:
        self.receiving = False

    def secrets(self) -> Sequence[str]:
        return [self.token] if self.token else []

    async def status(self) -> str:
        return "connected (fake)"

    def commands(self) -> Sequence[Command]:
        # A command that asks for the user's next message (as a network's login might).
        async def code(event: CommandEvent) -> None:
            async def answer(prompt_event: CommandEvent, text: str) -> None:
                self.codes[prompt_event.sender] = text.strip()
                await prompt_event.reply(f"Took code {text.strip()}.")

            event.processor.prompt(event.sender, PendingPrompt("code", answer))
            await event.reply("Send your FakeNet code, or cancel.")

        return [Command("code", code, "Enter a FakeNet code", PermissionLevel.USER, section="Auth")]

    async def send_message(
        self, portal: PortalKey, message: MatrixMessage, progress: SendProgress = NOTHING_SENT
    ) -> AsyncIterator[SendingPart | SentMessage]:
        self.network.send_attempts += 1
        if self.network.down or str(portal.chat_id) in self.network.down_chats:
            raise TemporaryFailure("the fake network cannot be reached")
        if message.body.split(": ", 1)[-1] == self.network.crash_on_body:
            raise RuntimeError("the fake network crashed on this message")
        if self.network.refuse_next is not None:
            reason, self.network.refuse_next = self.network.refuse_next, None
            raise DeliveryError(reason)
        if "0" in progress.already_sent:
            return
        yield SendingPart("0")
        self.network.sent.append((portal, message))
        self.network.arrived.set()
        yield SentMessage(RemoteMessageID(str(next(self._ids))), "0")

    def health(self) -> Sequence[HealthCheck]:
        detail = "connected" if self.network.reachable else "cannot be reached"
        return [HealthCheck(self.name, self.network.reachable, detail)]

    async def get_chat_info(self, portal: PortalKey) -> ChatInfo:
        try:
            return self.network.chats[str(portal.chat_id)]
        except KeyError:
            raise ChatUnavailable("the bot is not in that chat") from None

    async def fetch_avatar(self, avatar: AvatarRef) -> tuple[bytes, str]:
        return f"picture {avatar.id}".encode(), "image/png"

    async def portal_created(
        self, portal: PortalKey, room_id: str, alias: str | None, request: RemoteChatCreate
    ) -> None:
        self.network.created.append((portal, room_id, alias))

    async def set_chat_name(self, portal: PortalKey, name: str) -> None:
        self.network.renames.append((portal, "name", name))

    async def set_chat_topic(self, portal: PortalKey, topic: str) -> None:
        self.network.renames.append((portal, "topic", topic))

    async def mark_read(self, portal: PortalKey, reader: str, up_to: RemoteMessageID) -> None:
        # The one optional capability the fake declares (bridge/network/capabilities.py).
        self.network.read.append((portal, reader, up_to))

    # Test helpers: things happening on the fake network.

    async def remote_message(
        self,
        chat: str,
        message_id: str,
        user_id: str,
        name: str,
        text: str,
        html: str | None = None,
        reply_to: str | None = None,
    ) -> bool:
        assert self.bridge is not None
        event = RemoteMessage(
            portal=PortalKey(RemoteChatID(chat)),
            message_id=RemoteMessageID(message_id),
            sender=RemoteUser(RemoteUserID(user_id), name, {"first_name": name}),
            parts=(MessageContent(text, html),),
            timestamp=datetime.now(UTC),
            reply_to=RemoteMessageID(reply_to) if reply_to else None,
        )
        return await self.bridge.submit(event, f"{chat}:{message_id}")

    async def remote_deletion(self, chat: str, message_id: str, key: str) -> bool:
        assert self.bridge is not None
        event = RemoteDeletion(PortalKey(RemoteChatID(chat)), RemoteMessageID(message_id))
        return await self.bridge.submit(event, key)

    async def create_portal(self, chat: str, name: str, invite: Sequence[str] = ()) -> str:
        assert self.bridge is not None
        return await self.bridge.create_portal_room(
            PortalKey(RemoteChatID(chat)), ChatInfo(name=name, topic=f"FakeNet chat {chat}"), invite
        )
