"""The core's face to the listener (transactions, queries) and to the connector (remote events)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

from bridge.accounts import AccountLinks
from bridge.config.model import Config
from bridge.db.inbox import IncomingRemote, MatrixInboxStore, RemoteInboxStore, StoredMatrixEvent
from bridge.db.stores import KeyValueStore, MessageStore
from bridge.ghosts import GhostManager
from bridge.health import HealthCheck
from bridge.lru import BoundedDict
from bridge.matrix.gaps import DeliveryGaps
from bridge.metrics import BridgeMetrics
from bridge.network.events import ChatInfo, RemoteEvent, RemoteUser, encode_event
from bridge.network.ids import PortalKey, RemoteChatID, RemoteMessageID, RemoteUserID
from bridge.network.interface import ChatUnavailable, NetworkConnector

from .direct_rooms import direct_receiver
from .ephemeral import EphemeralRelay
from .manager import PortalManager
from .router import Router
from .to_matrix_ids import bridge_name, carries_marker

log = logging.getLogger("portals.core")


class BridgeCore:
    def __init__(
        self,
        config: Config,
        network: str,
        matrix_inbox: MatrixInboxStore,
        remote_inbox: RemoteInboxStore,
        router: Router,
        portals: PortalManager,
        ghosts: GhostManager,
        connector: NetworkConnector,
        gaps: DeliveryGaps,
        accounts: AccountLinks,
        messages: MessageStore,
        state: KeyValueStore,
        metrics: BridgeMetrics,
        ephemeral: Sequence[EphemeralRelay] = (),
    ) -> None:
        self._metrics = metrics
        self._accounts = accounts
        self._messages = messages
        self._state = state
        self._ephemeral = ephemeral
        self._connector = connector
        self._config = config
        self._bridge = bridge_name(config.appservice.id, config.homeserver.domain)
        self._network = network
        self._matrix_inbox = matrix_inbox
        self._remote_inbox = remote_inbox
        self._router = router
        self._portals = portals
        self._ghosts = ghosts
        self._gaps = gaps
        self._pings: BoundedDict[str, bool] = BoundedDict(100)
        # Events whose storing failed: the database may have stored them all the same (an
        # answer lost with the connection, at COMMIT). When they come again and are "seen
        # before", whatever is stored of them and not handled is queued then, in its place.
        self._store_in_doubt: BoundedDict[str, bool] = BoundedDict(10_000)
        self.is_ready = False
        # The bridge's health checks (bridge/health.py), set by the composition root.
        self.health_checks: Callable[[], Sequence[HealthCheck]] = tuple

    @property
    def config(self) -> Config:
        return self._config

    @property
    def metrics(self) -> BridgeMetrics:
        return self._metrics

    # The listener's side (TransactionSink).

    async def handle_transaction(
        self, txn_id: str, events: list[dict[str, Any]], ephemeral: list[dict[str, Any]]
    ) -> None:
        self._metrics.transaction(len(events))
        valid = [event for event in events if _has_identity(event)]
        if len(valid) != len(events):
            log.warning(
                "Transaction %s: dropped %d events without an event id or room id",
                txn_id,
                len(events) - len(valid),
            )
        self._gaps.observe(txn_id)
        # What the bridge's own users (the bot, the ghosts) sent is its own doing coming back:
        # nothing to handle, so not even stored.
        theirs = [event for event in valid if not self._from_bridge(event)]
        try:
            new = await self._matrix_inbox.accept_transaction(
                transaction_key(txn_id), theirs, self._router.matrix_lane
            )
        except Exception:
            # The homeserver will try again; what it does meanwhile may leave a gap.
            self._gaps.mark()
            for event in theirs:
                self._store_in_doubt[event["event_id"]] = True
            raise
        if len(new) != len(theirs):
            log.info(
                "Transaction %s: %d of its %d events were seen before",
                txn_id,
                len(theirs) - len(new),
                len(theirs),
            )
            new = await self._with_stored_in_doubt(theirs, new)
        if new:
            log.debug(
                "Transaction %s stored %s",
                txn_id,
                ", ".join(f"{stored.event.get('event_id')} as {stored.id}" for stored in new),
            )
        for stored in new:
            self._gaps.stored(stored.id)
            self._router.offer_matrix(stored)
        if ephemeral:
            for relay in self._ephemeral:
                relay.handle(ephemeral)

    async def _with_stored_in_doubt(
        self, events: list[dict[str, Any]], new: list[StoredMatrixEvent]
    ) -> list[StoredMatrixEvent]:
        fresh = {stored.event["event_id"] for stored in new}
        doubted = [
            event["event_id"]
            for event in events
            if event["event_id"] not in fresh and self._store_in_doubt.pop(event["event_id"], False)
        ]
        if not doubted:
            return new
        found = await self._matrix_inbox.unhandled(doubted)
        if found:
            log.info(
                "%d events were stored although the database's answer was lost; queued now",
                len(found),
            )
        return sorted([*new, *found], key=lambda stored: stored.id)

    def _from_bridge(self, event: dict[str, Any]) -> bool:
        sender = event.get("sender")
        by_bridge_user = isinstance(sender, str) and (
            sender == self._config.bot_mxid or self._ghosts.is_ghost(sender)
        )
        return by_bridge_user or carries_marker(event, self._bridge)

    async def query_user(self, user_id: str) -> bool:
        # Ghosts are created when their remote user first appears, not on a homeserver query.
        return False

    async def query_alias(self, alias: str) -> bool:
        """Joining the alias of a chat opens its portal, if portals are public and the chat is
        one anybody may join (public on the network) or that an admin of it bridged."""
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
        if not info.public and not await self._portals.opened_by_chat_admin(key):
            log.info(
                "Alias %s asked for, but chat %s is not public and none of its admins bridged "
                "it: an admin of the chat can send /bridge there, or a bridge admin can bridge "
                "it from Matrix",
                alias,
                chat_id,
            )
            return False
        await self._portals.create_room(key, info)
        return True

    def delivery_failed(self, txn_id: str) -> None:
        # Synapse repeats a failed transaction first, holding newer ones back, except one it
        # made before it noted the failure, which goes at once (bridge/matrix/gaps.py): the
        # next skip in the ids may hide this one.
        log.info("Transaction %s was not stored; the homeserver will send it again", txn_id)
        self._gaps.mark()

    def pinged(self, transaction_id: str | None) -> None:
        if transaction_id:
            self._pings[transaction_id] = True

    def was_pinged(self, transaction_id: str) -> bool:
        return transaction_id in self._pings

    def health(self) -> list[HealthCheck]:
        started = HealthCheck(
            "bridge", self.is_ready, "started" if self.is_ready else "starting or stopping"
        )
        if not self.is_ready:
            return [started]
        return [started, *self.health_checks()]

    # The connector's side (BridgeContext).

    async def submit(self, event: RemoteEvent, dedup_key: str) -> bool:
        (stored,) = await self.submit_all([(event, dedup_key)])
        return stored

    async def submit_all(self, events: Sequence[tuple[RemoteEvent, str]]) -> list[bool]:
        # One transaction for a whole batch: one commit instead of one per event, and the
        # portals of a batch get their events at the same moment.
        keyed: list[tuple[int, RemoteEvent, IncomingRemote]] = []
        for index, (event, dedup_key) in enumerate(events):
            lane = await self._router.remote_lane(event)
            if lane is None:
                log.debug("Remote event %s is for a chat without a portal; not kept", dedup_key)
                continue
            item = IncomingRemote(
                f"{self._network}:{dedup_key}",
                str(event.portal.chat_id),
                event.portal.receiver,
                encode_event(event),
                lane,
            )
            keyed.append((index, event, item))
        try:
            results = await self._remote_inbox.accept_all(
                self._network, [item for _index, _event, item in keyed]
            )
        except Exception:
            for _index, _event, item in keyed:
                self._store_in_doubt[item.dedup_key] = True
            raise
        taken = [False] * len(events)
        for (index, event, item), result in zip(keyed, results, strict=True):
            stored = result
            if stored is None and self._store_in_doubt.pop(item.dedup_key, False):
                stored = await self._remote_inbox.unhandled(item.dedup_key)
                if stored is not None:
                    log.info(
                        "Remote event %s was stored although the database's answer was lost; "
                        "queued now",
                        item.dedup_key,
                    )
            if stored is None:
                log.debug("Remote event %s was stored before; skipped", item.dedup_key)
                continue
            self._router.offer_remote(stored, event)
            taken[index] = True
        return taken

    async def create_portal_room(
        self, portal: PortalKey, info: ChatInfo, invite: Sequence[str] = ()
    ) -> str:
        return await self._portals.create_room(portal, info, invite)

    async def portal_room_id(self, portal: PortalKey) -> str | None:
        portal_id = self._portals.index.find(portal)
        entry = self._portals.index.entry(portal_id) if portal_id is not None else None
        return entry.room_id if entry is not None else None

    async def bridged_chats(self) -> list[PortalKey]:
        return await self._portals.bridged_keys()

    def ghost_user_id(self, user: RemoteUserID) -> str:
        return self._ghosts.mxid_for(user)

    def remote_user_of(self, mxid: str) -> RemoteUserID | None:
        return self._ghosts.remote_id_of(mxid)

    async def open_login(self, token: str, user: RemoteUser) -> str:
        return await self._accounts.open(token, user)

    async def link_account(self, token: str, user: RemoteUser) -> str:
        return await self._accounts.link(token, user)

    async def decline_login(self, token: str, user: RemoteUser) -> str:
        return await self._accounts.decline(token, user)

    def linked_user(self, user: RemoteUserID) -> str | None:
        return self._accounts.matrix_user_of(user)

    async def direct_receivers(self, chat: RemoteChatID) -> list[str]:
        # Only direct chats through the bot: a business chat has the same chat id (the
        # contact's), and what the contact writes to the bot itself is not for it.
        held = {
            receiver: portal_id
            for receiver, portal_id in self._portals.index.receivers(chat).items()
            if direct_receiver(PortalKey(chat, receiver)) is not None
            and (entry := self._portals.index.entry(portal_id)) is not None
            and entry.room_id
        }
        if len(held) <= 1:
            return list(held)
        latest = await self._messages.latest(list(held.values()))
        return sorted(held, key=lambda receiver: latest.get(held[receiver], 0), reverse=True)

    async def tell_user(self, mxid: str, text: str) -> None:
        await self._accounts.tell(mxid, text)

    async def load_state(self, key: str) -> Any:
        return await self._state.get(f"{self._network}:{key}")

    async def save_state(self, key: str, value: Any) -> None:
        await self._state.set(f"{self._network}:{key}", value)

    async def recent_messages(
        self, portals: Sequence[PortalKey], count: int
    ) -> list[RemoteMessageID] | None:
        index = self._portals.index
        with_rooms = [
            portal_id
            for portal_id in map(index.find, portals)
            if portal_id is not None
            and (entry := index.entry(portal_id)) is not None
            and entry.room_id
        ]
        if not with_rooms:
            return None
        return [
            RemoteMessageID(remote_id)
            for remote_id in await self._messages.recent_remote_ids(with_rooms, count)
        ]

    async def receiver_of(self, chat: RemoteChatID, message: RemoteMessageID) -> str | None:
        held = {
            receiver: portal_id
            for receiver, portal_id in self._portals.index.receivers(chat).items()
            if direct_receiver(PortalKey(chat, receiver)) is not None
        }
        found = await self._messages.portals_of_remote(list(held.values()), str(message))
        return next((receiver for receiver, pid in held.items() if pid in found), None)


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
