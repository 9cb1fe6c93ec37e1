"""Portals at the scale of a whole homeserver, on a real Synapse with the in-test connector:
idle portals let their worker go and start again on demand; a chat nobody bridged leaves no
trace; a steady conversation asks the homeserver nothing beyond the messages themselves; a
routing failure strands nothing; bridging from Matrix is checked in the portal's own order."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from mautrix.api import HTTPAPI
from sqlalchemy import event, func, select, update

from bridge.db import direct
from bridge.db.inbox import MatrixInboxStore
from bridge.db.models import MatrixInbox as MatrixInboxRow
from bridge.db.models import Portal as PortalRecord
from bridge.db.models import RemoteInbox
from bridge.db.stores import PortalStore
from bridge.management import ManagementRooms
from bridge.matrix.gaps import RETRY_SILENCE
from bridge.network.events import ChatInfo
from bridge.network.ids import PortalKey, RemoteChatID
from portals.lanes import Lane
from portals.room import PortalRooms
from tests.bridge.test_listener_integration import Homeserverish
from tests.bridge.test_management_room import notice_containing
from tests.conftest import StartBridge
from tests.fakes.fake_network import FakeConnector
from tests.support.bridge_harness import AppserviceSetup, RunningBridge
from tests.support.fixtures import MakeMatrixUser
from tests.support.matrix_client import MatrixTestClient
from tests.support.waiting import eventually


def text_event(body: str) -> Callable[[dict[str, Any]], bool]:
    def match(event: dict[str, Any]) -> bool:
        return event.get("type") == "m.room.message" and event["content"].get("body") == body

    return match


async def until(check: Callable[[], Any], timeout: float = 15.0, what: str = "") -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not (result := check()):
        assert loop.time() < deadline, f"timed out waiting for {what or check}"
        await asyncio.sleep(0.05)
    return result


async def count(running: RunningBridge, model: Any, *where: Any) -> int:
    async with running.bridge.db.session() as session:
        query = select(func.count()).select_from(model)
        if where:
            query = query.where(*where)
        return int(await session.scalar(query) or 0)


class HomeserverRequests:
    """Every request the bridge makes to the homeserver, by method and path."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.seen: list[tuple[str, str]] = []
        original = HTTPAPI.request

        async def recording(api: HTTPAPI, method: Any, path: Any, *args: Any, **kw: Any) -> Any:
            self.seen.append((str(method), str(path)))
            return await original(api, method, path, *args, **kw)

        monkeypatch.setattr(HTTPAPI, "request", recording)

    def since(self, mark: int) -> Counter[str]:
        return Counter(f"{method} {_shape(path)}" for method, path in self.seen[mark:])


def _shape(path: str) -> str:
    """A path with its ids left out: /rooms/!x/send/m.room.message/t -> rooms/send."""
    parts = [p for p in path.split("/") if p and not p.startswith(("!", "@", "$", "%"))]
    return "/".join(p for p in parts if p in {"rooms", "send", "context", "messages", "state"})


async def open_portal(
    connector: FakeConnector, make_matrix_user: MakeMatrixUser, chat: str
) -> tuple[Any, str]:
    user = await make_matrix_user("writer", displayname="Writer")
    room_id = await connector.create_portal(chat, f"Chat {chat}", [user.user_id])
    await user.join(await user.wait_for_invite())
    return user, room_id


async def admin_in_a_room(
    start_bridge: StartBridge, make_matrix_user: MakeMatrixUser, connector: FakeConnector
) -> tuple[RunningBridge, MatrixTestClient, str]:
    """A bridge admin in a room with the bot and another user (not a management room)."""
    running = await start_bridge(
        connector=connector, overrides={"bridge.permissions": {"synapse.test": "admin"}}
    )
    admin = await make_matrix_user("admin")
    other = await make_matrix_user("other")
    room_id = await admin.create_room(name="Mine", invite=[running.bot, other.user_id])
    await other.join(room_id)  # three of us: not a management room
    await admin.wait_for_membership(room_id, running.bot, "join")
    return running, admin, room_id


