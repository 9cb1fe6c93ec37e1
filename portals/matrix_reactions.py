"""A Matrix user's reaction to a bridged message, carried to the remote chat.

A bot holds one reaction per Telegram message, so the bridge keeps the latest Matrix user's
and says so in the room when it replaces someone else's. A key the network has no reaction for
gets its sender a notice. Redacting the reaction takes it away there too.
"""

from __future__ import annotations

from typing import Any

from bridge.db.models import Reaction
from bridge.db.stores import RELAYED_PREFIX, MessageStore, ReactionStore
from bridge.metrics import MATRIX_TO_REMOTE, BridgeMetrics
from bridge.network.capabilities import ReactsToMessages
from bridge.network.ids import RemoteMessageID
from bridge.network.interface import DeliveryError, NetworkConnector

from .state import Notify, PortalState


def annotation(content: dict[str, Any]) -> tuple[str, str] | None:
    """(the event reacted to, the key) of an m.reaction."""
    relates = content.get("m.relates_to")
    if not isinstance(relates, dict) or relates.get("rel_type") != "m.annotation":
        return None
    target, key = relates.get("event_id"), relates.get("key")
    if not isinstance(target, str) or not isinstance(key, str) or not key:
        return None
    return target, key


class MatrixReactions:
    def __init__(
        self,
        connector: NetworkConnector,
        messages: MessageStore,
        reactions: ReactionStore,
        metrics: BridgeMetrics,
    ) -> None:
        self._connector = connector
        self._messages = messages
        self._reactions = reactions
        self._metrics = metrics

    async def carry(
        self,
        portal: PortalState,
        event_id: str,
        sender: str,
        target: str,
        key: str,
        notify: Notify,
    ) -> None:
        rows = await self._messages.by_mxid(target)
        if not rows:
            return  # not a message the bridge carried
        connector = self._connector
        network = connector.display_name
        if not isinstance(connector, ReactsToMessages):
            self._metrics.failed(MATRIX_TO_REMOTE, "unsupported")
            await notify(f"Your reaction {key} was not bridged: {network} does not take reactions.")
            return
        emoji = connector.reaction_key(key)
        if emoji is None:
            self._metrics.failed(MATRIX_TO_REMOTE, "unsupported")
            await notify(
                f"Your reaction {key} was not bridged: {network} offers bots no such reaction."
            )
            return
        remote_id = RemoteMessageID(rows[0].remote_id)
        previous = await self._reactions.relayed(portal.id, remote_id)
        try:
            await connector.set_reaction(portal.key, remote_id, emoji)
        except DeliveryError as refusal:
            self._metrics.failed(MATRIX_TO_REMOTE, "refused")
            await notify(f"Your reaction {key} was not bridged: {refusal}")
            return
        self._metrics.bridged(MATRIX_TO_REMOTE, "reaction")
        if previous is not None:
            await self._reactions.remove(previous.id)
        await self._reactions.add(
            portal.id, remote_id, f"{RELAYED_PREFIX}{sender}", "", emoji, event_id
        )
        replaced = _matrix_user(previous)
        if replaced is not None and replaced != sender:
            await notify(
                f"{replaced}, your reaction {previous.emoji if previous else ''} is no longer "
                f"shown in {network}: the bridge shows one reaction per message there, now "
                f"{sender}'s."
            )

    async def take_back(
        self, portal: PortalState, sender: str, reaction: Reaction, notify: Notify
    ) -> None:
        """The Matrix user redacted a reaction the bridge holds for them."""
        connector = self._connector
        if _matrix_user(reaction) != sender or not isinstance(connector, ReactsToMessages):
            return
        try:
            await connector.set_reaction(
                portal.key, RemoteMessageID(reaction.message_remote_id), None
            )
        except DeliveryError as refusal:
            self._metrics.failed(MATRIX_TO_REMOTE, "refused")
            await notify(f"Your reaction was removed here only: {refusal}")
            return
        self._metrics.bridged(MATRIX_TO_REMOTE, "redaction")
        await self._reactions.remove(reaction.id)


def _matrix_user(reaction: Reaction | None) -> str | None:
    if reaction is None or not reaction.sender_remote_id.startswith(RELAYED_PREFIX):
        return None
    return reaction.sender_remote_id.removeprefix(RELAYED_PREFIX)
