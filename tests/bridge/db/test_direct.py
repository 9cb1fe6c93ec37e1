"""Group commit on the driver path, on SQLite and PostgreSQL: units asked for at once share a
transaction, each caller gets its own rows back, and a failing unit fails only its caller."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text

from bridge.db import direct
from bridge.db.database import Database
from bridge.db.models import utcnow
from bridge.db.stores import MessageStore, PortalStore

INSERT = (
    "INSERT INTO message (portal_id, remote_id, part_id, mxid, room_id, timestamp) "
    "VALUES ($1, $2, '0', $3, '!r', $4) ON CONFLICT DO NOTHING RETURNING id"
)


async def test_units_asked_for_at_once_share_one_transaction(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    portal = await PortalStore(db, "telegram").get_or_create("1")
    transactions: list[int] = []
    original = direct.DirectPath.run

    async def counting_run(self: direct.DirectPath, statements: list[direct.Statement]) -> object:
        transactions.append(len(statements))
        return await original(self, statements)

    monkeypatch.setattr(direct.DirectPath, "run", counting_run)
    results = await asyncio.gather(
        *(
            db.direct.run_grouped([(INSERT, (portal.id, str(n), f"$e{n}", utcnow()))])
            for n in range(10)
        )
    )
    assert transactions == [10], "ten units, one transaction"
    ids = [rows[0][0][0] for rows in results]
    assert len(set(ids)) == 10, "each caller gets its own row back"
    rows = await MessageStore(db).by_mxid("$e3")
    assert [row.id for row in rows] == [ids[3]]

    # A duplicate is a conflict, not a failure: its caller gets no row, the others theirs.
    again = await asyncio.gather(
        db.direct.run_grouped([(INSERT, (portal.id, "3", "$e3", utcnow()))]),
        db.direct.run_grouped([(INSERT, (portal.id, "11", "$e11", utcnow()))]),
    )
    assert again[0] == [[]] and len(again[1][0]) == 1


async def test_a_failing_unit_fails_only_its_caller(db: Database) -> None:
    portal = await PortalStore(db, "telegram").get_or_create("1")
    broken = [("INSERT INTO no_such_table (x) VALUES ($1)", (1,))]
    outcomes = await asyncio.gather(
        db.direct.run_grouped([(INSERT, (portal.id, "1", "$one", utcnow()))]),
        db.direct.run_grouped(broken),
        db.direct.run_grouped([(INSERT, (portal.id, "2", "$two", utcnow()))]),
        return_exceptions=True,
    )
    assert isinstance(outcomes[1], Exception)
    assert not isinstance(outcomes[0], BaseException) and len(outcomes[0][0]) == 1
    assert not isinstance(outcomes[2], BaseException) and len(outcomes[2][0]) == 1
    messages = MessageStore(db)
    assert len(await messages.by_mxid("$one")) == 1 and len(await messages.by_mxid("$two")) == 1


async def test_every_sqlite_connection_syncs_each_commit(tmp_path: Path) -> None:
    """The bridge answers the homeserver and moves Telegram's offset once a commit returns: on
    both of its SQLite connections (SQLAlchemy's and the driver path's) a commit must survive a
    power cut, so the log is synced at each (FULL, 2), not only at checkpoints (NORMAL, 1)."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'bridge.db'}")
    try:
        await db.migrate()
        async with db.session() as session:
            assert await session.scalar(text("PRAGMA synchronous")) == 2
            assert await session.scalar(text("PRAGMA journal_mode")) == "wal"
        ((rows,),) = await db.direct.run([("PRAGMA synchronous", ())])
        assert tuple(rows) == (2,)
    finally:
        await db.close()
