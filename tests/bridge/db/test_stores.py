"""The stores on SQLite and PostgreSQL: unique keys make duplicate mappings impossible."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from bridge.db.database import Database
from bridge.db.inbox import MatrixInboxStore, RemoteInboxStore
from bridge.db.models import MatrixInbox, Message
from bridge.db.stores import (
    GhostStore,
    KeyValueStore,
    MessageStore,
    PortalStore,
    ReactionStore,
    UserStore,
)


async def test_portal_is_created_once(db: Database) -> None:
    store = PortalStore(db, "telegram")
    first = await store.get_or_create("-100123")
    again = await store.get_or_create("-100123")
    assert first.id == again.id
    other_receiver = await store.get_or_create("-100123", receiver="alice")
    assert other_receiver.id != first.id
    await store.update(first.id, mxid="!room:x")
    found = await store.by_room("!room:x")
    assert found is not None and found.id == first.id


async def test_message_map_refuses_duplicates(db: Database) -> None:
    portal = await PortalStore(db, "telegram").get_or_create("1")
    messages = MessageStore(db)
    assert await messages.add(portal.id, "10", "0", "$a", "!r")
    assert not await messages.add(portal.id, "10", "0", "$b", "!r"), "same remote message part"
    assert not await messages.add(portal.id, "11", "0", "$a", "!r"), "same Matrix event part"
    assert await messages.add(portal.id, "12", "0", "$c", "!r")
    assert await messages.add(portal.id, "13", "1", "$c", "!r"), "a second part of one event"
    assert [row.remote_id for row in await messages.by_mxid("$c")] == ["12", "13"]
    assert [row.mxid for row in await messages.by_remote(portal.id, "10")] == ["$a"]
    # The constraint itself, not only the store, refuses a duplicate.
    with pytest.raises(IntegrityError):
        async with db.session() as session:
            session.add(
                Message(portal_id=portal.id, remote_id="10", part_id="0", mxid="$z", room_id="!r")
            )


async def test_reaction_map_refuses_duplicates(db: Database) -> None:
    portal = await PortalStore(db, "telegram").get_or_create("1")
    reactions = ReactionStore(db)
    assert await reactions.add(portal.id, "10", "u1", "👍", "👍", "$r1")
    assert not await reactions.add(portal.id, "10", "u1", "👍", "👍", "$r2")
    assert not await reactions.add(portal.id, "10", "u2", "❤", "❤", "$r1")
    assert await reactions.add(portal.id, "10", "u2", "👍", "👍", "$r3")


async def test_deleting_a_portal_deletes_its_messages(db: Database) -> None:
    portals = PortalStore(db, "telegram")
    portal = await portals.get_or_create("9")
    messages = MessageStore(db)
    await messages.add(portal.id, "1", "0", "$x", "!r")
    await portals.delete(portal.id)
    assert await messages.by_mxid("$x") == []


async def test_ghosts_users_and_state(db: Database) -> None:
    ghosts = GhostStore(db, "telegram")
    ghost = await ghosts.get_or_create("42", "@telegram_42:x")
    assert (await ghosts.get_or_create("42", "@telegram_42:x")).id == ghost.id
    users = UserStore(db)
    await users.get_or_create("@a:x")
    await users.get_or_create("@b:x")
    await users.set_management_room("@a:x", "!dm")
    await users.set_management_room("@b:x", "!dm")
    owner = await users.by_management_room("!dm")
    assert owner is not None and owner.mxid == "@b:x"
    state = KeyValueStore(db)
    assert await state.get("telegram.offset") is None
    await state.set("telegram.offset", 17)
    await state.set("telegram.offset", 18)
    assert await state.get("telegram.offset") == 18


async def test_matrix_inbox_deduplicates_by_event_id(db: Database) -> None:
    inbox = MatrixInboxStore(db)
    events = [{"event_id": f"$e{i}", "room_id": "!r", "type": "m.room.message"} for i in range(3)]
    new = await inbox.accept_transaction("1", events)
    assert [stored.event["event_id"] for stored in new] == ["$e0", "$e1", "$e2"]
    assert await inbox.accept_transaction("1", events) == []
    # A reused transaction id with one new event: only the new event counts.
    again = await inbox.accept_transaction("1", [*events, {"event_id": "$e3", "room_id": "!r"}])
    assert [stored.event["event_id"] for stored in again] == ["$e3"]
    assert await inbox.transaction_seen("1")
    await inbox.mark_handled(new[0].id)
    assert [stored.event["event_id"] for stored in await inbox.pending()] == ["$e1", "$e2", "$e3"]


async def test_claiming_an_event_marks_it_handled_once(db: Database) -> None:
    """What must not happen twice is marked handled before it happens: only the first claim
    of an event says so, and the event no longer waits."""
    inbox = MatrixInboxStore(db)
    events = [{"event_id": f"$c{i}", "room_id": "!r", "type": "m.room.message"} for i in range(2)]
    first, second = await inbox.accept_transaction("c", events)
    assert await inbox.claim(first.id) is True
    assert await inbox.claim(first.id) is False
    assert [stored.id for stored in await inbox.pending()] == [second.id]
    await inbox.mark_handled(second.id)
    assert await inbox.claim(second.id) is False, "handled already"
    async with db.session() as session:
        row = await session.get(MatrixInbox, first.id)
    assert row is not None and row.event is None, "its payload is dropped, as marking does"


async def test_remote_inbox_deduplicates_by_key(db: Database) -> None:
    inbox = RemoteInboxStore(db)
    stored = await inbox.accept("telegram", "telegram:update:5", "-1", "", {"kind": "message"})
    assert stored is not None
    assert await inbox.accept("telegram", "telegram:update:5", "-1", "", {"kind": "x"}) is None
    assert [row.id for row in await inbox.pending("telegram")] == [stored.id]
    await inbox.mark_handled(stored.id)
    assert await inbox.pending("telegram") == []
