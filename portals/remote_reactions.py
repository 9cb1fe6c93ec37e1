"""A remote user's reactions into the portal's room: each added emoji an ``m.reaction`` from
the user's ghost to the message's (first) Matrix event, each removed one redacted. Reactions
are remembered (the reaction table) so a removal finds what to redact."""

from __future__ import annotations

from mautrix.types import EventID, EventType, RoomID

from bridge.db.stores import MessageStore, ReactionStore
from bridge.metrics import REMOTE_TO_MATRIX, BridgeMetrics
from bridge.network.events import RemoteReaction

from .remote_senders import RemoteSenders
from .state import PortalState
from .to_matrix_ids import mark, transaction_id


class RemoteReactions:
    def __init__(
        self,
        senders: RemoteSenders,
        messages: MessageStore,
        reactions: ReactionStore,
        metrics: BridgeMetrics,
        bridge: str,
    ) -> None:
        self._bridge = bridge
        self._metrics = metrics
        self._senders = senders
        self._messages = messages
        self._reactions = reactions

    async def carry(self, portal: PortalState, change: RemoteReaction) -> None:
        room_id = portal.room_id
        rows = await self._messages.by_remote(portal.id, change.message_id)
        if room_id is None or not rows:
            portal.log.debug("Reaction to %s, which was not bridged; left out", change.message_id)
            return
        target = rows[0].mxid
        intent = await self._senders.joined(portal, room_id, change.sender)
        sender = str(change.sender.id)
        changed = False
        for emoji in change.removed:
            known = await self._reactions.find(portal.id, change.message_id, sender, emoji)
            if known is None:
                continue
            # Marked: as the linked user (double puppeting) it is the bridge's only by the mark.
            await intent.redact(
                RoomID(room_id), EventID(known.mxid), extra_content=mark({}, self._bridge)
            )
            await self._reactions.remove(known.id)
            changed = True
        timestamp = int(change.timestamp.timestamp() * 1000)
        for emoji in change.added:
            if await self._reactions.find(portal.id, change.message_id, sender, emoji) is not None:
                continue  # this change was carried before
            txn_id = transaction_id(
                portal.key, change.message_id, f"react:{change.reaction_id}:{emoji}"
            )
            relation = {"rel_type": "m.annotation", "event_id": target, "key": emoji}
            content = mark({"m.relates_to": relation}, self._bridge, txn_id)
            event_id = await intent.send_message_event(
                RoomID(room_id),
                EventType.REACTION,
                content,  # type: ignore[arg-type]
                txn_id=txn_id,
                timestamp=timestamp,
            )
            await self._reactions.add(portal.id, change.message_id, sender, emoji, emoji, event_id)
            changed = True
        if changed:
            self._metrics.bridged(REMOTE_TO_MATRIX, "reaction")
