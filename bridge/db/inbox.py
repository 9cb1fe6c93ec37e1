"""Durable inboxes: an event is stored before its arrival is acknowledged, then handled from here.

Matrix events are deduplicated by event id, not by transaction id: Synapse on SQLite starts its
transaction ids again at 1 after a restart, so a repeated transaction id may carry new events.
Remote events are deduplicated by the network's own key (for Telegram, the update id).

Each event names its lane, the ordered queue that handles it (decided on arrival). A lane keeps
only a window of its events in memory; the rest wait here and are read back in order
(``lane_batch``), so intake never waits for a busy chat and memory stays bounded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, null, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .database import Database
from .direct import Json
from .models import AppserviceTransaction, MatrixInbox, RemoteInbox, utcnow


@dataclass(frozen=True, slots=True)
class StoredMatrixEvent:
    id: int
    room_id: str | None
    event: dict[str, Any]
    lane: str | None = None
    # When it was stored (seconds since the epoch); None when just stored (it is now).
    received_at: float | None = None


@dataclass(frozen=True, slots=True)
class StoredRemoteEvent:
    id: int
    portal_remote_id: str
    portal_receiver: str
    event: dict[str, Any]
    lane: str | None = None
    received_at: float | None = None


@dataclass(frozen=True, slots=True)
class IncomingRemote:
    """A remote event to store: its network's key for it, its chat, its lane."""

    dedup_key: str
    portal_remote_id: str
    portal_receiver: str
    event: dict[str, Any]
    lane: str | None = None


class _Inbox:
    """What both inboxes do alike."""

    _model: type[MatrixInbox] | type[RemoteInbox]

    def __init__(self, db: Database) -> None:
        self._db = db

    async def assign_lanes(self, lanes: dict[int, str]) -> None:
        async with self._db.session() as session:
            for row_id, lane in lanes.items():
                await session.execute(
                    update(self._model).where(self._model.id == row_id).values(lane=lane)
                )

    async def max_id(self) -> int:
        async with self._db.session() as session:
            return int(await session.scalar(select(func.max(self._model.id))) or 0)

    async def mark_handled(self, inbox_id: int, error: str | None = None) -> None:
        await self._mark([inbox_id], error)

    async def claim(self, inbox_id: int) -> bool:
        """Mark an event handled before it is (its payload dropped: the caller holds it), for
        what must not happen twice (a command). True if this call marked it; False if it was
        marked already, and must not be handled again."""
        async with self._db.session() as session:
            result = await session.execute(
                update(self._model)
                .where(self._model.id == inbox_id, self._model.handled_at.is_(None))
                .values(handled_at=utcnow(), event=null())
            )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def mark_many_handled(self, inbox_ids: Iterable[int]) -> None:
        await self._mark(list(inbox_ids), None)

    async def _mark(self, ids: list[int], error: str | None) -> None:
        """Mark events handled; their payload is dropped, the row stays for deduplication."""
        if not ids:
            return
        table = self._model.__tablename__
        if self._db.dialect == "postgresql":
            which = "id = ANY($3::bigint[])"
        else:
            which = "id IN (SELECT value FROM json_each($3))"
        sql = f"UPDATE {table} SET handled_at = $1, error = $2, event = NULL WHERE {which}"
        await self._db.direct.run([(sql, (utcnow(), error, ids))])


