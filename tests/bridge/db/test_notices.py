"""Notices to management rooms, kept until sent, on SQLite and PostgreSQL: oldest first, each
with a transaction id of its own that a reused row id does not repeat."""

from __future__ import annotations

from bridge.db.database import Database
from bridge.db.notices import NoticeStore


async def test_notices_wait_in_order_until_sent_with_ids_never_repeated(db: Database) -> None:
    store = NoticeStore(db)
    first = await store.add("!a:x", "one")
    second = await store.add("!b:x", "two")
    assert [(n.room_id, n.text) for n in await store.pending()] == [
        ("!a:x", "one"),
        ("!b:x", "two"),
    ]
    await store.sent(second.id)
    await store.sent(first.id)
    assert await store.pending() == []
    # SQLite gives a deleted row's id out again; the transaction id is new all the same.
    again = await store.add("!a:x", "one")
    assert again.txn_id not in (first.txn_id, second.txn_id)
    assert [n.txn_id for n in await store.pending()] == [again.txn_id]
