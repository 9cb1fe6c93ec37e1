"""A portal's head event and bridge.retries, on a real Synapse with the fake network: an outage
(a health check down) is waited out however long stuck_after is, while the same failure with
everything else working is given up after it, its sender told, and the chat moves on; chats
failing alike are an outage too. A stored event that cannot be read does not stop its chat
either."""

from __future__ import annotations

from datetime import UTC, datetime

from bridge.db.inbox import RemoteInboxStore
from bridge.db.models import RemoteInbox
from bridge.network.events import MessageContent, RemoteMessage, RemoteUser, encode_event
from bridge.network.ids import PortalKey, RemoteChatID, RemoteMessageID, RemoteUserID
from portals.manager import lane_of
from portals.retries import HeadWait
from tests.bridge.test_management_room import notice_containing
from tests.conftest import StartBridge
from tests.fakes.fake_network import FakeConnector
from tests.support.bridge_harness import RunningBridge
from tests.support.fixtures import MakeMatrixUser
from tests.support.matrix_client import MatrixTestClient
from tests.support.waiting import eventually


async def writer_in(
    start_bridge: StartBridge, make_matrix_user: MakeMatrixUser, *chats: str
) -> tuple[RunningBridge, FakeConnector, MatrixTestClient, dict[str, str]]:
    """A bridge whose events are given up after 1 s of their own trouble, and a Matrix user
    in a portal room of each chat (by chat)."""
    connector = FakeConnector()
    running = await start_bridge(connector=connector, overrides={"bridge.retries.stuck_after": 1})
    user = await make_matrix_user("writer", displayname="Writer W")
    rooms = {}
    for chat in chats:
        rooms[chat] = await connector.create_portal(chat, chat, [user.user_id])
        await user.join(await user.wait_for_invite())
    return running, connector, user, rooms


async def test_an_outage_is_waited_out_and_an_events_own_trouble_is_given_up(
    start_bridge: StartBridge, make_matrix_user: MakeMatrixUser
) -> None:
    running, connector, user, rooms = await writer_in(start_bridge, make_matrix_user, "outage")
    network, room_id = connector.network, rooms["outage"]

    # The network is down, and its health check says so.
    network.down, network.reachable = True, False
    first = await user.send_message(room_id, "during the outage")
    # Four attempts: 0.5 + 1 + 2 s between them, past stuck_after (1 s) had it counted.
    await eventually(lambda: network.send_attempts >= 4, what="four attempts")
    assert running.bridge.portals is not None
    (portal,) = [p for p in running.bridge.portals.loaded() if p.room_id == room_id]
    wait = portal.waiting
    assert wait is not None and wait.attempts >= 3
    assert wait.stuck_for == 0.0, "an outage does not count towards stuck_after"

    # The network answers again, but this message keeps failing: its own trouble.
    network.reachable = True
    notice = await user.wait_for_event(room_id, notice_containing("not bridged"), after=first)
    body = notice["content"]["body"]
    assert body.startswith(f"{user.user_id}, your message was not bridged to FakeNet: ")
    assert "while the bridge reached everything else" in body
    assert "the fake network cannot be reached" in body
    assert notice["content"]["m.relates_to"] == {"m.in_reply_to": {"event_id": first}}

    # The chat moves on.
    network.down = False
    await user.send_message(room_id, "after it")
    await eventually(lambda: [m.body for _, m in network.sent] == ["Writer W: after it"])


async def test_a_stored_remote_event_that_cannot_be_read_does_not_stop_its_chat(
    start_bridge: StartBridge, make_matrix_user: MakeMatrixUser
) -> None:
    connector = FakeConnector()
    running = await start_bridge(connector=connector)
    user = await make_matrix_user("reader")
    room_id = await connector.create_portal("unreadable", "Unreadable", [user.user_id])
    await user.join(await user.wait_for_invite())
    portals = running.bridge.portals
    assert portals is not None
    portal_id = portals.index.find(PortalKey(RemoteChatID("unreadable")))
    assert portal_id is not None
    # Stored by another version (or damaged), then a message behind it, both waiting in the
    # store as after a restart.
    inbox = RemoteInboxStore(running.bridge.db)
    lane = lane_of(portal_id)
    bad = await inbox.accept("fakenet", "bad", "unreadable", "", {"kind": "nonsense"}, lane)
    good = RemoteMessage(
        portal=PortalKey(RemoteChatID("unreadable")),
        message_id=RemoteMessageID("2"),
        sender=RemoteUser(RemoteUserID("7"), "Yan"),
        parts=(MessageContent("behind it"),),
        timestamp=datetime.now(UTC),
    )
    await inbox.accept("fakenet", "good", "unreadable", "", encode_event(good), lane)
    assert bad is not None
    portal = portals.portal(portal_id)
    assert portal is not None
    portal.lane.rescan()

    await user.wait_for_event(room_id, lambda e: e["content"].get("body") == "behind it")
    async with running.bridge.db.session() as session:
        row = await session.get(RemoteInbox, bad.id)
        assert row is not None and row.handled_at is not None
        assert row.error is not None and row.error.startswith("cannot be read:")


async def test_chats_failing_alike_are_an_outage_and_one_failing_alone_is_not(
    start_bridge: StartBridge, make_matrix_user: MakeMatrixUser
) -> None:
    running, connector, user, rooms = await writer_in(
        start_bridge, make_matrix_user, "alike-1", "alike-2"
    )
    network = connector.network
    # Sending fails in both chats alike while the network's health check is up (Telegram
    # refusing every upload, say).
    network.down_chats = {"alike-1", "alike-2"}
    first = await user.send_message(rooms["alike-1"], "one")
    await user.send_message(rooms["alike-2"], "two")
    portals = running.bridge.portals
    assert portals is not None

    def waits() -> list[HeadWait]:
        return [p.waiting for p in portals.loaded() if p.waiting is not None]

    # Three attempts each: 0.5 + 1 s between them, past stuck_after (1 s) had it counted.
    await eventually(
        lambda: len(waits()) == 2 and all(w.attempts >= 3 for w in waits()), what="attempts"
    )
    assert [w.stuck_for for w in waits()] == [0.0, 0.0], "chats failing alike: an outage"

    # The second chat's trouble passes; the first's, alone now, is its own.
    network.down_chats = {"alike-1"}
    await eventually(lambda: [m.body for _, m in network.sent] == ["Writer W: two"])
    notice = await user.wait_for_event(rooms["alike-1"], notice_containing("not bridged"))
    assert notice["content"]["m.relates_to"] == {"m.in_reply_to": {"event_id": first}}
    assert "while the bridge reached everything else" in notice["content"]["body"]
