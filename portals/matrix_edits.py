"""A Matrix user's edit of a message the bridge carried, carried to the remote chat.

The edit changes the remote parts the first version became, part by part: parts the new text
needs beyond those are sent (noted first under the edit's own event id, so that they are told
apart from the first send's parts) and recorded under the original event, so a later edit,
reply or redaction finds them; parts it no longer needs are removed. Editing a part again to
the same text is harmless, so an edit interrupted midway is simply made again.
"""

from __future__ import annotations

from bridge.db.stores import MessageStore
from bridge.metrics import MATRIX_TO_REMOTE, BridgeMetrics
from bridge.network.capabilities import EditsMessages
from bridge.network.ids import RemoteMessageID, part_order
from bridge.network.interface import DeliveryError, NetworkConnector, TemporaryFailure
from bridge.network.outgoing import (
    MatrixEdit,
    MatrixMessage,
    PartRemoved,
    SendingPart,
    SendProgress,
    SentMessage,
)

from .delivery import retry_delay
from .state import Notify, PortalState


class MatrixEdits:
    def __init__(
        self, connector: NetworkConnector, messages: MessageStore, metrics: BridgeMetrics
    ) -> None:
        self._connector = connector
        self._messages = messages
        self._metrics = metrics

    async def carry(
        self,
        portal: PortalState,
        message: MatrixMessage,
        original_id: str,
        progress: SendProgress,
        notify: Notify,
        caption: bool = False,
    ) -> bool:
        """``message``: the new content as it would be sent (its event id is the edit's);
        ``caption``: the message is a file, and this is its new caption. Returns whether handling
        the edit again would be harmless."""
        rows = await self._messages.by_mxid(original_id)
        sender = message.sender.mxid
        if not rows:
            # The sender is told, as mautrix bridges do: the original failed (they were told
            # then) or was written before the room was a portal, and an edit alone, sent as
            # a message, would be out of place there.
            portal.log.info(
                "Edit %s is of %s, which was not bridged", message.event_id, original_id
            )
            self._metrics.failed(MATRIX_TO_REMOTE, "unknown_target")
            await notify(
                "Your edit was not bridged: the message it changes never reached "
                f"{self._connector.display_name}."
            )
            return False
        if any(row.sender_mxid != sender for row in rows):
            portal.log.info("Edit %s by %s is of someone else's message", message.event_id, sender)
            return False
        connector = self._connector
        if not isinstance(connector, EditsMessages):
            self._metrics.failed(MATRIX_TO_REMOTE, "unsupported")
            await notify(
                f"Your edit was not bridged: {connector.display_name} does not take edits of "
                "bridged messages. The message there still reads as first sent."
            )
            return False
        parts = tuple(
            sorted(
                ((row.part_id, RemoteMessageID(row.remote_id)) for row in rows),
                key=lambda part: part_order(part[0]),
            )
        )
        mapped = {part_id for part_id, _ in parts}
        edit_id = message.event_id
        leaving: str | None = None  # a new part noted as leaving and not yet recorded
        try:
            async for step in connector.edit_message(
                portal.key, MatrixEdit(message, parts, caption), progress
            ):
                match step:
                    case SendingPart(part_id=part_id):
                        await self._messages.intend(portal.id, edit_id, part_id)
                        leaving = part_id
                    case SentMessage(message_id=remote_id, part_id=part_id):
                        if part_id not in mapped:
                            await self._messages.add(
                                portal.id,
                                remote_id,
                                part_id,
                                original_id,
                                message.room_id,
                                sender_mxid=sender,
                            )
                            await self._messages.forget_intent(edit_id, part_id)
                        leaving = None
                    case PartRemoved(part_id=part_id):
                        await self._messages.remove_part(original_id, part_id)
        except DeliveryError as refusal:
            self._metrics.failed(MATRIX_TO_REMOTE, "refused")
            await self._messages.forget_intents(edit_id)
            await notify(f"Your edit was not bridged: {refusal}")
            return False
        except TemporaryFailure as failure:
            if leaving is not None and not failure.in_doubt:
                await self._messages.forget_intent(edit_id, leaving)
            raise
        except Exception as failure:
            if retry_delay(failure, 0) is None:
                await notify("Your edit was not bridged: an internal error; see the bridge log.")
            raise
        self._metrics.bridged(MATRIX_TO_REMOTE, "edit")
        return True
