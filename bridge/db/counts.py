"""How many portals, ghosts, linked users and waiting events there are, for the metrics' gauges
(read when the metrics are scraped, in one session)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, func, select

from .database import Database
from .models import Ghost, MatrixInbox, Portal, RemoteInbox, User


@dataclass(frozen=True, slots=True)
class BridgeCounts:
    portals: int
    ghosts: int
    linked_users: int
    # Stored events not marked handled yet (marks the bridge holds back are not subtracted).
    matrix_waiting: int
    remote_waiting: int


async def bridge_counts(db: Database, network: str) -> BridgeCounts:
    async with db.session() as session:

        async def count(query: Select[int]) -> int:
            return int(await session.scalar(query) or 0)

        return BridgeCounts(
            portals=await count(
                select(func.count(Portal.id)).where(
                    Portal.network == network, Portal.mxid.is_not(None)
                )
            ),
            ghosts=await count(select(func.count(Ghost.id)).where(Ghost.network == network)),
            linked_users=await count(
                select(func.count(User.mxid)).where(User.remote_id.is_not(None))
            ),
            matrix_waiting=await count(
                select(func.count(MatrixInbox.id)).where(MatrixInbox.handled_at.is_(None))
            ),
            remote_waiting=await count(
                select(func.count(RemoteInbox.id)).where(
                    RemoteInbox.network == network, RemoteInbox.handled_at.is_(None)
                )
            ),
        )
