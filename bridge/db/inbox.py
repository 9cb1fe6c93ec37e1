"""Durable inboxes: an event is stored before its arrival is acknowledged, then handled from here.

Matrix events are deduplicated by event id, not by transaction id: Synapse on SQLite starts its
transaction ids again at 1 after a restart, so a repeated transaction id may carry new events.
Remote events are deduplicated by the network's own key (for Telegram, the update id).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .database import Database
from .models import AppserviceTransaction, MatrixInbox, RemoteInbox, utcnow


@dataclass(frozen=True, slots=True)
class StoredMatrixEvent:
    id: int
    room_id: str | None
    event: dict[str, Any]


@dataclass(frozen=True, slots=True)
class StoredRemoteEvent:
    id: int
    portal_remote_id: str
    portal_receiver: str
    event: dict[str, Any]


class MatrixInboxStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def accept_transaction(
        self, txn_id: str, events: list[dict[str, Any]]
    ) -> list[StoredMatrixEvent]:
        """Store a transaction's events in one database transaction; return those not seen before.

        Events keep the transaction's order (the inbox ids grow in that order).
        """
        new: list[StoredMatrixEvent] = []
        async with self._db.session() as session:
            await session.execute(
                self._db.insert_ignoring_conflicts(
                    AppserviceTransaction.__table__,  # type: ignore[arg-type]
                    ["txn_id"],
                ).values(txn_id=txn_id, received_at=utcnow())
            )
            for event in events:
                stored = await self._insert(session, event, txn_id)
                if stored is not None:
                    new.append(stored)
        return new

    async def _insert(
        self, session: AsyncSession, event: dict[str, Any], txn_id: str
    ) -> StoredMatrixEvent | None:
        """Store one event unless its id is stored already (then None)."""
        statement = (
            self._db.insert_ignoring_conflicts(
                MatrixInbox.__table__,  # type: ignore[arg-type]
                ["event_id"],
            )
            .values(
                event_id=event["event_id"],
                room_id=event.get("room_id"),
                txn_id=txn_id,
                event=event,
                received_at=utcnow(),
            )
            .returning(MatrixInbox.__table__.c.id)
        )
        row_id = (await session.execute(statement)).scalar_one_or_none()
        if row_id is None:
            return None
        return StoredMatrixEvent(row_id, event.get("room_id"), event)

    async def status(self, event_ids: list[str]) -> dict[str, tuple[int, bool]]:
        """For the events the bridge has: their inbox id and whether they were handled."""
        if not event_ids:
            return {}
        async with self._db.session() as session:
            rows = await session.execute(
                select(MatrixInbox.event_id, MatrixInbox.id, MatrixInbox.handled_at).where(
                    MatrixInbox.event_id.in_(event_ids)
                )
            )
            return {event_id: (row_id, handled is not None) for event_id, row_id, handled in rows}

    async def accept_fetched(self, event: dict[str, Any]) -> StoredMatrixEvent | None:
        """Store an event the bridge found in a room's timeline before the homeserver delivered
        it; None if it was stored meanwhile. (The later delivery is then deduplicated.)"""
        async with self._db.session() as session:
            return await self._insert(session, event, "fetched")

    async def transaction_seen(self, txn_id: str) -> bool:
        async with self._db.session() as session:
            found = await session.get(AppserviceTransaction, txn_id)
            return found is not None

    async def pending(self) -> list[StoredMatrixEvent]:
        """Events stored but not yet handled (for example when the bridge was killed)."""
        async with self._db.session() as session:
            rows = await session.scalars(
                select(MatrixInbox).where(MatrixInbox.handled_at.is_(None)).order_by(MatrixInbox.id)
            )
            return [StoredMatrixEvent(row.id, row.room_id, row.event or {}) for row in rows]

    async def mark_handled(self, inbox_id: int, error: str | None = None) -> None:
        # The payload is dropped once handled; the event id stays for deduplication.
        async with self._db.session() as session:
            await session.execute(
                update(MatrixInbox)
                .where(MatrixInbox.id == inbox_id)
                .values(handled_at=utcnow(), error=error, event=None)
            )

    async def prune(self, keep: timedelta) -> int:
        """Forget handled events and transaction ids older than ``keep``."""
        cutoff: datetime = utcnow() - keep
        async with self._db.session() as session:
            events = await session.execute(
                delete(MatrixInbox).where(
                    MatrixInbox.handled_at.is_not(None), MatrixInbox.received_at < cutoff
                )
            )
            await session.execute(
                delete(AppserviceTransaction).where(AppserviceTransaction.received_at < cutoff)
            )
            return int(events.rowcount or 0)  # type: ignore[attr-defined]


class RemoteInboxStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def accept(
        self,
        network: str,
        dedup_key: str,
        portal_remote_id: str,
        portal_receiver: str,
        event: dict[str, Any],
    ) -> StoredRemoteEvent | None:
        """Store a remote event; None if an event with this key was stored before."""
        async with self._db.session() as session:
            statement = (
                self._db.insert_ignoring_conflicts(
                    RemoteInbox.__table__,  # type: ignore[arg-type]
                    ["dedup_key"],
                )
                .values(
                    network=network,
                    dedup_key=dedup_key,
                    portal_remote_id=portal_remote_id,
                    portal_receiver=portal_receiver,
                    event=event,
                    received_at=utcnow(),
                )
                .returning(RemoteInbox.__table__.c.id)
            )
            row_id = (await session.execute(statement)).scalar_one_or_none()
        if row_id is None:
            return None
        return StoredRemoteEvent(row_id, portal_remote_id, portal_receiver, event)

    async def pending(self, network: str) -> list[StoredRemoteEvent]:
        async with self._db.session() as session:
            rows = await session.scalars(
                select(RemoteInbox)
                .where(RemoteInbox.network == network, RemoteInbox.handled_at.is_(None))
                .order_by(RemoteInbox.id)
            )
            return [
                StoredRemoteEvent(
                    row.id, row.portal_remote_id, row.portal_receiver, row.event or {}
                )
                for row in rows
            ]

    async def mark_handled(self, inbox_id: int, error: str | None = None) -> None:
        async with self._db.session() as session:
            await session.execute(
                update(RemoteInbox)
                .where(RemoteInbox.id == inbox_id)
                .values(handled_at=utcnow(), error=error, event=None)
            )

    async def prune(self, keep: timedelta) -> int:
        cutoff = utcnow() - keep
        async with self._db.session() as session:
            result = await session.execute(
                delete(RemoteInbox).where(
                    RemoteInbox.handled_at.is_not(None), RemoteInbox.received_at < cutoff
                )
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]