async def test_an_idle_portal_lets_its_worker_go_and_starts_again_on_demand(
    start_bridge: StartBridge, make_matrix_user: MakeMatrixUser
) -> None:
    connector = FakeConnector()
    running = await start_bridge(connector=connector, idle_after=0.3)
    manager = running.bridge.portals
    assert manager is not None
    user, room_id = await open_portal(connector, make_matrix_user, "idle")
    await connector.remote_message("idle", "1", "7", "Ida", "before the pause")
    await user.wait_for_event(room_id, text_event("before the pause"))

    portal_id = manager.index.by_room(room_id)
    assert portal_id is not None
    await until(
        lambda: all(p.id != portal_id for p in manager.loaded()),
        what="the idle portal let go",
    )
    workers = [
        t.get_name() for t in asyncio.all_tasks() if t.get_name() == f"lane:portal:{portal_id}"
    ]
    assert workers == [], "no worker left for the idle portal"

    await connector.remote_message("idle", "2", "7", "Ida", "after the pause")
    await user.wait_for_event(room_id, text_event("after the pause"))
    await user.send_message(room_id, "and back")
    await until(lambda: any(m.body == "Writer: and back" for _, m in connector.network.sent))


async def test_a_chat_without_a_portal_leaves_no_row_no_event_and_no_worker(
    start_bridge: StartBridge,
) -> None:
    connector = FakeConnector()
    running = await start_bridge(connector=connector)
    manager = running.bridge.portals
    assert manager is not None
    before = len(manager.loaded())
    for number in range(5):
        kept = await connector.remote_message("dm-42", str(number), "42", "Stranger", "hi bot")
        assert not kept
    assert await count(running, PortalRecord, PortalRecord.remote_id == "dm-42") == 0
    assert await count(running, RemoteInbox, RemoteInbox.portal_remote_id == "dm-42") == 0
    assert len(manager.loaded()) == before


