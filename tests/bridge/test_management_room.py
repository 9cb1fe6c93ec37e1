"""The bridge bot in a user's DM (their management room) and in other rooms, on a real Synapse."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.db.inbox import MatrixInboxStore
from tests.conftest import StartBridge
from tests.support.failures import fail_next_calls
from tests.support.fixtures import MakeMatrixUser
from tests.support.matrix_client import MatrixTestClient
from tests.support.waiting import eventually


def notice_containing(text: str) -> Any:
    def match(event: dict[str, Any]) -> bool:
        content = event.get("content", {})
        return (
            event.get("type") == "m.room.message"
            and content.get("msgtype") == "m.notice"
            and text in content.get("body", "")
        )

    return match


async def open_dm(user: MatrixTestClient, bot: str) -> str:
    room_id = await user.create_room(invite=[bot], is_direct=True, preset="private_chat")
    await user.wait_for_membership(room_id, bot, "join")
    await user.wait_for_event(room_id, notice_containing("management room"))
    return room_id


async def test_bot_answers_ping_and_help_in_dm(
    start_bridge: StartBridge, make_matrix_user: MakeMatrixUser
) -> None:
    running = await start_bridge()
    user = await make_matrix_user("alice")
    room_id = await open_dm(user, running.bot)

    sent = await user.send_message(room_id, "ping")
    pong = await user.wait_for_event(room_id, notice_containing("Pong"), after=sent)
    assert pong["sender"] == running.bot
    assert "FakeNet: connected (fake)" in pong["content"]["body"]

    sent = await user.send_message(room_id, "help")
    help_event = await user.wait_for_event(room_id, notice_containing("help"), after=sent)
    body = help_event["content"]["body"]
    for command in ("help", "ping", "version", "cancel", "code", "login", "logout"):
        assert f"  {command}" in body, body
    assert "<code>ping</code>" in help_event["content"]["formatted_body"]

    sent = await user.send_message(room_id, "version")
    version = await user.wait_for_event(
        room_id, notice_containing("matrix-telegram-bridge"), after=sent
    )
    assert "0." in version["content"]["body"]


async def test_help_lists_only_what_the_user_may_run(
    start_bridge: StartBridge, make_matrix_user: MakeMatrixUser, synapse: Any
) -> None:
    # Users of another server fall under "*": relay level, which may not use "login".
    running = await start_bridge(overrides={"bridge.permissions": {"*": "relay"}})
    user = await make_matrix_user("relayonly")
    room_id = await open_dm(user, running.bot)

    sent = await user.send_message(room_id, "help")
    help_event = await user.wait_for_event(room_id, notice_containing("ping"), after=sent)
    assert "login" not in help_event["content"]["body"]

    sent = await user.send_message(room_id, "login")
    refusal = await user.wait_for_event(room_id, notice_containing("may not use login"), after=sent)
    assert "user level" in refusal["content"]["body"]


async def test_unknown_command_and_cancel(
    start_bridge: StartBridge, make_matrix_user: MakeMatrixUser
) -> None:
    running = await start_bridge()
    user = await make_matrix_user("bob")
    room_id = await open_dm(user, running.bot)

    sent = await user.send_message(room_id, "pnig")
    answer = await user.wait_for_event(room_id, notice_containing("Unknown command"), after=sent)
    assert "Did you mean ping?" in answer["content"]["body"]

    sent = await user.send_message(room_id, "cancel")
    await user.wait_for_event(room_id, notice_containing("nothing to cancel"), after=sent)

    sent = await user.send_message(room_id, "code")
    await user.wait_for_event(room_id, notice_containing("Send your FakeNet code"), after=sent)
    sent = await user.send_message(room_id, "cancel")
    await user.wait_for_event(room_id, notice_containing("Cancelled code"), after=sent)
    # The prompt is gone: the next message is a command again, not a code.
    sent = await user.send_message(room_id, "ping")
    await user.wait_for_event(room_id, notice_containing("Pong"), after=sent)
    assert running.connector.codes == {}  # type: ignore[attr-defined]

    sent = await user.send_message(room_id, "code")
    await user.wait_for_event(room_id, notice_containing("Send your FakeNet code"), after=sent)
    sent = await user.send_message(room_id, "12345")
    await user.wait_for_event(room_id, notice_containing("Took code 12345"), after=sent)
    assert running.connector.codes == {user.user_id: "12345"}  # type: ignore[attr-defined]

    # FakeNet links no accounts: login says so.
    sent = await user.send_message(room_id, "login")
    await user.wait_for_event(room_id, notice_containing("cannot link FakeNet"), after=sent)


async def test_commands_elsewhere_need_the_prefix(
    start_bridge: StartBridge, make_matrix_user: MakeMatrixUser
) -> None:
    running = await start_bridge()
    user = await make_matrix_user("carol")
    other = await make_matrix_user("dave")
    room_id = await user.create_room(invite=[running.bot, other.user_id])
    await user.wait_for_membership(room_id, running.bot, "join")

    await user.send_message(room_id, "ping")
    sent = await user.send_message(room_id, "!tg ping")
    pong = await user.wait_for_event(room_id, notice_containing("Pong"), after=sent)
    events = await user.room_messages(room_id)
    pongs = [e["event_id"] for e in events if "Pong" in e.get("content", {}).get("body", "")]
    assert pongs == [pong["event_id"]], "the unprefixed ping in a shared room must be ignored"

    sent = await user.send_message(room_id, "!tg help")
    help_event = await user.wait_for_event(
        room_id, notice_containing("Commands start with"), after=sent
    )
    assert "!tg" in help_event["content"]["body"]


async def test_users_without_permission_are_ignored(
    start_bridge: StartBridge, make_matrix_user: MakeMatrixUser
) -> None:
    running = await start_bridge(overrides={"bridge.permissions": {"other.example": "user"}})
    user = await make_matrix_user("stranger")
    room_id = await user.create_room(invite=[running.bot], is_direct=True)
    # The bot rejects the invite of someone below relay level.
    await user.wait_for_membership(room_id, running.bot, "leave")


async def test_a_command_whose_mark_fails_once_runs_once(
    start_bridge: StartBridge, make_matrix_user: MakeMatrixUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Marking the command handled fails once (the database refuses to store): the command
    must still run exactly once, also after a restart, which reads again whatever was left
    unmarked."""
    running = await start_bridge()
    user = await make_matrix_user("twice")
    room_id = await open_dm(user, running.bot)

    # Both ways the bridge can mark an event: after handling it, or before (claiming it).
    failures = fail_next_calls(monkeypatch, MatrixInboxStore, ["mark_handled", "claim"], 1)
    sent = await user.send_message(room_id, "ping")
    await user.wait_for_event(room_id, notice_containing("Pong"), after=sent)
    await eventually(lambda: failures.left == 0, what="the mark to fail")
    await running.stop()
    monkeypatch.undo()

    await start_bridge()
    barrier = await user.send_message(room_id, "version")
    await user.wait_for_event(room_id, notice_containing("matrix-telegram-bridge"), after=barrier)
    events = user.seen_events(room_id)
    after_ping = events[[e.get("event_id") for e in events].index(sent) + 1 :]
    pongs = [e for e in after_ping if notice_containing("Pong")(e)]
    assert len(pongs) == 1, [e["content"]["body"] for e in pongs]
