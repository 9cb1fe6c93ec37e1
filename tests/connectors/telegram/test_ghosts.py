"""Telegram users as ghosts: names from the template, avatars uploaded once and again only when
they change, joining when they speak or join and leaving when they leave or are removed."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.connectors.telegram.conftest import StartTelegramBridge, bridge_from_telegram
from tests.fakes.telegram import FakeTelegram, make_png
from tests.support.fixtures import MakeMatrixUser
from tests.support.matrix_client import MatrixTestClient

DOMAIN = "synapse.test"


def body_is(body: str) -> Any:
    return lambda event: event.get("content", {}).get("body") == body


def ghost(user_id: int) -> str:
    return f"@telegram_{user_id}:{DOMAIN}"


async def joined_members(user: MatrixTestClient, room_id: str) -> set[str]:
    return set(await user.joined_members(room_id))


async def test_display_names_follow_the_template(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    await telegram_bridge(
        overrides={"bridge.displayname_template": "{first_name} {last_name} (@{username}) [TG]"}
    )
    full = fake_telegram.add_user("Ada", last_name="Lovelace", username="ada")
    bare = fake_telegram.add_user("Bo")
    group = fake_telegram.add_supergroup("Names", members=[full, bare], username="names")
    user = await make_matrix_user("reader")
    room_id = await user.join(f"#telegram_{group.id}:{DOMAIN}")
    fake_telegram.inject_text(group, full, "one")
    fake_telegram.inject_text(group, bare, "two")
    await user.wait_for_event(room_id, body_is("two"))
    assert (await user.get_profile(ghost(full.id)))["displayname"] == "Ada Lovelace (@ada) [TG]"
    # Empty fields leave no stray spaces.
    assert (await user.get_profile(ghost(bare.id)))["displayname"] == "Bo (@) [TG]"


async def test_avatar_is_uploaded_once_and_again_when_it_changes(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    await telegram_bridge()
    pic = make_png(6, 6, (10, 200, 10))
    alice = fake_telegram.add_user("Alice", profile_photos=[pic])
    group = fake_telegram.add_supergroup("Faces", members=[alice], username="faces")
    user = await make_matrix_user("reader")
    room_id = await user.join(f"#telegram_{group.id}:{DOMAIN}")

    for index in range(3):
        fake_telegram.inject_text(group, alice, f"message {index}")
    await user.wait_for_event(room_id, body_is("message 2"))
    first = (await user.get_profile(ghost(alice.id)))["avatar_url"]
    assert first.startswith("mxc://")
    downloads = [c for c in fake_telegram.calls_to("getFile")]
    assert len(downloads) == 1, "the same picture is downloaded once"

    # A new profile photo: the connector looks again after its cache expires.
    from connectors.telegram import people

    fake_telegram.add_profile_photo(alice, make_png(6, 6, (10, 10, 200)))
    people.PHOTO_TTL, saved = 0.0, people.PHOTO_TTL
    try:
        fake_telegram.inject_text(group, alice, "new face")
        await user.wait_for_event(room_id, body_is("new face"))
    finally:
        people.PHOTO_TTL = saved
    second = (await user.get_profile(ghost(alice.id)))["avatar_url"]
    assert second.startswith("mxc://") and second != first
    assert len(fake_telegram.calls_to("getFile")) == 2


async def test_a_slow_profile_photo_look_up_holds_up_only_its_own_chat(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    """A new sender's photo is looked up when their chat's lane handles the message, not while
    the update is taken: a slow look-up delays that chat only."""
    await telegram_bridge()
    alice = fake_telegram.add_user("Alice", profile_photos=[make_png(6, 6, (200, 10, 10))])
    bob = fake_telegram.add_user("Bob")
    slow = fake_telegram.add_supergroup("Slow", members=[alice], username="slowfaces")
    quick = fake_telegram.add_supergroup("Quick", members=[bob], username="quickfaces")
    user = await make_matrix_user("watcher")
    slow_room = await user.join(f"#telegram_{slow.id}:{DOMAIN}")
    quick_room = await user.join(f"#telegram_{quick.id}:{DOMAIN}")
    fake_telegram.inject_text(quick, bob, "hello")  # Bob's photo is known from now on
    await user.wait_for_event(quick_room, body_is("hello"))

    delay = 10.0
    fake_telegram.faults.delay("getUserProfilePhotos", delay)
    loop = asyncio.get_running_loop()
    fake_telegram.inject_text(slow, alice, "first words")
    sent = loop.time()
    fake_telegram.inject_text(quick, bob, "meanwhile")
    await user.wait_for_event(quick_room, body_is("meanwhile"))
    assert loop.time() - sent < delay, "the other chat waited for the look-up"
    await user.wait_for_event(slow_room, body_is("first words"), timeout=delay + 15)
    assert (await user.get_profile(ghost(alice.id)))["avatar_url"].startswith("mxc://")


async def test_ghosts_join_when_they_speak_or_join_and_leave_when_they_go(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    await telegram_bridge()
    owner = fake_telegram.add_user("Owner")
    talker = fake_telegram.add_user("Talker")
    newcomer = fake_telegram.add_user("Newcomer")
    group = fake_telegram.add_supergroup(
        "Comings", owner=owner, members=[talker], username="comings"
    )
    fake_telegram.set_bot_member(group, "administrator")  # chat_member updates need an admin bot
    user = await make_matrix_user("reader")
    room_id = await user.join(f"#telegram_{group.id}:{DOMAIN}")
    assert ghost(talker.id) not in await joined_members(user, room_id)

    fake_telegram.inject_text(group, talker, "hi")
    await user.wait_for_event(room_id, body_is("hi"))
    assert ghost(talker.id) in await joined_members(user, room_id)

    fake_telegram.inject_join(group, newcomer)
    await user.wait_for_membership(room_id, ghost(newcomer.id), "join")

    fake_telegram.inject_leave(group, talker)
    await user.wait_for_membership(room_id, ghost(talker.id), "leave")

    fake_telegram.inject_leave(group, newcomer, by=owner)
    removed = await user.wait_for_membership(room_id, ghost(newcomer.id), "leave")
    assert removed["sender"] != ghost(newcomer.id), "removed by someone else: a kick"
    assert "Owner" in removed["content"].get("reason", "")
    members = await joined_members(user, room_id)
    assert ghost(talker.id) not in members and ghost(newcomer.id) not in members


async def test_new_members_in_a_group_without_admin_rights_join_from_the_service_message(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    await telegram_bridge()
    owner = fake_telegram.add_user("Owner")
    newcomer = fake_telegram.add_user("Fresh")
    group = fake_telegram.add_group("Basic", owner=owner)
    await bridge_from_telegram(fake_telegram, group, owner)
    user = await make_matrix_user("reader")
    room_id = await user.join(f"#telegram_{group.id}:{DOMAIN}")
    fake_telegram.inject_join(group, newcomer, by=owner)
    await user.wait_for_membership(room_id, ghost(newcomer.id), "join")
