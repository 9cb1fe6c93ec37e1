"""The first moments of a direct chat, on a real Synapse and the fake Bot API: what the Matrix
user does as soon as the ghost has joined, while the bridge is still setting the room up (here:
waiting for Telegram to answer about the chat), belongs to the chat and is handled by it, in
order: messages, encryption turned on, a message to someone who never started the bot. Also
when the bridge restarts in between, and when the events waited in memory or in the store."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from bridge.db.database import Database
from bridge.db.inbox import MatrixInboxStore
from bridge.db.models import MatrixInbox as MatrixInboxRow
from portals.manager import lane_of, room_lane
from tests.bridge.test_management_room import notice_containing
from tests.connectors.telegram.conftest import StartTelegramBridge
from tests.connectors.telegram.test_direct_chats import (
    MEGOLM,
    delivered,
    ghost_of,
    start_chat,
    to_them,
)
from tests.fakes.telegram import FakeTelegram, FakeUser
from tests.fakes.telegram.faults import Fault
from tests.support.bridge_harness import RunningBridge
from tests.support.fixtures import MakeMatrixUser
from tests.support.matrix_client import MatrixTestClient
from tests.support.waiting import eventually


async def stored(running: RunningBridge, event_ids: list[str]) -> None:
    """Wait until the bridge has stored these events (it acknowledged their delivery)."""
    inbox = MatrixInboxStore(running.bridge.db)

    async def all_stored() -> bool:
        return len(await inbox.status(event_ids)) == len(event_ids)

    await eventually(all_stored, what=f"{len(event_ids)} events stored")


async def chat_being_set_up(
    fake: FakeTelegram, user: MatrixTestClient, remote: FakeUser
) -> tuple[str, Fault]:
    """The user starts a chat as Element does and sees the ghost join; the bridge is still
    asking Telegram about the chat (held until the test lets the answer go)."""
    held = fake.faults.hold("getChat", chat_id=remote.id)
    room_id = await start_chat(user, remote)
    await user.wait_for_membership(room_id, ghost_of(remote), "join")
    return room_id, held


@pytest.mark.parametrize("queue_size", [256, 1], ids=["in-memory", "spilled-to-the-store"])
async def test_messages_sent_as_soon_as_the_ghost_joined_reach_telegram_in_order(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
    queue_size: int,
) -> None:
    running = await telegram_bridge(queue_size=queue_size)
    alice = fake_telegram.add_user("Alice")
    user = await make_matrix_user("eager", displayname="Eager")
    room_id, held = await chat_being_set_up(fake_telegram, user, alice)
    texts = [f"message {n}" for n in range(1, 6)]
    sent = [await user.send_message(room_id, text) for text in texts]
    await stored(running, sent)
    held.release()

    await user.wait_for_event(room_id, notice_containing("your chat with Alice"))
    await delivered(fake_telegram, alice, f"Eager: {texts[-1]}")
    assert [s.text for s in to_them(fake_telegram, alice)] == [f"Eager: {t}" for t in texts]
    # Later messages follow them.
    await user.send_message(room_id, "and then")
    await delivered(fake_telegram, alice, "Eager: and then")


async def test_encryption_turned_on_at_once_is_announced(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    running = await telegram_bridge()
    carol = fake_telegram.add_user("Carol")
    user = await make_matrix_user("secretive", displayname="Secretive")
    room_id, held = await chat_being_set_up(fake_telegram, user, carol)
    turned_on = await user.send_state(room_id, "m.room.encryption", MEGOLM)
    await stored(running, [turned_on])
    held.release()

    notice = await user.wait_for_event(room_id, notice_containing("now end-to-end encrypted"))
    assert notice["sender"] == running.bot


async def test_a_message_to_someone_who_never_started_the_bot_is_refused_naming_the_bot(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    running = await telegram_bridge()
    bob = fake_telegram.add_user("Bob", started_bot=False)
    user = await make_matrix_user("hasty", displayname="Hasty")
    room_id, held = await chat_being_set_up(fake_telegram, user, bob)
    sent = await user.send_message(room_id, "are you there?")
    await stored(running, [sent])
    held.release()

    welcome = await user.wait_for_event(room_id, notice_containing("has not started a chat"))
    refusal = await user.wait_for_event(room_id, notice_containing("not bridged"), after=sent)
    # Both say which bot to open, and how.
    bot = fake_telegram.bot.username
    for notice in (welcome, refusal):
        body = notice["content"]["body"]
        assert f"open @{bot} (https://t.me/{bot}) and press Start" in body, body
    # The welcome comes first: the message was handled in its turn, after the room was set up.
    assert user.seen_events(room_id).index(welcome) < user.seen_events(room_id).index(refusal)


async def test_messages_of_a_chat_being_set_up_when_the_bridge_stopped_arrive_after_it_starts(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    running = await telegram_bridge()
    dave = fake_telegram.add_user("Dave")
    user = await make_matrix_user("patient", displayname="Patient")
    room_id, held = await chat_being_set_up(fake_telegram, user, dave)
    sent = [await user.send_message(room_id, f"early {n}") for n in (1, 2)]
    await stored(running, sent)
    # Stopped while the room is set up: the invite and what came after it wait in the store.
    await running.bridge.stop(timeout=0.5)
    held.release()

    await telegram_bridge()
    await user.wait_for_event(room_id, notice_containing("your chat with Dave"))
    await delivered(fake_telegram, dave, "Patient: early 2")
    texts = [s.text for s in to_them(fake_telegram, dave)]
    assert texts == ["Patient: early 1", "Patient: early 2"]


async def test_events_left_in_the_rooms_lane_by_a_crash_are_replayed_into_the_portal(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    """A crash after the room was bound and before its waiting events were handed over: they
    are stored with the room's own lane, and the next message with the portal's. After the
    start they are all the portal's, in the order they came."""
    running = await telegram_bridge()
    erin = fake_telegram.add_user("Erin")
    user = await make_matrix_user("unlucky", displayname="Unlucky")
    room_id = await start_chat(user, erin)
    await user.wait_for_event(room_id, notice_containing("your chat with Erin"))
    assert running.bridge.portals is not None
    portal_id = running.bridge.portals.index.by_room(room_id)
    assert portal_id is not None
    await running.stop()

    texts = ["stranded 1", "stranded 2", "after them"]
    sent = [await user.send_message(room_id, text) for text in texts]
    timeline = {e["event_id"]: e for e in await user.room_messages(room_id)}
    events = [timeline[event_id] for event_id in sent]
    lanes = {sent[0]: room_lane(room_id), sent[1]: room_lane(room_id), sent[2]: lane_of(portal_id)}
    database = Database(running.config.appservice.database)
    try:
        inbox = MatrixInboxStore(database)
        await inbox.accept_transaction("before-the-crash", events, lambda e: lanes[e["event_id"]])
    finally:
        await database.close()

    await telegram_bridge()
    await delivered(fake_telegram, erin, "Unlucky: after them")
    assert [s.text for s in to_them(fake_telegram, erin)] == [f"Unlucky: {t}" for t in texts]


