"""Bridging a Matrix room to a remote chat and undoing it, with who may do so: the one place
the bridge and unbridge commands and the provisioning API both go through."""

from __future__ import annotations

from bridge.accounts import AccountLinks
from bridge.bridging import Announce, BridgedRoom, BridgingRefused
from bridge.config.model import PermissionLevel
from bridge.db.stores import PortalStore
from bridge.matrix.power import BRIDGE_STATE, RoomPower
from bridge.network.capabilities import LinksAccounts
from bridge.network.ids import PortalKey, RemoteChatID
from bridge.network.interface import ChatUnavailable, NetworkConnector
from bridge.users import UserManager

from .manager import BindRefused, PortalManager


class PortalBridging:
    def __init__(
        self,
        portals: PortalManager,
        store: PortalStore,
        users: UserManager,
        connector: NetworkConnector,
        accounts: AccountLinks,
        power: RoomPower,
    ) -> None:
        self._power = power
        self._portals = portals
        self._store = store
        self._users = users
        self._connector = connector
        self._accounts = accounts

    async def _check_may_manage(
        self, sender: str, level: PermissionLevel, key: PortalKey, room_id: str, what: str
    ) -> None:
        """Bridge admins may (un)bridge any room to any chat, as the bridge's operators (a
        room whose own admins are gone can still be unbridged). Anyone else needs a linked
        account that administers the chat, and the power to change the room's state (the
        level of m.bridge, else state_default: what would let them change its name)."""
        if level >= PermissionLevel.ADMIN:
            return
        link = await self._accounts.link_of(sender)
        connector = self._connector
        if (
            link is None
            or not isinstance(connector, LinksAccounts)
            or not await connector.administers(key, link[0])
        ):
            raise BridgingRefused(
                "not_permitted",
                f"Only bridge admins, or users whose linked {connector.display_name} account is "
                "an administrator of the chat, can do that.",
            )
        power = await self._power.for_state(room_id, sender, BRIDGE_STATE)
        if not power.enough:
            raise BridgingRefused(
                "not_permitted",
                f"You may not {what} this room: that needs power level {power.needed} in it "
                f"(to change its settings), and you have {power.level:.0f}.",
            )

    async def bridge(
        self,
        sender: str,
        level: PermissionLevel,
        room_id: str,
        chat_id: str,
        announce: Announce,
    ) -> BridgedRoom:
        if await self._users.is_management_room(sender, room_id):
            raise BridgingRefused(
                "management_room",
                "That is your management room (your private chat with the bridge bot): "
                "bridge another room.",
            )
        if await self._portals.by_room(room_id) is not None:
            raise BridgingRefused(
                "already_bridged", "This room is bridged already; unbridge it first."
            )
        key = PortalKey(RemoteChatID(chat_id))
        await self._check_may_manage(sender, level, key, room_id, "bridge")
        try:
            info = await self._connector.get_chat_info(key)
        except ChatUnavailable as reason:
            raise BridgingRefused(
                "chat_unavailable", f"Cannot bridge {chat_id}: {reason}"
            ) from None
        name = info.name or chat_id
        try:
            # Checked in the portal's own order: a room created for the chat meanwhile (from
            # the network's side) is not overwritten.
            await self._portals.bind_room(
                key, room_id, info, then=lambda: announce(f"Bridged this room to {name}.")
            )
        except BindRefused as refusal:
            raise BridgingRefused(
                "already_bridged", f"Cannot bridge {chat_id}: {refusal}."
            ) from None
        return BridgedRoom(room_id, chat_id, info.name)

    async def unbridge(
        self, sender: str, level: PermissionLevel, room_id: str, announce: Announce
    ) -> BridgedRoom:
        portal = await self._portals.by_room(room_id)
        if portal is None:
            raise BridgingRefused("not_bridged", "This room is not bridged.")
        await self._check_may_manage(sender, level, portal.key, room_id, "unbridge")
        name = portal.record.name
        gone = BridgingRefused("not_bridged", "This room is not bridged any more.")

        async def unbind() -> None:
            if portal.room_id != room_id:
                raise gone  # unbridged meanwhile
            # Told first: once unbound, the room's next events leave this portal's queue and
            # could be answered before this.
            await announce(f"This room is no longer bridged to {name or portal.key}.")
            await self._portals.unbind_room(portal)

        try:
            # An event ahead of it that keeps failing does not hold it up for long.
            with portal.hurried():
                await self._portals.in_order(portal, unbind)
        except LookupError:
            raise gone from None  # the portal itself was forgotten meanwhile
        return BridgedRoom(room_id, str(portal.key.chat_id), name, portal.key.receiver or None)

    async def bridged_rooms(self) -> list[BridgedRoom]:
        return [
            BridgedRoom(room_id, chat_id, name, receiver or None)
            for room_id, chat_id, receiver, name in await self._store.with_rooms()
        ]
