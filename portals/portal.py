"""A portal: one remote chat, its Matrix room and its ordered queue of events from both sides."""

from __future__ import annotations

import logging
from collections.abc import Callable

from bridge.db.models import Portal as PortalRecord
from bridge.network.ids import PortalKey

from . import from_matrix, to_matrix
from .context import PortalContext
from .items import CallItem, MatrixItem, PortalItem, RemoteItem
from .queue import OrderedQueue


class Portal:
    def __init__(self, key: PortalKey, record: PortalRecord, ctx: PortalContext) -> None:
        self.key = key
        self.record = record
        self.ctx = ctx
        self.log = logging.getLogger(f"portals.{key}")
        self.queue: OrderedQueue[PortalItem] = OrderedQueue(
            f"portal:{key}", self._handle, ctx.queue_size
        )
        # Display names from this room's member events, in the room's order.
        self.member_names: dict[str, str] = {}
        # Set by the manager, which finds portals by key.
        self.on_rekey: Callable[[Portal, PortalKey], None] | None = None

    def rekey(self, key: PortalKey) -> None:
        """The remote chat moved to a new id; events under the old id still come here."""
        self.key = key
        if self.on_rekey is not None:
            self.on_rekey(self, key)

    @property
    def room_id(self) -> str | None:
        return self.record.mxid

    @property
    def id(self) -> int:
        return self.record.id

    async def _handle(self, item: PortalItem) -> None:
        match item:
            case MatrixItem(inbox_id=inbox_id, event=event):
                error = None
                try:
                    await from_matrix.handle_event(self, event)
                except Exception as failure:
                    self.log.exception("Failed to handle Matrix event %s", event.get("event_id"))
                    error = repr(failure)
                await self.ctx.matrix_inbox.mark_handled(inbox_id, error)
            case RemoteItem(inbox_id=inbox_id, event=remote):
                error = None
                try:
                    await to_matrix.handle_event(self, remote)
                except Exception as failure:
                    self.log.exception("Failed to handle remote event %s", type(remote).__name__)
                    error = repr(failure)
                await self.ctx.remote_inbox.mark_handled(inbox_id, error)
            case CallItem(run=run, done=done):
                try:
                    result = await run()
                except Exception as failure:
                    if not done.done():
                        done.set_exception(failure)
                else:
                    if not done.done():
                        done.set_result(result)