async def test_a_steady_conversation_asks_the_homeserver_nothing_extra(
    start_bridge: StartBridge,
    make_matrix_user: MakeMatrixUser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """After the first message each way (which may look around once after the start), a Matrix
    message costs the homeserver no request at all (no timeline context, no profile look-up,
    no sweep of active rooms while the deliveries show no gap) and a remote message exactly
    one (its send)."""
    from bridge import app

    monkeypatch.setattr(app, "SWEEP_INTERVAL", 0.2)
    connector = FakeConnector()
    await start_bridge(connector=connector)
    user, room_id = await open_portal(connector, make_matrix_user, "steady")
    requests = HomeserverRequests(monkeypatch)
    await user.send_message(room_id, "warm up")
    await connector.remote_message("steady", "0", "9", "Remy", "warm up too")
    await user.wait_for_event(room_id, text_event("warm up too"))
    await until(lambda: len(connector.network.sent) == 1)

    await asyncio.sleep(0.5)  # the start's own sweep
    mark = len(requests.seen)
    for number in range(5):
        await user.send_message(room_id, f"matrix {number}")
    await until(lambda: len(connector.network.sent) == 6, what="five relayed")
    await asyncio.sleep(0.5)  # sweeps would come now
    assert requests.since(mark) == Counter(), "no homeserver request for a Matrix message"

    mark = len(requests.seen)
    for number in range(1, 6):
        await connector.remote_message("steady", str(number), "9", "Remy", f"remote {number}")
    await user.wait_for_event(room_id, text_event("remote 5"))
    assert requests.since(mark) == Counter({"PUT rooms/send": 5})


async def test_a_gap_in_the_homeservers_transactions_makes_each_room_look_back_once(
    start_bridge: StartBridge,
    make_matrix_user: MakeMatrixUser,
    appservice_setup: AppserviceSetup,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """... and finds nothing missing where nothing is: events handled a moment ago, whose
    marks still wait to be written, are not taken for undelivered ones."""
    connector = FakeConnector()
    await start_bridge(connector=connector)
    user, room_id = await open_portal(connector, make_matrix_user, "gap")
    requests = HomeserverRequests(monkeypatch)
    await user.send_message(room_id, "first")
    await until(lambda: len(connector.network.sent) == 1)
    await user.send_message(room_id, "second")
    await until(lambda: len(connector.network.sent) == 2)

    # A transaction far ahead of the last one, after a silence as long as Synapse's retry
    # backoff: some may have been stranded in between.
    await asyncio.sleep(RETRY_SILENCE + 0.1)
    assert await Homeserverish(appservice_setup).transaction("900000000", []) == 200
    mark = len(requests.seen)
    await user.send_message(room_id, "after the gap")
    await user.send_message(room_id, "and again")
    with caplog.at_level(logging.WARNING, logger="portals"):
        await until(lambda: len(connector.network.sent) == 4)
    assert requests.since(mark)["GET rooms/context"] == 1
    assert not [r for r in caplog.records if "out of order" in r.getMessage()]


async def test_a_failed_hand_over_to_a_lane_strands_nothing(
    start_bridge: StartBridge,
    make_matrix_user: MakeMatrixUser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connector = FakeConnector()
    await start_bridge(connector=connector)
    user, room_id = await open_portal(connector, make_matrix_user, "astray")
    original = Lane.offer
    failures: list[int] = []

    def failing_once(lane: Lane, item: Any) -> bool:
        if not failures and lane.name.startswith("portal:"):
            failures.append(item.inbox_id)
            raise RuntimeError("lost on the way")
        return original(lane, item)

    monkeypatch.setattr(Lane, "offer", failing_once)
    await user.send_message(room_id, "not lost")
    await connector.remote_message("astray", "1", "5", "Ada", "neither this")
    await until(lambda: failures, what="the failed hand-over")
    await until(lambda: any(m.body == "Writer: not lost" for _, m in connector.network.sent))
    await user.wait_for_event(room_id, text_event("neither this"))


@pytest.mark.parametrize("table", ["remote_inbox", "matrix_inbox"])
async def test_an_event_stored_although_the_databases_answer_was_lost_keeps_its_place(
    table: str,
    start_bridge: StartBridge,
    make_matrix_user: MakeMatrixUser,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The connection to the database drops at COMMIT after the row was written: the bridge
    sees an error, the event comes again and is "seen before". It must be handled then, before
    the events after it, not left for the next start (seen with PostgreSQL restarted)."""
    caplog.set_level(logging.INFO, "portals.core")
    connector = FakeConnector()
    await start_bridge(connector=connector)
    user, room_id = await open_portal(connector, make_matrix_user, "lost-answer")
    original = direct.DirectPath.run
    lost: list[str] = []

    async def answer_lost_once(path: direct.DirectPath, statements: Any) -> Any:
        result = await original(path, statements)
        if not lost and any(f"INSERT INTO {table}" in sql for sql, _ in statements):
            lost.append(table)
            raise ConnectionResetError("connection was closed in the middle of operation")
        return result

    monkeypatch.setattr(direct.DirectPath, "run", answer_lost_once)
    if table == "remote_inbox":
        with pytest.raises(ConnectionResetError):
            await connector.remote_message("lost-answer", "1", "5", "Ada", "first")
        # Delivered again, as the poller asks for an update it could not take.
        assert await connector.remote_message("lost-answer", "1", "5", "Ada", "first") is True
        await connector.remote_message("lost-answer", "2", "5", "Ada", "second")
        await user.wait_for_event(room_id, text_event("second"))
        bodies = [
            event["content"]["body"]
            for event in await user.room_messages(room_id)
            if event.get("type") == "m.room.message" and event["sender"] != user.user_id
        ]
        assert bodies[-2:] == ["first", "second"]
    else:
        # Synapse sends the transaction again after the error, then the next one.
        await user.send_message(room_id, "first")
        await user.send_message(room_id, "second")
        await until(lambda: len(connector.network.sent) >= 2, what="both messages sent")
        assert [m.body for _, m in connector.network.sent][-2:] == [
            "Writer: first",
            "Writer: second",
        ]
    assert lost == [table]
    assert any("answer was lost; queued now" in r.getMessage() for r in caplog.records)


async def test_bridging_from_matrix_does_not_overwrite_a_room_made_meanwhile(
    start_bridge: StartBridge,
    make_matrix_user: MakeMatrixUser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The network's side asks for the chat's room while `bridge` runs, and that room is
    still being made when the command looks: the command must not overwrite it."""
    connector = FakeConnector()
    running, admin, room_id = await admin_in_a_room(start_bridge, make_matrix_user, connector)
    connector.network.chats["race"] = ChatInfo(name="Race")

    # Making the network side's room takes a while.
    slow = asyncio.Event()
    ensure_room = PortalRooms.ensure

    async def slow_ensure_room(*args: Any, **kwargs: Any) -> str:
        await slow.wait()
        return await ensure_room(*args, **kwargs)

    monkeypatch.setattr(PortalRooms, "ensure", slow_ensure_room)
    made: list[asyncio.Task[str]] = []
    original = connector.get_chat_info

    async def meanwhile(portal: PortalKey) -> ChatInfo:
        if not made:
            made.append(asyncio.create_task(connector.create_portal("race", "Race")))
            await asyncio.sleep(0.2)  # the room is being made, in the portal's order
            asyncio.get_running_loop().call_later(0.5, slow.set)
        return await original(portal)

    connector.get_chat_info = meanwhile  # type: ignore[method-assign]
    sent = await admin.send_message(room_id, "!tg bridge race")
    answer = await admin.wait_for_event(
        room_id, lambda e: "race" in e["content"].get("body", "").lower(), after=sent
    )
    assert "bridged to another room" in answer["content"]["body"]
    network_room = await made[0]
    manager = running.bridge.portals
    assert manager is not None
    portal_id = manager.index.find(PortalKey(RemoteChatID("race")))
    assert portal_id is not None
    entry = manager.index.entry(portal_id)
    assert entry is not None and entry.room_id == network_room != room_id


class Statements:
    """SQL statements the bridge's database runs."""

    def __init__(self, running: RunningBridge) -> None:
        self.texts: list[str] = []
        self._engine = running.bridge.db.engine.sync_engine
        event.listen(self._engine, "before_cursor_execute", self._seen)
        direct.observers.append(self._direct)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self._direct(statement)

    def _direct(self, statement: str) -> None:
        self.texts.append(" ".join(statement.split()[:3]))

    def close(self) -> None:
        event.remove(self._engine, "before_cursor_execute", self._seen)
        direct.observers.remove(self._direct)


async def test_what_follows_an_unbridge_in_the_portals_queue_is_handled_as_the_rooms(
    start_bridge: StartBridge,
    make_matrix_user: MakeMatrixUser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Events that reach the portal's queue while `unbridge` runs are the room's once it is
    done: their commands are answered, in order, and their messages not relayed (a command
    sent right after `unbridge` went unanswered: seen in CI)."""
    connector = FakeConnector()
    running, admin, room_id = await admin_in_a_room(start_bridge, make_matrix_user, connector)
    connector.network.chats["leaving"] = ChatInfo(name="Leaving")
    await admin.send_message(room_id, "!tg bridge leaving")
    await admin.wait_for_event(room_id, notice_containing("Bridged this room to Leaving."))

    # Unbridging takes a while: what the room says meanwhile is queued behind it.
    slow = asyncio.Event()
    delete = PortalStore.delete

    async def slow_delete(store: PortalStore, portal_id: int) -> None:
        await slow.wait()
        await delete(store, portal_id)

    monkeypatch.setattr(PortalStore, "delete", slow_delete)
    await admin.send_message(room_id, "!tg unbridge")
    await admin.wait_for_event(room_id, notice_containing("no longer bridged to Leaving"))
    await admin.send_message(room_id, "!tg after-one")
    await admin.send_message(room_id, "not for the chat")
    last = await admin.send_message(room_id, "!tg after-two")
    # All three reached the portal's queue (stored in its lane) before it lets go of the room.
    portals = running.bridge.portals
    assert portals is not None
    portal = await portals.by_room(room_id)
    assert portal is not None
    waiting = await until(
        lambda: len(portal.lane) == 3 or None, what="three events behind the unbridge"
    )
    assert waiting
    assert (
        await count(
            running,
            MatrixInboxRow,
            MatrixInboxRow.lane == portal.lane.name,
            MatrixInboxRow.handled_at.is_(None),
        )
        == 3
    )  # the three behind the unbridge, stored in the portal's lane (a command is marked
    # handled before it runs, so the unbridge no longer waits there)
    slow.set()

    await admin.wait_for_event(room_id, notice_containing("after-two"), after=last)
    bot_said = [
        event["content"]["body"]
        for event in await admin.room_messages(room_id)
        if event["sender"] == running.bot and event["content"].get("msgtype") == "m.notice"
    ]
    assert bot_said[-3:] == [
        "This room is no longer bridged to Leaving.",
        "Unknown command after-one. Send !tg help for the commands you can use.",
        "Unknown command after-two. Send !tg help for the commands you can use.",
    ]
    assert not [m for _, m in connector.network.sent if "not for the chat" in m.body]


async def test_what_the_room_said_while_bridge_ran_is_the_portals_in_the_order_it_came(
    start_bridge: StartBridge,
    make_matrix_user: MakeMatrixUser,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Messages sent while `bridge` runs were queued as the room's (it was no portal yet);
    one sent just after the room was bound came straight to the portal. The chat gets all
    of them, each in its turn (not rescued by a look back through the room's timeline), in
    the order they were sent."""
    connector = FakeConnector()
    running, admin, room_id = await admin_in_a_room(start_bridge, make_matrix_user, connector)
    connector.network.chats["order"] = ChatInfo(name="Order")
    portals = running.bridge.portals
    assert portals is not None

    # Binding the room takes a while, and so does telling the room it is bridged.
    binding, telling = asyncio.Event(), asyncio.Event()
    remember = PortalRooms.remember

    async def slow_remember(*args: Any, **kwargs: Any) -> None:
        await binding.wait()
        await remember(*args, **kwargs)

    send = ManagementRooms._send

    async def slow_send(rooms: ManagementRooms, room: str, text: str, html: Any = None) -> None:
        if text.startswith("Bridged this room"):
            await telling.wait()
        await send(rooms, room, text, html)

    # And so does marking the command handled: the portal must not take it for an event of
    # its own that was never handled (and run it again).
    relayed_all = asyncio.Event()
    mark_handled = MatrixInboxStore.mark_handled

    async def slow_mark(store: MatrixInboxStore, inbox_id: int, error: str | None = None) -> None:
        if inbox_id == command_id:
            await relayed_all.wait()
        await mark_handled(store, inbox_id, error)

    monkeypatch.setattr(PortalRooms, "remember", slow_remember)
    monkeypatch.setattr(ManagementRooms, "_send", slow_send)
    monkeypatch.setattr(MatrixInboxStore, "mark_handled", slow_mark)
    command = await admin.send_message(room_id, "!tg bridge order")
    await until_stored(running, [command])
    command_id = (await MatrixInboxStore(running.bridge.db).status([command]))[command][0]
    before = [await admin.send_message(room_id, f"before {n}") for n in (1, 2)]
    await until_stored(running, before)
    binding.set()
    await until(lambda: portals.index.by_room(room_id), what="the room bound")
    after = await admin.send_message(room_id, "after")
    await until_stored(running, [after])
    telling.set()

    await admin.wait_for_event(room_id, notice_containing("Bridged this room to Order."))
    await until(lambda: len(connector.network.sent) == 3, what="three messages relayed")
    relayed = [m.body.split(": ", 1)[1] for _, m in connector.network.sent]
    assert relayed == ["before 1", "before 2", "after"]
    relayed_all.set()
    last = await admin.send_message(room_id, "!tg ping")
    await admin.wait_for_event(room_id, notice_containing("Pong"), after=last)
    bot_said = [
        event["content"]["body"]
        for event in await admin.room_messages(room_id)
        if event["sender"] == running.bot and event["content"].get("msgtype") == "m.notice"
    ]
    assert bot_said[-2] == "Bridged this room to Order.", bot_said
    assert not [r for r in caplog.records if "came out of order" in r.getMessage()]


async def until_stored(running: RunningBridge, event_ids: list[str]) -> None:
    async def stored() -> bool:
        return await count(running, MatrixInboxRow, MatrixInboxRow.event_id.in_(event_ids)) == len(
            event_ids
        )

    await eventually(stored, what="the events stored")


async def test_a_bridged_message_costs_three_statements_or_fewer_in_the_steady_state(
    start_bridge: StartBridge, make_matrix_user: MakeMatrixUser
) -> None:
    connector = FakeConnector()
    running = await start_bridge(connector=connector)
    user, room_id = await open_portal(connector, make_matrix_user, "lean")
    await user.send_message(room_id, "warm up")
    await connector.remote_message("lean", "0", "3", "Lea", "warm up too")
    await user.wait_for_event(room_id, text_event("warm up too"))
    await until(lambda: len(connector.network.sent) == 1)
    assert running.bridge.marks is not None
    await running.bridge.marks.flush()  # the warm-up's marks are written

    count = 20
    statements = Statements(running)
    try:
        for number in range(1, count + 1):
            await connector.remote_message("lean", str(number), "3", "Lea", f"remote {number}")
        await user.wait_for_event(room_id, text_event(f"remote {count}"))
        await running.bridge.marks.flush()  # the marks of those are written, counted
        to_matrix = len(statements.texts)
        for number in range(count):
            await user.send_message(room_id, f"matrix {number}")
        await until(lambda: len(connector.network.sent) == count + 1, what="all relayed")
        await asyncio.sleep(0.2)
        await running.bridge.marks.flush()
        to_network = len(statements.texts) - to_matrix
    finally:
        statements.close()
    # Remote to Matrix: the event stored, its mapping recorded; marks go in batches.
    inbound = Counter(statements.texts[:to_matrix])
    assert to_matrix <= 3 * count, inbound
    # Matrix to the network: the event stored, the part noted before it leaves (the network
    # has no idempotency key: this note is what makes a crash mid-send recoverable without a
    # duplicate), its mapping recorded; and the marks, in batches.
    outbound = Counter(statements.texts[to_matrix:])
    marks = sum(n for text, n in outbound.items() if text.startswith("UPDATE"))
    assert to_network - marks <= 3 * count, outbound
    assert marks <= 2, outbound


async def test_portals_that_never_got_a_room_are_pruned(start_bridge: StartBridge) -> None:
    """Rows an older version made for every private chat (or a /bridge that failed) go."""
    running = await start_bridge(connector=FakeConnector())
    manager = running.bridge.portals
    assert manager is not None
    old = await manager.ensure(PortalKey(RemoteChatID("dm-old")))
    fresh = await manager.ensure(PortalKey(RemoteChatID("dm-fresh")))
    async with running.bridge.db.session() as session:
        await session.execute(
            update(PortalRecord)
            .where(PortalRecord.id == old.id)
            .values(created_at=datetime.now(UTC) - timedelta(days=2))
        )
    assert await manager.prune_roomless(timedelta(days=1)) == 1
    assert await count(running, PortalRecord, PortalRecord.id == old.id) == 0
    assert await count(running, PortalRecord, PortalRecord.id == fresh.id) == 1
    assert manager.index.find(PortalKey(RemoteChatID("dm-old"))) is None
    assert manager.index.find(PortalKey(RemoteChatID("dm-fresh"))) == fresh.id
