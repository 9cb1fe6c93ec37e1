"""A remote message reaches Matrix through a portal as a ghost, and back, on a real Synapse."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bridge.network.capabilities import (
    DeletesMessages,
    EditsMessages,
    SendsFiles,
    SendsReadMarkers,
)
from bridge.network.ids import PortalKey, RemoteChatID
from portals.to_matrix_ids import SOURCE_KEY, bridge_name, mark
from tests.conftest import StartBridge
from tests.fakes.fake_network import FakeConnector
from tests.support.fixtures import MakeMatrixUser
from tests.support.waiting import eventually


def text_event(body: str) -> Any:
    def match(event: dict[str, Any]) -> bool:
        return event.get("type") == "m.room.message" and event["content"].get("body") == body

    return match


@pytest.mark.parametrize("room_version", ["12", "11"])
async def test_remote_message_arrives_as_ghost(
    start_bridge: StartBridge, make_matrix_user: MakeMatrixUser, room_version: str
) -> None:
    connector = FakeConnector()
    running = await start_bridge(
        connector=connector, overrides={"bridge.room_version": room_version}
    )
    user = await make_matrix_user("reader")
    room_id = await connector.create_portal(f"chat-{room_version}", "Fake chat", [user.user_id])
    await user.wait_for_invite()
    await user.join(room_id)
    assert await user.get_room_version(room_id) == room_version
    power = await user.get_state(room_id, "m.room.power_levels")
    if room_version == "12":
        assert ":" not in room_id.removeprefix("!")
        assert running.bot not in power["users"]
    else:
        assert power["users"][running.bot] == 100
    name = await user.get_state(room_id, "m.room.name")
    assert name["name"] == "Fake chat"

    assert await connector.remote_message(f"chat-{room_version}", "1", "42", "Zoe", "hello")
    event = await user.wait_for_event(room_id, text_event("hello"))
    assert event["sender"] == "@telegram_42:synapse.test"
    profile = await user.get_profile("@telegram_42:synapse.test")
    assert profile["displayname"] == "Zoe (Telegram)"

    # Formatting and replies carry over.
    await connector.remote_message(
        f"chat-{room_version}", "2", "42", "Zoe", "bold", html="<b>bold</b>", reply_to="1"
    )
    reply = await user.wait_for_event(room_id, text_event("bold"))
    assert reply["content"]["formatted_body"] == "<b>bold</b>"
    assert reply["content"]["m.relates_to"]["m.in_reply_to"]["event_id"] == event["event_id"]


async def test_redelivered_remote_message_is_bridged_once(
    start_bridge: StartBridge, make_matrix_user: MakeMatrixUser
) -> None:
    connector = FakeConnector()
    await start_bridge(connector=connector)
    user = await make_matrix_user("reader")
    room_id = await connector.create_portal("dup", "Dup chat", [user.user_id])
    await user.join(await user.wait_for_invite())
    assert await connector.remote_message("dup", "7", "5", "Yan", "once")
    assert not await connector.remote_message("dup", "7", "5", "Yan", "once")
    await connector.remote_message("dup", "8", "5", "Yan", "marker")
    await user.wait_for_event(room_id, text_event("marker"))
    bodies = [
        e["content"].get("body")
        for e in await user.room_messages(room_id)
        if e["type"] == "m.room.message"
    ]
    assert bodies.count("once") == 1


async def test_matrix_message_reaches_connector(
    start_bridge: StartBridge, make_matrix_user: MakeMatrixUser
) -> None:
    connector = FakeConnector()
    await start_bridge(connector=connector)
    user = await make_matrix_user("writer", displayname="Writer W")
    room_id = await connector.create_portal("out", "Outgoing", [user.user_id])
    await user.join(await user.wait_for_invite())

    event_id = await user.send_message(room_id, "to the network", html="<i>to the network</i>")
    await asyncio.wait_for(connector.network.arrived.wait(), 15)
    ((portal_key, message),) = connector.network.sent
    assert str(portal_key.chat_id) == "out"
    assert message.event_id == event_id
    # Relay mode: the bot shows the sender's name (bridge.relay.message_formats).
    assert message.body == "Writer W: to the network"
    assert message.html == "<b>Writer W</b>: <i>to the network</i>"
    assert message.sender.mxid == user.user_id
    assert message.sender.displayname == "Writer W"

    # A refusal by the network is told to the sender, not dropped silently.
    connector.network.refuse_next = "the chat is read-only"
    sent = await user.send_message(room_id, "refused one")
    notice = await user.wait_for_event(
        room_id, lambda e: "not bridged" in e["content"].get("body", ""), after=sent
    )
    assert "the chat is read-only" in notice["content"]["body"]


async def test_with_relaying_off_a_relay_user_is_told_once_and_nothing_is_sent(
    start_bridge: StartBridge, make_matrix_user: MakeMatrixUser
) -> None:
    user = await make_matrix_user("unrelayed")
    connector = FakeConnector()
    running = await start_bridge(
        connector=connector,
        overrides={"bridge.relay.enabled": False, "bridge.permissions": {user.user_id: "relay"}},
    )
    room_id = await connector.create_portal("no-relay", "No relay", [user.user_id])
    await user.join(await user.wait_for_invite())

    first = await user.send_message(room_id, "first")
    notice = await user.wait_for_event(
        room_id, lambda e: "not bridged" in e["content"].get("body", ""), after=first
    )
    assert notice["sender"] == running.bot
    assert notice["content"]["msgtype"] == "m.notice"
    assert user.user_id in notice["content"]["body"]
    assert "bridge.relay.enabled" in notice["content"]["body"]

    await user.send_message(room_id, "second")
    # Commands still work; the answer comes after the room's earlier events were handled.
    ping = await user.send_message(room_id, "!tg ping")
    await user.wait_for_event(room_id, lambda e: "Pong" in e["content"].get("body", ""), after=ping)
    assert connector.network.sent == []
    told = [
        event
        for event in await user.room_messages(room_id)
        if event["sender"] == running.bot and "not bridged" in event["content"].get("body", "")
    ]
    assert [event["event_id"] for event in told] == [notice["event_id"]], "told once"


async def test_an_edit_the_network_cannot_take_gets_a_notice(
    start_bridge: StartBridge, make_matrix_user: MakeMatrixUser
) -> None:
    # The fake connector declares no capability beyond sending (it has no edit_message).
    connector = FakeConnector()
    assert not isinstance(connector, EditsMessages)
    running = await start_bridge(connector=connector)
    user = await make_matrix_user("editor", displayname="Editor E")
    room_id = await connector.create_portal("edits", "Edits", [user.user_id])
    await user.join(await user.wait_for_invite())
    original = await user.send_message(room_id, "first version")
    await asyncio.wait_for(connector.network.arrived.wait(), 15)

    edit = await user.send_event(
        room_id,
        "m.room.message",
        {
            "msgtype": "m.text",
            "body": "* second version",
            "m.new_content": {"msgtype": "m.text", "body": "second version"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": original},
        },
    )
    notice = await user.wait_for_event(
        room_id, lambda e: "edit was not bridged" in e["content"].get("body", ""), after=edit
    )
    assert notice["sender"] == running.bot
    assert "FakeNet does not take edits" in notice["content"]["body"]
    assert [message.body for _key, message in connector.network.sent] == [
        "Editor E: first version"
    ], "the edit is not sent as a new message"


async def test_a_redaction_the_network_cannot_carry_gets_a_notice(
    start_bridge: StartBridge, make_matrix_user: MakeMatrixUser
) -> None:
    connector = FakeConnector()
    assert not isinstance(connector, DeletesMessages)
    await start_bridge(connector=connector)
    user = await make_matrix_user("redactor")
    room_id = await connector.create_portal("redactions", "Redactions", [user.user_id])
    await user.join(await user.wait_for_invite())
    sent = await user.send_message(room_id, "regrettable")
    await asyncio.wait_for(connector.network.arrived.wait(), 15)
    redaction = await user.redact(room_id, sent)
    notice = await user.wait_for_event(
        room_id, lambda e: "removed here only" in e["content"].get("body", ""), after=redaction
    )
    assert "FakeNet does not let the bridge delete messages" in notice["content"]["body"]


async def test_a_file_the_network_cannot_take_gets_a_notice(
    start_bridge: StartBridge, make_matrix_user: MakeMatrixUser
) -> None:
    connector = FakeConnector()
    assert not isinstance(connector, SendsFiles)
    await start_bridge(connector=connector)
    user = await make_matrix_user("sharer")
    room_id = await connector.create_portal("files", "Files", [user.user_id])
    await user.join(await user.wait_for_invite())
    url = await user.upload(b"%PDF-1.4 tiny", "application/pdf", "tiny.pdf")
    sent = await user.send_event(
        room_id,
        "m.room.message",
        {"msgtype": "m.file", "body": "tiny.pdf", "url": url, "info": {"size": 13}},
    )
    notice = await user.wait_for_event(
        room_id, lambda e: "not bridged" in e["content"].get("body", ""), after=sent
    )
    assert "Your file was not bridged: FakeNet does not take them" in notice["content"]["body"]
    assert connector.network.sent == []


async def test_a_remote_deletion_redacts_the_message(
    start_bridge: StartBridge, make_matrix_user: MakeMatrixUser
) -> None:
    # Telegram tells bots of no deletions; a network that does hands the core a RemoteDeletion.
    connector = FakeConnector()
    await start_bridge(connector=connector)
    user = await make_matrix_user("witness")
    room_id = await connector.create_portal("deleting", "Deleting", [user.user_id])
    await user.join(await user.wait_for_invite())
    await connector.remote_message("deleting", "70", "9", "Del", "soon gone")
    event = await user.wait_for_event(room_id, text_event("soon gone"))
    assert await connector.remote_deletion("deleting", "70", "deletion:70")
    redaction = await user.wait_for_event(
        room_id, lambda e: e["type"] == "m.room.redaction", after=event["event_id"]
    )
    assert redaction.get("redacts", redaction["content"].get("redacts")) == event["event_id"]
    assert redaction["content"]["reason"] == "Deleted in FakeNet"


async def test_another_bridges_marked_events_are_relayed_and_only_its_own_ignored(
    start_bridge: StartBridge, make_matrix_user: MakeMatrixUser
) -> None:
    # What a bridge sends as a real Matrix user (double puppeting) comes from that user, not a
    # ghost: only the marker in the content tells whose doing it was. Here the user sends what
    # bridges would: another bridge's messages (another registration id on this homeserver, or
    # the same id on another) are the user's and are relayed; this bridge's own come back and
    # are not, nor is the older marker without a bridge's name (see carries_marker).
    connector = FakeConnector()
    running = await start_bridge(connector=connector)
    appservice, domain = running.config.appservice, running.config.homeserver.domain
    this_bridge = bridge_name(appservice.id, domain)
    user = await make_matrix_user("puppet", displayname="Puppet P")
    room_id = await connector.create_portal("marked", "Marked", [user.user_id])
    await user.join(await user.wait_for_invite())
    sent = [
        ("of a bridge with another id", mark({}, bridge_name("signal", domain), "bridge-01")),
        ("this bridge's own", mark({}, this_bridge, "bridge-02")),
        ("of this bridge elsewhere", mark({}, bridge_name(appservice.id, "other.test"), "b-03")),
        ("an older release's", {SOURCE_KEY: "bridge-04"}),
        ("this bridge's own, no transaction", mark({}, this_bridge)),
        ("from the user", {}),
    ]
    for body, marker in sent:
        await user.send_event(
            room_id, "m.room.message", {"msgtype": "m.text", "body": body, **marker}
        )
    # The room's events go in order: once the last is relayed, the marked ones were handled.
    await user.send_message(room_id, "and the last")
    await eventually(lambda: len(connector.network.sent) >= 4, what="the last message relayed")
    assert [message.body for _key, message in connector.network.sent] == [
        "Puppet P: of a bridge with another id",
        "Puppet P: of this bridge elsewhere",
        "Puppet P: from the user",
        "Puppet P: and the last",
    ]


async def test_read_receipts_reach_a_network_that_takes_read_markers(
    start_bridge: StartBridge, make_matrix_user: MakeMatrixUser
) -> None:
    connector = FakeConnector()
    assert isinstance(connector, SendsReadMarkers)
    await start_bridge(connector=connector)
    user = await make_matrix_user("reader")
    room_id = await connector.create_portal("reads", "Reads", [user.user_id])
    await user.join(await user.wait_for_invite())
    await connector.remote_message("reads", "31", "42", "Zoe", "first")
    await connector.remote_message("reads", "32", "42", "Zoe", "second")
    first = await user.wait_for_event(room_id, text_event("first"))
    second = await user.wait_for_event(room_id, text_event("second"))
    mine = await user.send_message(room_id, "my answer")
    await asyncio.wait_for(connector.network.arrived.wait(), 15)
    ((_, answer),) = connector.network.sent

    async def receipt(event_id: str, kind: str = "m.read") -> None:
        path = f"/_matrix/client/v3/rooms/{room_id}/receipt/{kind}/{event_id}"
        await user.request("POST", path, {})

    # A private receipt stays in Matrix; a public one tells the network what was read, by the
    # message map (the ghost's message and the Matrix user's own alike).
    await receipt(first["event_id"], "m.read.private")
    await receipt(second["event_id"])
    key = PortalKey(RemoteChatID("reads"))
    await eventually(lambda: connector.network.read, what="a read marker")
    await receipt(mine)
    await eventually(lambda: len(connector.network.read) == 2, what="the second read marker")
    assert connector.network.read[0] == (key, user.user_id, "32")
    assert connector.network.read[1][:2] == (key, user.user_id)
    assert connector.network.read[1][2] != "32"
    assert answer.event_id == mine
