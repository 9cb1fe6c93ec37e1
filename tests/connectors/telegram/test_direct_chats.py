"""Direct chats through the bot, on a real Synapse and the fake Bot API: a Matrix user invites a
Telegram user's ghost and the bot carries their messages to that user's private chat; replies
reach the right Matrix user (by the message replied to, else the latest conversation, the
Telegram user told how to choose), also after a restart; someone without a conversation gets a
short answer and nothing is stored; a user who never started the bot is named as the reason;
encrypted rooms are said to be so at once, and pm opens an unencrypted chat."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from bridge.db.models import Message, Portal
from tests.bridge.test_management_room import notice_containing, open_dm
from tests.connectors.telegram.conftest import StartTelegramBridge
from tests.connectors.telegram.test_messages import body_is
from tests.fakes.telegram import FakeTelegram, FakeUser, Sent
from tests.support.bridge_harness import RunningBridge
from tests.support.fixtures import MakeMatrixUser
from tests.support.matrix_client import MatrixTestClient
from tests.support.waiting import eventually

DOMAIN = "synapse.test"
MEGOLM = {"algorithm": "m.megolm.v1.aes-sha2"}
ENCRYPTION = {"type": "m.room.encryption", "state_key": "", "content": MEGOLM}


def ghost_of(user: FakeUser) -> str:
    return f"@telegram_{user.id}:{DOMAIN}"


async def start_chat(user: MatrixTestClient, remote: FakeUser, **extra: Any) -> str:
    """The Matrix user starts a direct chat with the Telegram user's ghost, as Element does."""
    return await user.create_room(
        invite=[ghost_of(remote)], is_direct=True, preset="trusted_private_chat", **extra
    )


def to_them(fake: FakeTelegram, remote: FakeUser) -> list[Sent]:
    return [sent for sent in fake.sent_to(remote.id) if sent.method == "sendMessage"]


async def delivered(fake: FakeTelegram, remote: FakeUser, text: str) -> Sent:
    sent: Sent = await eventually(
        lambda: next((s for s in to_them(fake, remote) if s.text == text), None),
        what=f"{text!r} in the private chat",
    )
    return sent


async def recorded(running: RunningBridge, sent: Sent) -> Sent:
    """Wait until the bridge has recorded a message it delivered: the fake has it as soon as
    the Bot API call ends, the message map a moment later, and replies are routed by the map."""

    async def found() -> bool:
        async with running.bridge.db.session() as session:
            row = await session.scalar(
                select(Message.id).where(Message.remote_id == str(sent.message_id))
            )
        return row is not None

    await eventually(found, what=f"message {sent.message_id} recorded")
    return sent


async def portals_of(running: RunningBridge, remote: FakeUser) -> int:
    async with running.bridge.db.session() as session:
        count = await session.scalar(
            select(func.count()).select_from(Portal).where(Portal.remote_id == str(remote.id))
        )
    return int(count or 0)