class MatrixInboxStore(_Inbox):
    _model = MatrixInbox

    async def accept_transaction(
        self,
        txn_id: str,
        events: list[dict[str, Any]],
        lane_of: Callable[[dict[str, Any]], str | None] = lambda _event: None,
    ) -> list[StoredMatrixEvent]:
        """Store a transaction's events (one statement); return those not seen before, in the
        transaction's order (the inbox ids grow in that order).

        The transaction id is kept with each event (deduplication is by event id, so a
        transaction with nothing to store needs no record at all).
        """
        if not events:
            return []
        now = utcnow()
        rows = [
            (event["event_id"], event.get("room_id"), lane_of(event), txn_id, event, now)
            for event in events
        ]
        places = ", ".join(
            "(" + ", ".join(f"${6 * row + column}" for column in range(1, 7)) + ")"
            for row in range(len(rows))
        )
        sql = (
            "INSERT INTO matrix_inbox (event_id, room_id, lane, txn_id, event, received_at) "
            f"VALUES {places} ON CONFLICT (event_id) DO NOTHING RETURNING id, event_id"
        )
        args = [
            value if column != 4 else Json(value)
            for row in rows
            for column, value in enumerate(row)
        ]
        (returned,) = await self._db.direct.run([(sql, args)])
        inserted = {str(event_id): int(row_id) for row_id, event_id in returned}
        new = []
        for event_id, room_id, lane, _txn, event, _now in rows:
            row_id = inserted.get(event_id)
            if row_id is not None:
                new.append(StoredMatrixEvent(row_id, room_id, event, lane))
        return sorted(new, key=lambda stored: stored.id)

    async def accept_fetched(self, event: dict[str, Any], lane: str) -> StoredMatrixEvent | None:
        """Store an event the bridge found in a room's timeline before the homeserver delivered
        it; None if it was stored meanwhile. (The later delivery is then deduplicated.)"""
        async with self._db.session() as session:
            return await self._insert(session, event, "fetched", lane)

    async def _insert(
        self, session: AsyncSession, event: dict[str, Any], txn_id: str, lane: str
    ) -> StoredMatrixEvent | None:
        table = MatrixInbox.__table__
        statement = (
            self._db.insert_ignoring_conflicts(table, ["event_id"])  # type: ignore[arg-type]
            .values(
                event_id=event["event_id"],
                room_id=event.get("room_id"),
                lane=lane,
                txn_id=txn_id,
                event=event,
                received_at=utcnow(),
            )
            .returning(table.c.id)
        )
        row_id = (await session.execute(statement)).scalar_one_or_none()
        if row_id is None:
            return None
        return StoredMatrixEvent(row_id, event.get("room_id"), event, lane)

    async def move_room(self, room_id: str, from_lane: str, to_lane: str, after_id: int) -> None:
        """Give a room's events waiting in one lane (stored after ``after_id``) to another."""
        sql = (
            "UPDATE matrix_inbox SET lane = $1 WHERE lane = $2 AND room_id = $3 "
            "AND handled_at IS NULL AND id > $4"
        )
        await self._db.direct.run([(sql, (to_lane, from_lane, room_id, after_id))])

    async def unhandled(self, event_ids: list[str]) -> list[StoredMatrixEvent]:
        """Those of these events stored and not handled yet, in inbox order."""
        if not event_ids:
            return []
        async with self._db.session() as session:
            rows = await session.scalars(
                select(MatrixInbox)
                .where(MatrixInbox.event_id.in_(event_ids), MatrixInbox.handled_at.is_(None))
                .order_by(MatrixInbox.id)
            )
            return [_matrix(row) for row in rows]

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

    async def transaction_seen(self, txn_id: str) -> bool:
        async with self._db.session() as session:
            found = await session.get(AppserviceTransaction, txn_id)
            if found is not None:
                return True
            event = await session.scalar(
                select(MatrixInbox.id).where(MatrixInbox.txn_id == txn_id).limit(1)
            )
            return event is not None

    async def pending(self) -> list[StoredMatrixEvent]:
        """Every event stored but not handled yet (for tests and tools: the bridge itself
        reads them lane by lane)."""
        async with self._db.session() as session:
            rows = await session.scalars(
                select(MatrixInbox).where(MatrixInbox.handled_at.is_(None)).order_by(MatrixInbox.id)
            )
            return [_matrix(row) for row in rows]

    async def lane_batch(self, lane: str, after_id: int, limit: int) -> list[StoredMatrixEvent]:
        """The lane's unhandled events past ``after_id``, oldest first."""
        async with self._db.session() as session:
            rows = await session.scalars(
                select(MatrixInbox)
                .where(
                    MatrixInbox.lane == lane,
                    MatrixInbox.handled_at.is_(None),
                    MatrixInbox.id > after_id,
                )
                .order_by(MatrixInbox.id)
                .limit(limit)
            )
            return [_matrix(row) for row in rows]

    async def pending_lanes(self, waiting: timedelta | None = None) -> set[str]:
        """Lanes with unhandled events (stored at least ``waiting`` ago, if given)."""
        query = select(MatrixInbox.lane).where(
            MatrixInbox.handled_at.is_(None), MatrixInbox.lane.is_not(None)
        )
        if waiting is not None:
            query = query.where(MatrixInbox.received_at < utcnow() - waiting)
        async with self._db.session() as session:
            rows = await session.scalars(query.distinct())
            return {lane for lane in rows if lane is not None}

    async def unassigned(self) -> list[StoredMatrixEvent]:
        """Unhandled events stored before lanes existed (by an older version)."""
        async with self._db.session() as session:
            rows = await session.scalars(
                select(MatrixInbox)
                .where(MatrixInbox.handled_at.is_(None), MatrixInbox.lane.is_(None))
                .order_by(MatrixInbox.id)
            )
            return [_matrix(row) for row in rows]

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


