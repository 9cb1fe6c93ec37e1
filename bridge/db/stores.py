"""Queries for portals, ghosts, users, the message map, reactions and small key-value state.

Rows come back detached (``expire_on_commit=False``): plain records to read, changed only through
these methods.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Row, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from .database import Database
from .models import Ghost, KeyValue, Message, OutgoingIntent, Portal, Reaction, User, utcnow


class PortalStore:
    def __init__(self, db: Database, network: str) -> None:
        self._db = db
        self._network = network

    async def get(self, remote_id: str, receiver: str = "") -> Portal | None:
        async with self._db.session() as session:
            return await session.scalar(
                select(Portal).where(
                    Portal.network == self._network,
                    Portal.remote_id == remote_id,
                    Portal.receiver == receiver,
                )
            )

    async def get_or_create(self, remote_id: str, receiver: str = "") -> Portal:
        found = await self.get(remote_id, receiver)
        if found is not None:
            return found
        try:
            async with self._db.session() as session:
                portal = Portal(network=self._network, remote_id=remote_id, receiver=receiver)
                portal.extra = {}
                session.add(portal)
            return portal
        except IntegrityError:
            # Created concurrently: the unique key kept it single; read the winner.
            winner = await self.get(remote_id, receiver)
            assert winner is not None
            return winner

    async def by_id(self, portal_id: int) -> Portal | None:
        async with self._db.session() as session:
            return await session.get(Portal, portal_id)

    async def by_room(self, room_id: str) -> Portal | None:
        async with self._db.session() as session:
            return await session.scalar(select(Portal).where(Portal.mxid == room_id))

    async def index_rows(self) -> list[Row[tuple[int, str, str, str | None, dict[str, Any]]]]:
        """Every portal's id, chat, receiver, room and extra: what routing needs in memory."""
        async with self._db.session() as session:
            rows = await session.execute(
                select(Portal.id, Portal.remote_id, Portal.receiver, Portal.mxid, Portal.extra)
                .where(Portal.network == self._network)
                .order_by(Portal.id)
            )
            return list(rows)

    async def with_rooms(self) -> list[tuple[str, str, str, str | None]]:
        """Every portal that has a room: its room, chat, receiver and name."""
        async with self._db.session() as session:
            rows = await session.execute(
                select(Portal.mxid, Portal.remote_id, Portal.receiver, Portal.name)
                .where(Portal.network == self._network, Portal.mxid.is_not(None))
                .order_by(Portal.id)
            )
            return [(str(room), remote, receiver, name) for room, remote, receiver, name in rows]

    async def roomless(self, older_than: timedelta) -> list[int]:
        """Portals that never got a room (created long ago, by an older version for a private
        chat, or by a /bridge that failed)."""
        cutoff = utcnow() - older_than
        async with self._db.session() as session:
            rows = await session.scalars(
                select(Portal.id).where(
                    Portal.network == self._network,
                    Portal.mxid.is_(None),
                    Portal.created_at < cutoff,
                )
            )
            return list(rows)

    async def add_alias(self, portal_id: int, remote_id: str) -> None:
        """Remember that events of another chat id belong to this portal (it moved there)."""
        async with self._db.session() as session:
            portal = await session.get(Portal, portal_id)
            if portal is None:
                return
            extra = dict(portal.extra or {})
            also = [str(other) for other in extra.get("also", [])]
            if remote_id not in also:
                extra["also"] = [*also, remote_id]
                portal.extra = extra

    async def update(self, portal_id: int, **values: Any) -> None:
        async with self._db.session() as session:
            await session.execute(update(Portal).where(Portal.id == portal_id).values(**values))

    async def delete(self, portal_id: int) -> None:
        async with self._db.session() as session:
            await session.execute(delete(Portal).where(Portal.id == portal_id))


class GhostStore:
    def __init__(self, db: Database, network: str) -> None:
        self._db = db
        self._network = network

    async def get(self, remote_id: str) -> Ghost | None:
        async with self._db.session() as session:
            return await session.scalar(
                select(Ghost).where(Ghost.network == self._network, Ghost.remote_id == remote_id)
            )

    async def get_or_create(self, remote_id: str, mxid: str) -> Ghost:
        found = await self.get(remote_id)
        if found is not None:
            return found
        try:
            async with self._db.session() as session:
                ghost = Ghost(network=self._network, remote_id=remote_id, mxid=mxid)
                ghost.extra = {}
                session.add(ghost)
            return ghost
        except IntegrityError:
            winner = await self.get(remote_id)
            assert winner is not None
            return winner

    async def update(self, ghost_id: int, **values: Any) -> None:
        async with self._db.session() as session:
            await session.execute(update(Ghost).where(Ghost.id == ghost_id).values(**values))


class UserStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, mxid: str) -> User | None:
        async with self._db.session() as session:
            return await session.get(User, mxid)

    async def get_or_create(self, mxid: str) -> User:
        found = await self.get(mxid)
        if found is not None:
            return found
        try:
            async with self._db.session() as session:
                user = User(mxid=mxid)
                session.add(user)
            return user
        except IntegrityError:
            winner = await self.get(mxid)
            assert winner is not None
            return winner

    async def by_management_room(self, room_id: str) -> User | None:
        async with self._db.session() as session:
            return await session.scalar(select(User).where(User.management_room == room_id))

    async def set_management_room(self, mxid: str, room_id: str | None) -> None:
        async with self._db.session() as session:
            if room_id is not None:
                # A room is the management room of one user at most.
                await session.execute(
                    update(User).where(User.management_room == room_id).values(management_room=None)
                )
            await session.execute(
                update(User).where(User.mxid == mxid).values(management_room=room_id)
            )


class MessageStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(
        self,
        portal_id: int,
        remote_id: str,
        part_id: str,
        mxid: str,
        room_id: str,
        sender_remote_id: str | None = None,
        sender_mxid: str | None = None,
    ) -> bool:
        """Record a mapping; False if this part or event was mapped already (a replay).

        An intent noted for this part (see ``intend``) is left behind: once the part is mapped
        the intent no longer counts (``in_doubt``), and ``prune_intents`` clears it.
        """
        sql = (
            "INSERT INTO message (portal_id, remote_id, part_id, mxid, room_id, "
            "sender_remote_id, sender_mxid, timestamp) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
            "ON CONFLICT DO NOTHING RETURNING id"
        )
        args = (
            portal_id,
            remote_id,
            part_id,
            mxid,
            room_id,
            sender_remote_id,
            sender_mxid,
            utcnow(),
        )
        (returned,) = await self._db.direct.run_grouped([(sql, args)])
        return bool(returned)

    async def intend(self, portal_id: int, mxid: str, part_id: str) -> None:
        """Note that this part is about to be sent (before it leaves the bridge), with the
        newest remote message of the portal. A note from an earlier attempt stands (and so
        does where it started looking)."""
        sql = (
            "INSERT INTO outgoing_intent (portal_id, mxid, part_id, after_remote_id, started_at) "
            "VALUES ($1, $2, $3, (SELECT remote_id FROM message WHERE portal_id = $1 "
            "ORDER BY id DESC LIMIT 1), $4) ON CONFLICT DO NOTHING"
        )
        await self._db.direct.run_grouped([(sql, (portal_id, mxid, part_id, utcnow()))])

    async def prune_intents(self, older_than: timedelta) -> int:
        """Forget intents whose part was mapped, or that are older than ``older_than``."""
        cutoff = utcnow() - older_than
        mapped = (
            select(Message.id)
            .where(Message.mxid == OutgoingIntent.mxid, Message.part_id == OutgoingIntent.part_id)
            .exists()
        )
        async with self._db.session() as session:
            result = await session.execute(
                delete(OutgoingIntent).where(mapped | (OutgoingIntent.started_at < cutoff))
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def in_doubt(self, mxid: str, recorded_as: str | None = None) -> dict[str, str | None]:
        """Parts of this event whose sending began but was never recorded, with the newest
        remote id the portal knew then. ``recorded_as``: the parts are recorded under this
        event instead (the message an edit changes)."""
        async with self._db.session() as session:
            intents = {
                intent.part_id: intent.after_remote_id
                for intent in await session.scalars(
                    select(OutgoingIntent).where(OutgoingIntent.mxid == mxid)
                )
            }
            owner = recorded_as if recorded_as is not None else mxid
            recorded = set(
                await session.scalars(select(Message.part_id).where(Message.mxid == owner))
            )
        return {part: after for part, after in intents.items() if part not in recorded}

    async def forget_intent(self, mxid: str, part_id: str) -> None:
        """The part was refused, so it did not leave: it is not in doubt."""
        async with self._db.session() as session:
            await session.execute(
                delete(OutgoingIntent).where(
                    OutgoingIntent.mxid == mxid, OutgoingIntent.part_id == part_id
                )
            )

    async def forget_intents(self, mxid: str) -> None:
        async with self._db.session() as session:
            await session.execute(delete(OutgoingIntent).where(OutgoingIntent.mxid == mxid))

    async def remove_part(self, mxid: str, part_id: str) -> None:
        """An edit made the message shorter: this part no longer exists on the remote side."""
        async with self._db.session() as session:
            await session.execute(
                delete(Message).where(Message.mxid == mxid, Message.part_id == part_id)
            )

    async def forget(self, mxid: str) -> None:
        """The message is gone on both sides: its parts are no longer mapped."""
        async with self._db.session() as session:
            await session.execute(delete(Message).where(Message.mxid == mxid))

    async def latest(self, portal_ids: list[int]) -> dict[int, int]:
        """The newest message map row of each portal (a measure of its last activity)."""
        async with self._db.session() as session:
            rows = await session.execute(
                select(Message.portal_id, func.max(Message.id))
                .where(Message.portal_id.in_(portal_ids))
                .group_by(Message.portal_id)
            )
            return {portal_id: int(latest) for portal_id, latest in rows}

    async def portals_of_remote(self, portal_ids: list[int], remote_id: str) -> list[int]:
        """Which of these portals bridged the remote message."""
        async with self._db.session() as session:
            rows = await session.scalars(
                select(Message.portal_id)
                .where(Message.portal_id.in_(portal_ids), Message.remote_id == remote_id)
                .distinct()
            )
            return list(rows)

    async def recent_remote_ids(self, portal_ids: list[int], limit: int = 200) -> list[str]:
        """The remote ids most recently mapped in these portals, newest first."""
        async with self._db.session() as session:
            rows = await session.scalars(
                select(Message.remote_id)
                .where(Message.portal_id.in_(portal_ids))
                .order_by(Message.id.desc())
                .limit(limit)
            )
            return list(rows)

    async def by_remote(self, portal_id: int, remote_id: str) -> list[Message]:
        async with self._db.session() as session:
            rows = await session.scalars(
                select(Message)
                .where(Message.portal_id == portal_id, Message.remote_id == remote_id)
                .order_by(Message.id)
            )
            return list(rows)

    async def by_mxid(self, mxid: str) -> list[Message]:
        async with self._db.session() as session:
            rows = await session.scalars(
                select(Message).where(Message.mxid == mxid).order_by(Message.id)
            )
            return list(rows)

    async def count(self, portal_id: int) -> int:
        async with self._db.session() as session:
            rows = await session.scalars(select(Message.id).where(Message.portal_id == portal_id))
            return len(list(rows))


# The reaction table's sender for a reaction the bridge holds for a Matrix user.
RELAYED_PREFIX = "matrix:"


class ReactionStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(
        self,
        portal_id: int,
        message_remote_id: str,
        sender_remote_id: str,
        emoji_id: str,
        emoji: str,
        mxid: str,
    ) -> bool:
        statement = self._db.insert_ignoring_conflicts(
            Reaction.__table__,  # type: ignore[arg-type]
            ["portal_id", "message_remote_id", "sender_remote_id", "emoji_id"],
        ).values(
            portal_id=portal_id,
            message_remote_id=message_remote_id,
            sender_remote_id=sender_remote_id,
            emoji_id=emoji_id,
            emoji=emoji,
            mxid=mxid,
        )
        try:
            async with self._db.session() as session:
                result = await session.execute(statement)
                return bool(result.rowcount)  # type: ignore[attr-defined]
        except IntegrityError:
            return False

    async def find(
        self, portal_id: int, message_remote_id: str, sender_remote_id: str, emoji_id: str
    ) -> Reaction | None:
        async with self._db.session() as session:
            row: Reaction | None = await session.scalar(
                select(Reaction).where(
                    Reaction.portal_id == portal_id,
                    Reaction.message_remote_id == message_remote_id,
                    Reaction.sender_remote_id == sender_remote_id,
                    Reaction.emoji_id == emoji_id,
                )
            )
            return row

    async def of_message(
        self, portal_id: int, message_remote_id: str, sender_remote_id: str
    ) -> list[Reaction]:
        """A sender's reactions to a message."""
        async with self._db.session() as session:
            rows = await session.scalars(
                select(Reaction).where(
                    Reaction.portal_id == portal_id,
                    Reaction.message_remote_id == message_remote_id,
                    Reaction.sender_remote_id == sender_remote_id,
                )
            )
            return list(rows)

    async def by_mxid(self, mxid: str) -> Reaction | None:
        async with self._db.session() as session:
            row: Reaction | None = await session.scalar(
                select(Reaction).where(Reaction.mxid == mxid)
            )
            return row

    async def relayed(self, portal_id: int, message_remote_id: str) -> Reaction | None:
        """The reaction the bridge holds on a remote message for a Matrix user (its
        ``sender_remote_id`` is ``RELAYED_PREFIX`` and the user's id)."""
        async with self._db.session() as session:
            row: Reaction | None = await session.scalar(
                select(Reaction).where(
                    Reaction.portal_id == portal_id,
                    Reaction.message_remote_id == message_remote_id,
                    Reaction.sender_remote_id.startswith(RELAYED_PREFIX),
                )
            )
            return row

    async def remove(self, reaction_id: int) -> None:
        async with self._db.session() as session:
            await session.execute(delete(Reaction).where(Reaction.id == reaction_id))


class KeyValueStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, key: str) -> Any:
        async with self._db.session() as session:
            row = await session.get(KeyValue, key)
            return None if row is None else row.value

    async def set(self, key: str, value: Any) -> None:
        async with self._db.session() as session:
            row = await session.get(KeyValue, key)
            if row is None:
                session.add(KeyValue(key=key, value=value))
            else:
                row.value = value
