"""Who may be in a direct chat's room, on a real Synapse and the fake Bot API: it is a room of
the Matrix user, the Telegram user's ghost and the bot. A room with anyone else (joined or
invited) is not made a direct chat, and someone coming in later ends the bridging, said in
the room, so the Telegram user's private replies never reach them."""

from __future__ import annotations

from bridge.network.ids import PortalKey, RemoteChatID
from tests.bridge.test_management_room import notice_containing
from tests.connectors.telegram.conftest import StartTelegramBridge
from tests.connectors.telegram.test_direct_chats import (
    delivered,
    ghost_of,
    portals_of,
    start_chat,
    to_them,
)
from tests.fakes.telegram import FakeTelegram
from tests.support.fixtures import MakeMatrixUser
from tests.support.waiting import eventually


async def test_a_room_with_someone_else_in_it_is_not_made_a_direct_chat(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    running = await telegram_bridge()
    alice = fake_telegram.add_user("Alice")
    user = await make_matrix_user("host", displayname="Host")
    guest = await make_matrix_user("guest", displayname="Guest")

    # Invited together with the ghost.
    invited = await user.create_room(
        invite=[ghost_of(alice), guest.user_id], is_direct=True, preset="trusted_private_chat"
    )
    notice = await user.wait_for_event(invited, notice_containing("This room is not bridged"))
    assert notice["sender"] == ghost_of(alice)
    assert guest.user_id in notice["content"]["body"]
    assert "would read their private replies" in notice["content"]["body"]
    await user.wait_for_membership(invited, ghost_of(alice), "leave")

    # Joined before the ghost was invited.
    joined = await user.create_room(name="With a guest", invite=[guest.user_id])
    await guest.join(joined)
    await user.invite(joined, ghost_of(alice))
    await user.wait_for_event(joined, notice_containing("This room is not bridged"))
    await user.wait_for_membership(joined, ghost_of(alice), "leave")
    assert await portals_of(running, alice) == 0

    # A room of their own works.
    own = await start_chat(user, alice)
    await user.wait_for_event(own, notice_containing("your chat with Alice"))
    await user.send_message(own, "just us")
    await delivered(fake_telegram, alice, "Host: just us")


async def test_someone_invited_to_a_direct_chat_ends_its_bridging(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    running = await telegram_bridge()
    bob = fake_telegram.add_user("Bob")
    user = await make_matrix_user("owner", displayname="Owner")
    intruder = await make_matrix_user("intruder", displayname="Intruder")
    room_id = await start_chat(user, bob)
    await user.wait_for_event(room_id, notice_containing("your chat with Bob"))
    await user.send_message(room_id, "before")
    await delivered(fake_telegram, bob, "Owner: before")

    await user.invite(room_id, intruder.user_id)
    notice = await user.wait_for_event(room_id, notice_containing("no longer bridged"))
    body = notice["content"]["body"]
    assert notice["sender"] == running.bot
    assert f"{intruder.user_id} was invited" in body and "private chat with Bob" in body
    assert f"pm {bob.id}" in body
    await user.wait_for_membership(room_id, ghost_of(bob), "leave")
    assert running.bridge.portals is not None
    assert (
        running.bridge.portals.index.find(PortalKey(RemoteChatID(str(bob.id)), user.user_id))
        is None
    )

    # Bob's private reply reaches nobody in the room: he is told nobody has a conversation.
    await intruder.join(room_id)
    fake_telegram.inject_text(fake_telegram.private_chat(bob), bob, "my secret")
    await eventually(
        lambda: any("Nobody on Matrix" in (s.text or "") for s in to_them(fake_telegram, bob)),
        what="the answer to Bob",
    )
    assert not [e for e in await intruder.room_messages(room_id) if "my secret" in str(e)]


async def test_someone_joining_a_direct_chat_ends_its_bridging(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    await telegram_bridge()
    carol = fake_telegram.add_user("Carol")
    user = await make_matrix_user("opener", displayname="Opener")
    walker = await make_matrix_user("walker", displayname="Walker")
    room_id = await start_chat(user, carol)
    await user.wait_for_event(room_id, notice_containing("your chat with Carol"))
    await user.send_state(room_id, "m.room.join_rules", {"join_rule": "public"})
    await walker.join(room_id)
    notice = await user.wait_for_event(room_id, notice_containing("no longer bridged"))
    assert f"{walker.user_id} joined" in notice["content"]["body"]
    await user.wait_for_membership(room_id, ghost_of(carol), "leave")
