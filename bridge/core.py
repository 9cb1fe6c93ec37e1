"""The core's face to the listener (transactions, queries) and to the connector (remote events)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from typing import Any

from portals.items import RemoteItem
from portals.manager import PortalManager

from .config.model import Config
from .db.inbox import MatrixInboxStore, RemoteInboxStore, StoredRemoteEvent
from .ghosts import GhostManager
from .network.events import (
    ChatInfo,
    RemoteChatMigrate,
    RemoteEvent,
    decode_event,
    encode_event,
)
from .network.ids import PortalKey, RemoteChatID, RemoteUserID
from .network.interface import ChatUnavailable, NetworkConnector
from .router import MatrixRouter

log = logging.getLogger("bridge.core")


class BridgeCore:
    def __init__(
        self,
        config: Config,
        network: str,
        matrix_inbox: MatrixInboxStore,
        remote_inbox: RemoteInboxStore,
        router: MatrixRouter,
        portals: PortalManager,
        ghosts: GhostManager,
        connector: NetworkConnector,
    ) -> None:
        self._connector = connector
        self._config = config
        self._network = network
        self._matrix_inbox = matrix_inbox
        self._remote_inbox = remote_inbox
        self._router = router
        self._portals = portals
        self._ghosts = ghosts
        self._pings: set[str] = set()
        self.is_ready = False

    @property
    def config(self) -> Config:
        return self._config

    # The listener's side (TransactionSink).

    async def handle_transaction(
        self, txn_id: str, events: list[dict[str, Any]], ephemeral: list[dict[str, Any]]
    ) -> None:
        valid = [event for event in events if _has_identity(event)]
        if len(valid) != len(events):
            log.warning(
                "Transaction %s: dropped %d events without an event id or room id",
                txn_id,
                len(events) - len(valid),
            )
        key = transaction_key(txn_id)
        repeated = await self._matrix_inbox.transaction_seen(key)
        new = await self._matrix_inbox.accept_transaction(key, valid)
        if repeated:
            log.info(
                "Transaction %s seen before: %d of its %d events are new",
                txn_id,
                len(new),
                len(valid),
            )
        for stored in new:
            await self._router.route(stored)
        if ephemeral:
            log.debug("Transaction %s: %d ephemeral events ignored", txn_id, len(ephemeral))

    async def query_user(self, user_id: str) -> bool:
        # Ghosts are created when their remote user first appears, not on a homeserver query.
        return False

    async def query_alias(self, alias: str) -> bool:
        """Joining the alias of a chat the bot is in creates its portal, if portals are public."""
        if not self._config.bridge.public_portals:
            return False
        localpart, _, server = alias.removeprefix("#").partition(":")
        chat_id = self._config.bridge.chat_id_from_alias_localpart(localpart)
        if chat_id is None or server != self._config.homeserver.domain:
            return False
        key = PortalKey(RemoteChatID(chat_id))
        try:
            info = await self._connector.get_chat_info(key)
        except ChatUnavailable as reason:
            log.info(
                "Alias %s asked for, but chat %s cannot be bridged: %s", alias, chat_id, reason
            )
            return False
        await self._portals.create_room(key, info)
        return True

    def pinged(self, transaction_id: str | None) -> None:
        if transaction_id:
            self._pings.add(transaction_id)

    def was_pinged(self, transaction_id: str) -> bool:
        return transaction_id in self._pings

    @property
    def ready(self) -> bool:
        return self.is_ready

    # The connector's side (BridgeContext).

    async def submit(self, event: RemoteEvent, dedup_key: str) -> bool:
        stored = await self._remote_inbox.accept(
            self._network,
            f"{self._network}:{dedup_key}",
            str(event.portal.chat_id),
            event.portal.receiver,
            encode_event(event),
        )
        if stored is None:
            log.debug("Remote event %s was stored before; skipped", dedup_key)
            return False
        await self._enqueue_remote(stored)
        return True

    async def create_portal_room(
        self, portal: PortalKey, info: ChatInfo, invite: Sequence[str] = ()
    ) -> str:
        return await self._portals.create_room(portal, info, invite)

    async def portal_room_id(self, portal: PortalKey) -> str | None:
        return (await self._portals.get(portal)).room_id

    async def bridged_chats(self) -> list[PortalKey]:
        return await self._portals.bridged_keys()

    def ghost_user_id(self, user: RemoteUserID) -> str:
        return self._ghosts.mxid_for(user)

    def remote_user_of(self, mxid: str) -> RemoteUserID | None:
        return self._ghosts.remote_id_of(mxid)

    # Start-up.

    async def replay_pending(self) -> int:
        """Queue what was stored but not handled before the last stop, in the original order."""
        remote = await self._remote_inbox.pending(self._network)
        for stored in remote:
            await self._enqueue_remote(stored, replayed=True)
        matrix = await self._matrix_inbox.pending()
        for stored_matrix in matrix:
            await self._router.route(stored_matrix)
        if remote or matrix:
            log.info(
                "Replaying %d remote and %d Matrix events stored before the last stop",
                len(remote),
                len(matrix),
            )
        return len(remote) + len(matrix)

    async def _enqueue_remote(self, stored: StoredRemoteEvent, replayed: bool = False) -> None:
        key = PortalKey(RemoteChatID(stored.portal_remote_id), stored.portal_receiver)
        portal = await self._portals.get(key)
        event = decode_event(stored.event)
        if isinstance(event, RemoteChatMigrate):
            # Events of the chat's new id may arrive before the move is handled: from now on
            # they share the portal's queue, so they are handled after it, in order.
            await self._portals.follow_key(portal, PortalKey(event.new_chat_id, key.receiver))
        await portal.queue.put(RemoteItem(stored.id, event, replayed))


def _has_identity(event: dict[str, Any]) -> bool:
    return storable_id(event.get("event_id")) and storable_id(event.get("room_id"))


def storable_id(value: object) -> bool:
    """A Matrix id the database can key on: text of at most 255 characters that encodes as
    UTF-8 (no lone surrogates) and holds no NUL. Anything else is not a real id."""
    if not isinstance(value, str) or not 0 < len(value) <= 255 or "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def transaction_key(txn_id: str) -> str:
    """The transaction id as stored: odd ids (too long, NUL, lone surrogates) as a digest."""
    if storable_id(txn_id):
        return txn_id
    raw = txn_id.encode("utf-8", "surrogatepass")
    return "sha256:" + hashlib.sha256(raw).hexdigest()
