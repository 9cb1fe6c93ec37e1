"""Every command and portal operation checks the sender's level, on a real Synapse.

``bridge.permissions`` gives one user ``relay``, one ``user`` and one ``admin``; a fourth user
has no entry (and there is no ``*``), so the bridge ignores them entirely: no answer to their
commands, none of their messages, renames or joins relayed.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from bridge.app import Bridge
from bridge.network.events import ChatInfo
from tests.bridge.test_management_room import notice_containing
from tests.conftest import StartBridge
from tests.fakes.fake_network import FakeConnector
from tests.support.bridge_harness import RunningBridge
from tests.support.fixtures import MakeMatrixUser
from tests.support.matrix_client import MatrixTestClient

LEVELS = ("relay", "user", "admin", "none")


@dataclass
class Cast:
    """The four users by level, the bridge that knows them and a room they are all in."""

    users: dict[str, MatrixTestClient]
    running: RunningBridge
    connector: FakeConnector

    @property
    def admin(self) -> MatrixTestClient:
        return self.users["admin"]

    @property
    def bridge(self) -> Bridge:
        return self.running.bridge


async def make_cast(
    start_bridge: StartBridge, make_matrix_user: MakeMatrixUser, **overrides: Any
) -> Cast:
    users = {level: await make_matrix_user(f"perm-{level}") for level in LEVELS}
    permissions = {users[level].user_id: level for level in ("relay", "user", "admin")}
    connector = FakeConnector()
    connector.network.chats["perm-chat"] = ChatInfo(name="Perm chat")
    running = await start_bridge(
        connector=connector, overrides={"bridge.permissions": permissions, **overrides}
    )
    return Cast(users, running, connector)


async def shared_room(cast: Cast, **options: Any) -> str:
    """A room the admin creates with the bot and the other three in it."""
    others = [user.user_id for level, user in cast.users.items() if level != "admin"]
    room_id = await cast.admin.create_room(invite=[cast.running.bot, *others], **options)
    for user in cast.users.values():
        if user is not cast.admin:
            await user.join(room_id)
    await cast.admin.wait_for_membership(room_id, cast.running.bot, "join")
    return room_id


def bot_notices(events: list[dict[str, Any]], bot: str) -> list[str]:
    return [
        str(event["content"].get("body"))
        for event in events
        if event.get("sender") == bot and event["content"].get("msgtype") == "m.notice"
    ]


async def answers_to(cast: Cast, room_id: str, sent: str) -> list[str]:
    """What the bot said in the room after the event ``sent``, up to its answer to a marker
    command the admin sends now (a room's events are handled in order, so this is all)."""
    marker = f"marker-{uuid.uuid4().hex[:8]}"
    marker_id = await cast.admin.send_message(room_id, f"!tg {marker}")
    await cast.admin.wait_for_event(room_id, notice_containing(marker), after=marker_id)
    events = await cast.admin.room_messages(room_id, limit=100)
    ids = [event.get("event_id") for event in events]
    notices = bot_notices(events[ids.index(sent) + 1 :], cast.running.bot)
    assert notices and marker in notices[-1], notices
    return notices[:-1]


def refusal(command: str, needed: str, level: str) -> str:
    return f"You may not use {command}: it needs the {needed} level, and you have {level}."


# Command (as typed) -> (its level, text in the answer when it is allowed). None of them
# changes anything when allowed in an ordinary room.
COMMANDS = {
    "ping": ("relay", "Pong"),
    "version": ("relay", "matrix-telegram-bridge"),
    "cancel": ("relay", "There is nothing to cancel."),
    "help": ("relay", "Commands start with"),
    "code": ("user", "Send your FakeNet code"),
    "login": ("user", "cannot link FakeNet accounts"),
    "logout": ("user", "You have no linked FakeNet account."),
    "login-matrix": ("user", "Usage: !tg login-matrix <token>"),
    "ping-matrix": ("user", "Double puppeting is not set up for you"),
    "logout-matrix": ("user", "You gave the bridge no access token."),
    "bridge": ("user", "Usage: !tg bridge <chat id>"),
    "pm": ("user", "Usage: !tg pm <FakeNet user id>"),
    "unbridge": ("user", "This room is not bridged."),
    "status": ("admin", "Send status in your management room"),
    "stuck": ("admin", "Send stuck in your management room"),
    "skip": ("admin", "Send skip in your management room"),
    "frobnicate": ("relay", "Unknown command frobnicate."),
}
RANK = {"none": 0, "relay": 1, "user": 2, "admin": 3}


@pytest.mark.parametrize("level", LEVELS)
async def test_each_command_checks_the_level(
    start_bridge: StartBridge, make_matrix_user: MakeMatrixUser, level: str
) -> None:
    cast = await make_cast(start_bridge, make_matrix_user)
    room_id = await shared_room(cast)
    user = cast.users[level]
    for command, (needed, allowed_answer) in COMMANDS.items():
        sent = await user.send_message(room_id, f"!tg {command}")
        answers = await answers_to(cast, room_id, sent)
        if level == "none":
            assert answers == [], (command, answers)
        elif RANK[level] >= RANK[needed]:
            assert len(answers) == 1 and allowed_answer in answers[0], (command, answers)
        else:
            assert answers == [refusal(command, needed, level)], (command, answers)

    if level != "none":
        # help lists exactly the commands of the sender's level.
        sent = await user.send_message(room_id, "!tg help")
        (help_text,) = await answers_to(cast, room_id, sent)
        listed = {line.split()[0] for line in help_text.splitlines() if line.startswith("  ")}
        expected = {
            name
            for name, (needed, _) in COMMANDS.items()
            if RANK[needed] <= RANK[level] and name != "frobnicate"
        }
        assert listed == expected, help_text
    assert cast.connector.codes == {}
    assert await cast.bridge.portals.by_room(room_id) is None  # type: ignore[union-attr]


def not_theirs() -> str:
    return (
        "Only bridge admins, or users whose linked FakeNet account is an administrator of the "
        "chat, can do that."
    )


async def test_only_an_admin_bridges_and_unbridges_a_room(
    start_bridge: StartBridge, make_matrix_user: MakeMatrixUser
) -> None:
    cast = await make_cast(start_bridge, make_matrix_user)
    portals = cast.bridge.portals
    assert portals is not None
    room_id = await shared_room(cast)

    # Users without a linked account that administers the chat (FakeNet links none).
    expected = {"relay": [refusal("bridge", "user", "relay")], "user": [not_theirs()], "none": []}
    for level in ("relay", "user", "none"):
        sent = await cast.users[level].send_message(room_id, "!tg bridge perm-chat")
        answers = await answers_to(cast, room_id, sent)
        assert answers == expected[level]
        assert await portals.by_room(room_id) is None, level

    sent = await cast.admin.send_message(room_id, "!tg bridge perm-chat")
    assert await answers_to(cast, room_id, sent) == ["Bridged this room to Perm chat."]
    assert await portals.by_room(room_id) is not None

    expected = {"relay": [refusal("unbridge", "user", "relay")], "user": [not_theirs()], "none": []}
    for level in ("relay", "user", "none"):
        sent = await cast.users[level].send_message(room_id, "!tg unbridge")
        answers = await answers_to(cast, room_id, sent)
        assert answers == expected[level]
        assert await portals.by_room(room_id) is not None, level

    sent = await cast.admin.send_message(room_id, "!tg unbridge")
    assert await answers_to(cast, room_id, sent) == ["This room is no longer bridged to Perm chat."]
    assert await portals.by_room(room_id) is None


async def wait_for_sent(connector: FakeConnector, body_end: str, timeout: float = 20) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not any(message.body.endswith(body_end) for _, message in connector.network.sent):
        assert loop.time() < deadline, [message.body for _, message in connector.network.sent]
        await asyncio.sleep(0.05)


async def test_a_portal_relays_only_users_with_a_level(
    start_bridge: StartBridge, make_matrix_user: MakeMatrixUser
) -> None:
    cast = await make_cast(
        start_bridge, make_matrix_user, **{"bridge.relay.announce_membership": True}
    )
    ids = {level: user.user_id for level, user in cast.users.items()}
    room_id = await cast.connector.create_portal("perm-portal", "Perm portal", list(ids.values()))
    for user in cast.users.values():
        await user.join(await user.wait_for_invite())

    for level, user in cast.users.items():
        await user.send_message(room_id, f"{level} says hello")
        await user.send_message(room_id, f"!tg frobnicate-{level}")
    await cast.admin.send_message(room_id, "the end")
    await wait_for_sent(cast.connector, "the end")

    relayed = [(message.sender.mxid, message.body) for _, message in cast.connector.network.sent]
    senders = {mxid for mxid, _ in relayed}
    assert senders == {ids["relay"], ids["user"], ids["admin"]}, relayed
    for level in ("relay", "user", "admin"):
        # The join (announce_membership is on) and the message; commands are not relayed.
        mine = [body for mxid, body in relayed if mxid == ids[level]]
        assert len(mine) == (3 if level == "admin" else 2), mine
        assert any("joined the room on Matrix" in body for body in mine), mine
        assert any(body.endswith(f"{level} says hello") for body in mine), mine
    assert not any("none says hello" in body for _, body in relayed)
    # Nobody without a level got an answer to a command either.
    notices = bot_notices(await cast.admin.room_messages(room_id), cast.running.bot)
    assert len(notices) == 3 and not any("frobnicate-none" in text for text in notices), notices


async def test_room_changes_are_sent_only_for_users_with_a_level(
    start_bridge: StartBridge, make_matrix_user: MakeMatrixUser
) -> None:
    """In a room the admin bridged, everyone may rename the room on Matrix (power 100), but
    only renames by users with a level reach the chat."""
    cast = await make_cast(start_bridge, make_matrix_user)
    # The admin created the room: in room version 12 its creator is above power levels.
    power = {user.user_id: 100 for user in cast.users.values() if user is not cast.admin}
    room_id = await shared_room(cast, power_level_content_override={"users": power})
    sent = await cast.admin.send_message(room_id, "!tg bridge perm-chat")
    assert await answers_to(cast, room_id, sent) == ["Bridged this room to Perm chat."]

    for level, user in cast.users.items():
        await user.send_state(room_id, "m.room.name", {"name": f"named by {level}"})
        await user.send_state(room_id, "m.room.topic", {"topic": f"topic by {level}"})
    await cast.admin.send_message(room_id, "the end")
    await wait_for_sent(cast.connector, "the end")

    changes = [(what, value) for _, what, value in cast.connector.network.renames]
    assert changes == [
        (what, f"{what if what == 'topic' else 'named'} by {level}")
        for level in ("relay", "user", "admin")
        for what in ("name", "topic")
    ]
