"""Room state both ways: Telegram title, photo and description become the room's name, avatar
and topic; Matrix name and topic go to Telegram where allowed; Matrix joins and leaves are
announced only when configured."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.connectors.telegram.conftest import StartTelegramBridge
from tests.fakes.telegram import FakeTelegram, make_png
from tests.support.bridge_harness import AppserviceSetup
from tests.support.fixtures import MakeMatrixUser
from tests.support.matrix_client import MatrixError, MatrixTestClient
from tests.support.synapse import SynapseServer
from tests.support.waiting import eventually

DOMAIN = "synapse.test"


async def state_becomes(
    user: MatrixTestClient, room_id: str, event_type: str, key: str, expected: Any
) -> dict[str, Any]:
    async def current() -> Any:
        try:
            return (await user.get_state(room_id, event_type)).get(key)
        except MatrixError as error:
            if error.errcode != "M_NOT_FOUND":
                raise
            return None

    for _ in range(300):
        value = await current()
        if value == expected or (callable(expected) and expected(value)):
            return await user.get_state(room_id, event_type)
        await asyncio.sleep(0.05)
    raise AssertionError(f"{event_type}.{key} is {await current()!r}, not {expected!r}")


async def test_telegram_title_photo_and_description_update_the_room(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    await telegram_bridge(chat_resync_interval=0.5)
    owner = fake_telegram.add_user("Owner")
    group = fake_telegram.add_supergroup(
        "Old title", description="old", owner=owner, username="oldtitle"
    )
    user = await make_matrix_user("reader")
    room_id = await user.join(f"#telegram_{group.id}:{DOMAIN}")

    fake_telegram.inject_title_change(group, "New title", by=owner)
    await state_becomes(user, room_id, "m.room.name", "name", "New title")

    before = None  # the chat had no photo, so the room has no avatar yet
    fake_telegram.inject_photo_change(group, make_png(5, 5, (1, 2, 3)), by=owner)
    await state_becomes(user, room_id, "m.room.avatar", "url", lambda url: url and url != before)
    fake_telegram.inject_photo_delete(group, by=owner)
    await state_becomes(user, room_id, "m.room.avatar", "url", lambda url: not url)

    # No update comes for a description: the periodic re-read finds it.
    fake_telegram.inject_description_change(group, "A new description")
    await state_becomes(user, room_id, "m.room.topic", "topic", "A new description")


async def test_matrix_name_and_topic_go_to_telegram(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
    appservice_setup: AppserviceSetup,
    synapse: SynapseServer,
) -> None:
    user = await make_matrix_user("namer")
    await telegram_bridge(overrides={"bridge.permissions": {user.user_id: "admin"}})
    owner = fake_telegram.add_user("Owner")
    group = fake_telegram.add_supergroup("Before", owner=owner, username="before")
    fake_telegram.set_bot_member(group, "administrator", can_change_info=True)
    room_id = await user.join(f"#telegram_{group.id}:{DOMAIN}")
    # Only those with power may rename the room; the room's creator (the bot) gives it.
    await _give_power(appservice_setup, synapse, user.user_id, room_id)

    await user.send_state(room_id, "m.room.name", {"name": "Renamed from Matrix"})
    await eventually(lambda: fake_telegram.chat(group.id).title == "Renamed from Matrix")
    await user.send_state(room_id, "m.room.topic", {"topic": "Topic from Matrix"})
    await eventually(lambda: fake_telegram.chat(group.id).description == "Topic from Matrix")
    assert fake_telegram.calls_to("setChatTitle") and fake_telegram.calls_to("setChatDescription")


async def test_a_refused_rename_is_told_and_the_switch_turns_it_off(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
    appservice_setup: AppserviceSetup,
    synapse: SynapseServer,
) -> None:
    user = await make_matrix_user("namer")
    running = await telegram_bridge(overrides={"bridge.permissions": {user.user_id: "admin"}})
    owner = fake_telegram.add_user("Owner")
    # The bot is a plain member.
    group = fake_telegram.add_supergroup("Locked", owner=owner, username="locked")
    room_id = await user.join(f"#telegram_{group.id}:{DOMAIN}")
    await _give_power(appservice_setup, synapse, user.user_id, room_id)
    await user.send_state(room_id, "m.room.name", {"name": "Nope"})
    notice = await user.wait_for_event(
        room_id, lambda e: "was not sent to the chat" in e["content"].get("body", "")
    )
    assert "admin right" in notice["content"]["body"] or "rights" in notice["content"]["body"]
    assert fake_telegram.chat(group.id).title == "Locked"
    await running.stop()

    await telegram_bridge(
        overrides={"bridge.permissions": {user.user_id: "admin"}, "bridge.send_room_changes": False}
    )
    fake_telegram.set_bot_member(group, "administrator", can_change_info=True)
    await user.send_state(room_id, "m.room.topic", {"topic": "Stays on Matrix"})
    await user.send_message(room_id, "after the topic")
    await eventually(
        lambda: any("after the topic" in (s.text or "") for s in fake_telegram.sent_to(group))
    )
    assert not fake_telegram.calls_to("setChatDescription")


async def test_matrix_joins_and_leaves_are_announced_only_when_configured(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    running = await telegram_bridge()
    owner = fake_telegram.add_user("Owner")
    group = fake_telegram.add_supergroup("Quiet", owner=owner, username="quiet")
    alias = f"#telegram_{group.id}:{DOMAIN}"
    quiet = await make_matrix_user("quiet", displayname="Quiet Q")
    observer = await make_matrix_user("observer", displayname="Observer")
    room_id = await quiet.join(alias)
    await observer.join(alias)
    await quiet.send_message(room_id, "first message")
    await quiet.leave(room_id)
    # Events of a room are handled in order: once this arrives, the leave was handled too.
    await observer.send_message(room_id, "marker")
    await eventually(lambda: len(fake_telegram.sent_to(group)) >= 2)
    await running.stop()
    assert [s.text for s in fake_telegram.sent_to(group)] == [
        "Quiet Q: first message",
        "Observer: marker",
    ]

    await telegram_bridge(overrides={"bridge.relay.announce_membership": True})
    loud = await make_matrix_user("loud", displayname="Loud L")
    await loud.join(alias)
    joined = await eventually(
        lambda: [s for s in fake_telegram.sent_to(group) if "joined" in (s.text or "")]
    )
    assert joined[0].text == "Loud L joined the room on Matrix"
    assert joined[0].entities[0]["type"] == "italic"
    await loud.set_displayname("Loud Renamed")  # a profile change is not a join
    # Synapse updates the room's member event in the background.
    for _ in range(200):
        member = await loud.get_state(room_id, "m.room.member", loud.user_id)
        if member.get("displayname") == "Loud Renamed":
            break
        await asyncio.sleep(0.05)
    await loud.leave(room_id)
    left = await eventually(
        lambda: [s for s in fake_telegram.sent_to(group) if "left" in (s.text or "")]
    )
    assert left[0].text == "Loud Renamed left the room on Matrix"
    assert len([s for s in fake_telegram.sent_to(group) if "joined" in (s.text or "")]) == 1


async def _give_power(setup: AppserviceSetup, synapse: SynapseServer, user: str, room: str) -> None:
    """Portal rooms give state changes to power 50: raise the user there as the bridge bot
    (the room's creator), as a room admin would."""
    async with await MatrixTestClient.as_appservice(synapse, setup.as_token) as bot:
        power = await bot.get_state(room, "m.room.power_levels")
        power["users"][user] = 50
        await bot.send_state(room, "m.room.power_levels", power)
