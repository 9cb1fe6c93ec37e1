"""A Matrix user's redaction of a message the bridge carried: the remote message goes too.

Every part the message became is deleted; a part already gone counts as deleted, so a
redaction interrupted midway is simply made again. Only the sender's own redactions are
carried: a moderator's redaction of someone else's message stays on the Matrix side.
"""

from __future__ import annotations

from typing import Any

from bridge.db.stores import MessageStore, ReactionStore
from bridge.metrics import MATRIX_TO_REMOTE, BridgeMetrics
from bridge.network.capabilities import DeletesMessages
from bridge.network.ids import RemoteMessageID
from bridge.network.interface import DeliveryError, NetworkConnector

from .matrix_reactions import MatrixReactions
from .state import Notify, PortalState


def redacted_event(event: dict[str, Any]) -> str | None:
    """The event a redaction removes (``redacts`` is in the content from room version 11 on,
    at the top level before)."""
    content = event.get("content")
    redacts = content.get("redacts") if isinstance(content, dict) else None
    if not isinstance(redacts, str):
        redacts = event.get("redacts")
    return redacts if isinstance(redacts, str) else None


class MatrixRedactions:
    def __init__(
        self,
        connector: NetworkConnector,
        messages: MessageStore,
        reactions: ReactionStore,
        reactions_out: MatrixReactions,
        metrics: BridgeMetrics,
    ) -> None:
        self._metrics = metrics
        self._connector = connector
        self._messages = messages
        self._reactions = reactions
        # A redacted reaction is taken back there as the reaction handler does.
        self._reactions_out = reactions_out

    async def carry(self, portal: PortalState, sender: str, redacts: str, notify: Notify) -> None:
        rows = await self._messages.by_mxid(redacts)
        if not rows:
            reaction = await self._reactions.by_mxid(redacts)
            if reaction is not None:
                await self._reactions_out.take_back(portal, sender, reaction, notify)
            return  # else not a message the bridge carried (or it was deleted before)
        if any(row.sender_mxid != sender for row in rows):
            portal.log.info("%s redacted %s, not theirs; the remote message stays", sender, redacts)
            return
        connector = self._connector
        if not isinstance(connector, DeletesMessages):
            self._metrics.failed(MATRIX_TO_REMOTE, "unsupported")
            await notify(
                f"Your message was removed here only: {connector.display_name} does not let the "
                "bridge delete messages."
            )
            return
        remote_ids = [RemoteMessageID(row.remote_id) for row in rows]
        try:
            await connector.delete_messages(portal.key, remote_ids)
        except DeliveryError as refusal:
            self._metrics.failed(MATRIX_TO_REMOTE, "refused")
            await notify(f"Your message was removed here only: {refusal}")
            return
        self._metrics.bridged(MATRIX_TO_REMOTE, "redaction")
        await self._messages.forget(redacts)
