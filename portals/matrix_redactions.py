"""A Matrix user's redaction of a message the bridge carried: the remote message goes too.

Every part the message became is deleted; a part already gone counts as deleted, so a
redaction interrupted midway is simply made again. Only the sender's own redactions are
carried: a moderator's redaction of someone else's message stays on the Matrix side.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from bridge.network.capabilities import DeletesMessages
from bridge.network.ids import RemoteMessageID
from bridge.network.interface import DeliveryError

from .matrix_reactions import take_back

if TYPE_CHECKING:
    from .portal import Portal


def redacted_event(event: dict[str, Any]) -> str | None:
    """The event a redaction removes (``redacts`` is in the content from room version 11 on,
    at the top level before)."""
    content = event.get("content")
    redacts = content.get("redacts") if isinstance(content, dict) else None
    if not isinstance(redacts, str):
        redacts = event.get("redacts")
    return redacts if isinstance(redacts, str) else None


async def carry_redaction(
    portal: Portal, sender: str, redacts: str, notify: Callable[[str], Awaitable[None]]
) -> None:
    ctx = portal.ctx
    rows = await ctx.messages.by_mxid(redacts)
    if not rows:
        reaction = await ctx.reactions.by_mxid(redacts)
        if reaction is not None:
            await take_back(portal, sender, reaction, notify)
        return  # else not a message the bridge carried (or it was deleted before)
    if any(row.sender_mxid != sender for row in rows):
        portal.log.info("%s redacted %s, not theirs; the remote message stays", sender, redacts)
        return
    connector = ctx.connector
    if not isinstance(connector, DeletesMessages):
        await notify(
            f"Your message was removed here only: {connector.display_name} does not let the "
            "bridge delete messages."
        )
        return
    remote_ids = [RemoteMessageID(row.remote_id) for row in rows]
    try:
        await connector.delete_messages(portal.key, remote_ids)
    except DeliveryError as refusal:
        await notify(f"Your message was removed here only: {refusal}")
        return
    await ctx.messages.forget(redacts)
