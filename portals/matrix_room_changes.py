"""A portal room's own changes carried to the remote chat: a new name or topic set by a Matrix
user (bridge.send_room_changes), and Matrix users joining or leaving announced by the bot
(bridge.relay.announce_membership)."""

from __future__ import annotations

from typing import Any, Literal

from bridge.config.model import Config, PermissionLevel
from bridge.db.stores import PortalStore
from bridge.network.interface import DeliveryError, NetworkConnector
from bridge.network.outgoing import MatrixMessage, MatrixSender

from . import relay
from .senders import MatrixSenders, localpart
from .state import Notify, PortalState


class MatrixRoomChanges:
    def __init__(
        self,
        config: Config,
        senders: MatrixSenders,
        connector: NetworkConnector,
        portals: PortalStore,
    ) -> None:
        self._config = config
        self._senders = senders
        self._connector = connector
        self._portals = portals

    async def rename(
        self,
        portal: PortalState,
        sender: str,
        what: Literal["name", "topic"],
        value: str,
        notify: Notify,
    ) -> None:
        relays = self._senders.level(sender) >= PermissionLevel.RELAY
        if not self._config.bridge.send_room_changes or not relays:
            return
        if value == (portal.record.name if what == "name" else portal.record.topic):
            return  # the change came from the remote side
        try:
            if what == "name":
                await self._connector.set_chat_name(portal.key, value)
            else:
                await self._connector.set_chat_topic(portal.key, value)
        except DeliveryError as refusal:
            await notify(f"The room's new {what} was not sent to the chat: {refusal}")
            return
        await self._portals.update(portal.id, **{what: value})
        setattr(portal.record, what, value)

    async def announce_membership(
        self, portal: PortalState, event: dict[str, Any], sender: str, content: dict[str, Any]
    ) -> None:
        relay_config = self._config.bridge.relay
        relays = self._senders.level(sender) >= PermissionLevel.RELAY
        if not relay_config.announce_membership or not relays:
            return
        unsigned = event.get("unsigned")
        previous = unsigned.get("prev_content", {}) if isinstance(unsigned, dict) else {}
        before = previous.get("membership") if isinstance(previous, dict) else None
        now = content.get("membership")
        if now == "join" and before != "join":
            change = "join"
            name = content.get("displayname")
        elif now == "leave" and before == "join":
            change = "leave"
            name = previous.get("displayname")
        else:
            return  # a profile change, an invite, a knock: nothing to announce
        displayname = name if isinstance(name, str) and name else localpart(sender)
        plain, rendered = relay.render(
            relay_config.membership_formats[change], displayname, sender, "", None
        )
        message = MatrixMessage(
            event_id=str(event.get("event_id")),
            room_id=str(event.get("room_id")),
            sender=MatrixSender(sender, displayname, relayed=True),
            msgtype="m.notice",
            body=plain,
            html=rendered,
        )
        try:
            async for _ in self._connector.send_message(portal.key, message):
                pass  # an announcement is not mapped: nothing to note
        except DeliveryError as refusal:
            portal.log.warning("Could not announce %s of %s: %s", change, sender, refusal)