async def test_direct_chats_both_ways_with_replies_routed_to_their_matrix_user(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    running = await telegram_bridge()
    alice = fake_telegram.add_user("Alice")
    one = await make_matrix_user("dm-one", displayname="One")
    two = await make_matrix_user("dm-two", displayname="Two")
    rooms = {}
    for user in (one, two):
        room_id = await start_chat(user, alice)
        await user.wait_for_event(room_id, notice_containing("your chat with Alice"))
        rooms[user.user_id] = room_id
    room_one, room_two = rooms[one.user_id], rooms[two.user_id]

    await one.send_message(room_one, "hello from one")
    from_one = await recorded(running, await delivered(fake_telegram, alice, "One: hello from one"))
    await two.send_message(room_two, "hello from two")
    from_two = await recorded(running, await delivered(fake_telegram, alice, "Two: hello from two"))
    private = fake_telegram.private_chat(alice)

    # A reply goes to the sender of the message replied to, whoever wrote last.
    fake_telegram.inject_text(private, alice, "answer to one", reply_to=from_one.message_id)
    answer = await one.wait_for_event(room_one, body_is("answer to one"))
    assert answer["sender"] == ghost_of(alice)
    # Without a reply: the latest conversation (one's, just now); Alice is told once.
    await two.send_message(room_two, "two again")
    await recorded(running, await delivered(fake_telegram, alice, "Two: two again"))
    fake_telegram.inject_text(private, alice, "to whoever")
    await two.wait_for_event(room_two, body_is("to whoever"))
    fake_telegram.inject_text(private, alice, "still to two")
    await two.wait_for_event(room_two, body_is("still to two"))
    hints = [s for s in to_them(fake_telegram, alice) if "reply to a message" in (s.text or "")]
    assert len(hints) == 1 and two.user_id in (hints[0].text or "")
    assert not any(
        event["content"].get("body") in ("to whoever", "still to two", "hello from two")
        for event in one.seen_events(room_one)
    )

    # The chats, and what was said in them, are kept over a restart.
    await running.stop()
    await telegram_bridge()
    fake_telegram.inject_text(private, alice, "after restart to two", reply_to=from_two.message_id)
    await two.wait_for_event(room_two, body_is("after restart to two"))
    fake_telegram.inject_text(private, alice, "after restart to one", reply_to=from_one.message_id)
    await one.wait_for_event(room_one, body_is("after restart to one"))


async def test_someone_without_a_conversation_gets_an_answer_and_nothing_is_kept(
    telegram_bridge: StartTelegramBridge, fake_telegram: FakeTelegram
) -> None:
    running = await telegram_bridge()
    stranger = fake_telegram.add_user("Stranger")
    fake_telegram.inject_text(fake_telegram.private_chat(stranger), stranger, "hello bot?")
    answer = await eventually(lambda: to_them(fake_telegram, stranger), what="an answer")
    assert "Nobody on Matrix has a conversation with you" in (answer[0].text or "")
    assert await portals_of(running, stranger) == 0


async def test_a_user_who_never_started_the_bot_is_named_as_the_reason(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    await telegram_bridge()
    bob = fake_telegram.add_user("Bob", started_bot=False)
    user = await make_matrix_user("writer", displayname="Writer")
    room_id = await start_chat(user, bob)
    await user.wait_for_event(room_id, notice_containing("has not started a chat with the bridge"))
    sent = await user.send_message(room_id, "are you there?")
    refusal = await user.wait_for_event(room_id, notice_containing("not bridged"), after=sent)
    assert "press Start" in refusal["content"]["body"]
    fake_telegram.private_chat(bob)  # Bob presses Start
    await user.send_message(room_id, "now?")
    await delivered(fake_telegram, bob, "Writer: now?")


async def test_encrypted_rooms_are_named_and_pm_opens_one_that_works(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    running = await telegram_bridge()
    alice = fake_telegram.add_user("Alice")
    user = await make_matrix_user("careful", displayname="Careful")
    encrypted = await start_chat(user, alice, initial_state=[ENCRYPTION])
    notice = await user.wait_for_event(encrypted, notice_containing("end-to-end encrypted"))
    assert notice["sender"] == ghost_of(alice)
    assert await portals_of(running, alice) == 0

    dm = await open_dm(user, running.bot)
    sent = await user.send_message(dm, f"pm {alice.id}")
    answer = await user.wait_for_event(dm, notice_containing("you are invited"), after=sent)
    room_id = await user.wait_for_invite()
    assert room_id in answer["content"]["body"]
    await user.join(room_id)
    await user.send_message(room_id, "unencrypted hello")
    await delivered(fake_telegram, alice, "Careful: unencrypted hello")

    # A direct chat that is encrypted later says so at once, and tells each sender once that
    # their encrypted messages do not cross.
    carol = fake_telegram.add_user("Carol")
    later = await start_chat(user, carol)
    await user.wait_for_event(later, notice_containing("your chat with Carol"))
    await user.send_state(later, "m.room.encryption", MEGOLM)
    await user.wait_for_event(later, notice_containing("now end-to-end encrypted"))
    secret = {"algorithm": MEGOLM["algorithm"], "ciphertext": "AwgAEn...", "session_id": "x"}
    for _ in range(2):
        await user.send_event(later, "m.room.encrypted", secret)
    told = await user.wait_for_event(later, notice_containing("your messages here are encrypted"))
    # Handled in order: once this reached Carol, so had the encrypted ones.
    await user.send_message(later, "marker after the encrypted ones")
    await delivered(fake_telegram, carol, "Careful: marker after the encrypted ones")
    notices = [
        event
        for event in user.seen_events(later)
        if "your messages here are encrypted" in str(event["content"].get("body"))
    ]
    assert notices == [told]