async def test_an_event_routed_to_the_room_just_before_it_was_bound_goes_to_the_portal(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    """Its lane was decided while the room was no portal, and it was stored after the room's
    events were handed over: the room's lane hands it on instead of dropping it."""
    running = await telegram_bridge()
    gina = fake_telegram.add_user("Gina")
    user = await make_matrix_user("late", displayname="Late")
    room_id = await start_chat(user, gina)
    await user.wait_for_event(room_id, notice_containing("your chat with Gina"))
    sent = await user.send_message(room_id, "routed late")
    await delivered(fake_telegram, gina, "Late: routed late")
    event = next(e for e in await user.room_messages(room_id) if e["event_id"] == sent)
    again = {**event, "event_id": "$late-" + sent.removeprefix("$")}
    again["content"] = {"msgtype": "m.text", "body": "routed to the room"}

    router = running.bridge.router
    assert router is not None
    (stored_event,) = await MatrixInboxStore(running.bridge.db).accept_transaction(
        "late", [again], lambda _event: room_lane(room_id)
    )
    router.offer_matrix(stored_event)
    await delivered(fake_telegram, gina, "Late: routed to the room")


async def test_an_invite_handled_again_after_a_restart_leaves_the_chat_as_it_is(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    """The bridge stopped after binding the room and before marking the invite handled: the
    invite is handled again after the start, and finds the chat bound to this very room."""
    running = await telegram_bridge()
    hank = fake_telegram.add_user("Hank")
    user = await make_matrix_user("steady", displayname="Steady")
    room_id = await start_chat(user, hank)
    await user.wait_for_event(room_id, notice_containing("your chat with Hank"))
    await running.stop()
    invite = next(
        event
        for event in await user.room_messages(room_id)
        if event["type"] == "m.room.member"
        and event["state_key"] == ghost_of(hank)
        and event["content"]["membership"] == "invite"
    )
    database = Database(running.config.appservice.database)
    try:
        async with database.session() as session:
            await session.execute(
                update(MatrixInboxRow)
                .where(MatrixInboxRow.event_id == invite["event_id"])
                .values(handled_at=None, event=invite)
            )
    finally:
        await database.close()

    running = await telegram_bridge()
    inbox = MatrixInboxStore(running.bridge.db)

    async def handled_again() -> bool:
        return (await inbox.status([invite["event_id"]]))[invite["event_id"]][1]

    await eventually(handled_again, what="the invite handled again")
    assert ghost_of(hank) in await user.joined_members(room_id)
    notices = [
        event["content"]["body"]
        for event in await user.room_messages(room_id)
        if event["content"].get("msgtype") == "m.notice"
    ]
    assert notices == ["This room is your chat with Hank on Telegram."]
    await user.send_message(room_id, "still here")
    await delivered(fake_telegram, hank, "Steady: still here")
