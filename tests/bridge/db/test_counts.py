"""The metrics' gauges as the store counts them, on SQLite and PostgreSQL; and the time each
waiting event was stored, read right whatever the local time zone."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import update

from bridge.db.counts import bridge_counts
from bridge.db.database import Database
from bridge.db.inbox import MatrixInboxStore, RemoteInboxStore
from bridge.db.models import User
from bridge.db.stores import GhostStore, PortalStore, UserStore


@pytest.fixture
def far_from_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")  # UTC+14
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


async def test_counts_of_portals_ghosts_linked_users_and_waiting_events(db: Database) -> None:
    portals = PortalStore(db, "telegram")
    with_room = await portals.get_or_create("-100")
    await portals.update(with_room.id, mxid="!room:x")
    await portals.get_or_create("-200")  # no room yet: no portal to count
    await PortalStore(db, "other").get_or_create("-300")
    await GhostStore(db, "telegram").get_or_create("1", "@telegram_1:x")
    await GhostStore(db, "telegram").get_or_create("2", "@telegram_2:x")
    await GhostStore(db, "other").get_or_create("1", "@other_1:x")
    users = UserStore(db)
    await users.get_or_create("@alice:x")
    await users.get_or_create("@bob:x")
    async with db.session() as session:
        await session.execute(update(User).where(User.mxid == "@alice:x").values(remote_id="7"))
    matrix = MatrixInboxStore(db)
    events = [{"event_id": f"$e{i}", "room_id": "!room:x"} for i in range(3)]
    stored = await matrix.accept_transaction("1", events)
    remote = RemoteInboxStore(db)
    await remote.accept("telegram", "telegram:1", "-100", "", {"kind": "message"})
    await remote.accept("other", "other:1", "-300", "", {"kind": "message"})

    counts = await bridge_counts(db, "telegram")
    assert (counts.portals, counts.ghosts, counts.linked_users) == (1, 2, 1)
    assert (counts.matrix_waiting, counts.remote_waiting) == (3, 1)
    await matrix.mark_many_handled([row.id for row in stored[:2]])
    assert (await bridge_counts(db, "telegram")).matrix_waiting == 1


async def test_a_waiting_event_tells_when_it_was_stored(db: Database, far_from_utc: None) -> None:
    before = time.time()
    await MatrixInboxStore(db).accept_transaction("1", [{"event_id": "$e", "room_id": "!r:x"}])
    await RemoteInboxStore(db).accept("telegram", "telegram:1", "-1", "", {"kind": "message"})
    after = time.time()
    (matrix,) = await MatrixInboxStore(db).pending()
    (remote,) = await RemoteInboxStore(db).pending("telegram")
    for received_at in (matrix.received_at, remote.received_at):
        assert received_at is not None
        assert before - 1 <= received_at <= after + 1