class RemoteInboxStore(_Inbox):
    _model = RemoteInbox

    async def accept(
        self,
        network: str,
        dedup_key: str,
        portal_remote_id: str,
        portal_receiver: str,
        event: dict[str, Any],
        lane: str | None = None,
    ) -> StoredRemoteEvent | None:
        """Store a remote event; None if an event with this key was stored before."""
        item = IncomingRemote(dedup_key, portal_remote_id, portal_receiver, event, lane)
        (stored,) = await self.accept_all(network, [item])
        return stored

    async def accept_all(
        self, network: str, items: Sequence[IncomingRemote]
    ) -> list[StoredRemoteEvent | None]:
        """Store remote events in one transaction (all or none), in their order; for each, None
        if an event with its key was stored before."""
        sql = (
            "INSERT INTO remote_inbox (network, dedup_key, portal_remote_id, portal_receiver, "
            "lane, event, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7) "
            "ON CONFLICT (dedup_key) DO NOTHING RETURNING id"
        )
        now = utcnow()
        statements = [
            (
                sql,
                (
                    network,
                    item.dedup_key,
                    item.portal_remote_id,
                    item.portal_receiver,
                    item.lane,
                    Json(item.event),
                    now,
                ),
            )
            for item in items
        ]
        results = await self._db.direct.run(statements) if statements else []
        return [
            StoredRemoteEvent(
                int(returned[0][0]),
                item.portal_remote_id,
                item.portal_receiver,
                item.event,
                item.lane,
            )
            if returned
            else None
            for item, returned in zip(items, results, strict=True)
        ]

    async def unhandled(self, dedup_key: str) -> StoredRemoteEvent | None:
        """The event stored under this key, if it is not handled yet."""
        async with self._db.session() as session:
            row = await session.scalar(
                select(RemoteInbox).where(
                    RemoteInbox.dedup_key == dedup_key, RemoteInbox.handled_at.is_(None)
                )
            )
            return _remote(row) if row is not None else None

    async def pending(self, network: str) -> list[StoredRemoteEvent]:
        async with self._db.session() as session:
            rows = await session.scalars(
                select(RemoteInbox)
                .where(RemoteInbox.network == network, RemoteInbox.handled_at.is_(None))
                .order_by(RemoteInbox.id)
            )
            return [_remote(row) for row in rows]

    async def lane_batch(self, lane: str, after_id: int, limit: int) -> list[StoredRemoteEvent]:
        async with self._db.session() as session:
            rows = await session.scalars(
                select(RemoteInbox)
                .where(
                    RemoteInbox.lane == lane,
                    RemoteInbox.handled_at.is_(None),
                    RemoteInbox.id > after_id,
                )
                .order_by(RemoteInbox.id)
                .limit(limit)
            )
            return [_remote(row) for row in rows]

    async def pending_lanes(self, network: str, waiting: timedelta | None = None) -> set[str]:
        query = select(RemoteInbox.lane).where(
            RemoteInbox.network == network,
            RemoteInbox.handled_at.is_(None),
            RemoteInbox.lane.is_not(None),
        )
        if waiting is not None:
            query = query.where(RemoteInbox.received_at < utcnow() - waiting)
        async with self._db.session() as session:
            rows = await session.scalars(query.distinct())
            return {lane for lane in rows if lane is not None}

    async def unassigned(self, network: str) -> list[StoredRemoteEvent]:
        async with self._db.session() as session:
            rows = await session.scalars(
                select(RemoteInbox)
                .where(
                    RemoteInbox.network == network,
                    RemoteInbox.handled_at.is_(None),
                    RemoteInbox.lane.is_(None),
                )
                .order_by(RemoteInbox.id)
            )
            return [_remote(row) for row in rows]

    async def prune(self, keep: timedelta) -> int:
        cutoff = utcnow() - keep
        async with self._db.session() as session:
            result = await session.execute(
                delete(RemoteInbox).where(
                    RemoteInbox.handled_at.is_not(None), RemoteInbox.received_at < cutoff
                )
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _matrix(row: MatrixInbox) -> StoredMatrixEvent:
    return StoredMatrixEvent(
        row.id, row.room_id, row.event or {}, row.lane, _epoch_seconds(row.received_at)
    )


def _remote(row: RemoteInbox) -> StoredRemoteEvent:
    return StoredRemoteEvent(
        row.id,
        row.portal_remote_id,
        row.portal_receiver,
        row.event or {},
        row.lane,
        _epoch_seconds(row.received_at),
    )


def _epoch_seconds(moment: datetime | None) -> float | None:
    if moment is None:
        return None
    # SQLite gives the stored UTC time back without its zone.
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).timestamp()
