"""Telegram chats become portal rooms: /bridge from Telegram, bridge from Matrix, joining the
alias, and a group's upgrade to a supergroup. Real Synapse, fake Bot API, real PTB client."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bridge.network.ids import PortalKey, RemoteChatID
from tests.connectors.telegram.conftest import (
    StartTelegramBridge,
    bridge_from_telegram,
    confirmed,
    last_update_id,
)
from tests.fakes.telegram import FakeTelegram, make_png
from tests.support.fixtures import MakeMatrixUser
from tests.support.matrix_client import MatrixError
from tests.support.waiting import eventually

DOMAIN = "synapse.test"


def alias_for(chat_id: int) -> str:
    return f"#telegram_{chat_id}:{DOMAIN}"


def portal_key(chat_id: int) -> PortalKey:
    return PortalKey(RemoteChatID(str(chat_id)))


def text_event(body: str) -> Any:
    def match(event: dict[str, Any]) -> bool:
        return event.get("type") == "m.room.message" and event["content"].get("body") == body

    return match


async def test_bridge_command_in_telegram_creates_the_portal(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    await telegram_bridge()
    owner = fake_telegram.add_user("Olga", last_name="Owner")
    member = fake_telegram.add_user("Mark")
    group = fake_telegram.add_supergroup(
        "Book club",
        description="We read books",
        photo=make_png(8, 8),
        owner=owner,
        members=[member],
    )

    # A plain member may not bridge the chat.
    request = fake_telegram.inject_text(group, member, "/bridge")
    refusal = await eventually(lambda: fake_telegram.sent_to(group), what="a refusal")
    assert "Only administrators" in (refusal[0].text or "")
    assert refusal[0].params.get("reply_parameters", {}).get("message_id") == request["message_id"]

    # A command for another bot is not for us.
    fake_telegram.inject_text(group, owner, "/bridge@some_other_bot")
    fake_telegram.inject_text(group, owner, f"/bridge@{fake_telegram.bot.username}")
    answers = await eventually(
        lambda: [s for s in fake_telegram.sent_to(group) if "bridged to Matrix" in (s.text or "")],
        what="the bridged answer",
    )
    assert len(answers) == 1
    assert alias_for(group.id) in (answers[0].text or "")

    user = await make_matrix_user("reader")
    room_id = await user.join(alias_for(group.id))
    assert (await user.get_state(room_id, "m.room.name"))["name"] == "Book club"
    assert (await user.get_state(room_id, "m.room.topic"))["topic"] == "We read books"
    avatar = await user.get_state(room_id, "m.room.avatar")
    assert avatar["url"].startswith("mxc://")
    assert (await user.get_state(room_id, "m.room.join_rules"))["join_rule"] == "public"

    fake_telegram.inject_text(group, member, "hello Matrix")
    event = await user.wait_for_event(room_id, text_event("hello Matrix"))
    assert event["sender"] == f"@telegram_{member.id}:{DOMAIN}"


async def test_bridge_on_behalf_of_a_channel_is_refused_and_of_the_group_is_an_admins(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
) -> None:
    """A member who writes /bridge as their own channel is no admin of the group: refused,
    told how to do it. An anonymous admin writes as the group itself, and a channel's post is
    its admins': bridged."""
    await telegram_bridge()
    mallory, shy = fake_telegram.add_user("Mallory"), fake_telegram.add_user("Shy")
    group = fake_telegram.add_supergroup("Open house", members=[mallory])
    fake_telegram.set_member(group, shy, "administrator", is_anonymous=True)
    channel = fake_telegram.add_channel("Mallory's news", owner=mallory)

    fake_telegram.inject_text(group, mallory, "/bridge", on_behalf_of=channel)
    refusal = await eventually(lambda: fake_telegram.sent_to(group), what="a refusal")
    assert "as yourself" in (refusal[0].text or ""), refusal[0].text
    fake_telegram.inject_text(group, shy, "/bridge", on_behalf_of=group)
    answers = await eventually(
        lambda: [s for s in fake_telegram.sent_to(group) if "bridged to Matrix" in (s.text or "")],
        what="the bridged answer",
    )
    assert len(fake_telegram.sent_to(group)) == 2 and len(answers) == 1
    # A channel's own post: only its admins post there.
    fake_telegram.inject_channel_post(channel, "/bridge")
    await eventually(
        lambda: any("bridged to Matrix" in (s.text or "") for s in fake_telegram.sent_to(channel)),
        what="the channel bridged",
    )


async def test_bridge_command_from_matrix_and_unbridge(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    admin = await make_matrix_user("admin")
    plain = await make_matrix_user("plain")
    running = await telegram_bridge(
        overrides={"bridge.permissions": {admin.user_id: "admin", DOMAIN: "user"}}
    )
    alice = fake_telegram.add_user("Alice")
    group = fake_telegram.add_group("Team", members=[alice])
    room_id = await admin.create_room(name="Our team room", invite=[running.bot, plain.user_id])
    await plain.join(room_id)
    await admin.wait_for_membership(room_id, running.bot, "join")

    # A user without a linked Telegram account that administers the chat may not.
    sent = await plain.send_message(room_id, f"!tg bridge {group.id}")
    await plain.wait_for_event(
        room_id, lambda e: "Only bridge admins" in e["content"].get("body", ""), after=sent
    )
    sent = await admin.send_message(room_id, "!tg bridge -999")
    await admin.wait_for_event(
        room_id, lambda e: "Cannot bridge -999" in e["content"].get("body", ""), after=sent
    )
    sent = await admin.send_message(room_id, f"!tg bridge {group.id}")
    await admin.wait_for_event(
        room_id, lambda e: "Bridged this room to Team" in e["content"].get("body", ""), after=sent
    )

    fake_telegram.inject_text(group, alice, "from telegram")
    await admin.wait_for_event(room_id, text_event("from telegram"))
    await admin.send_message(room_id, "from matrix")
    arrived = await eventually(
        lambda: [s for s in fake_telegram.sent_to(group) if "from matrix" in (s.text or "")]
    )
    assert arrived[0].text.endswith(": from matrix")

    sent = await admin.send_message(room_id, "!tg unbridge")
    await admin.wait_for_event(
        room_id, lambda e: "no longer bridged" in e["content"].get("body", ""), after=sent
    )
    await admin.send_message(room_id, "after unbridge")
    fake_telegram.inject_text(group, alice, "not bridged any more")
    update_id = last_update_id(fake_telegram)
    await eventually(lambda: confirmed(fake_telegram, update_id), what="the update taken")
    texts = [s.text for s in fake_telegram.sent_to(group)]
    assert not any("after unbridge" in (t or "") for t in texts)


async def test_joining_the_alias_creates_a_public_portal(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    await telegram_bridge()
    channel = fake_telegram.add_channel("News", description="Daily news", username="news")
    user = await make_matrix_user("joiner")
    room_id = await user.join(alias_for(channel.id))
    assert (await user.get_state(room_id, "m.room.name"))["name"] == "News"

    fake_telegram.inject_channel_post(channel, "Breaking news")
    event = await user.wait_for_event(room_id, text_event("Breaking news"))
    assert event["sender"] == f"@telegram_{channel.id}:{DOMAIN}"
    profile = await user.get_profile(event["sender"])
    assert profile["displayname"] == "News (Telegram)"

    fake_telegram.inject_channel_post(channel, "Signed post", author_signature="Ann Author")
    signed = await user.wait_for_event(room_id, text_event("Signed post"))
    assert signed["sender"] != event["sender"]
    assert (await user.get_profile(signed["sender"]))["displayname"] == (
        "Ann Author (News) (Telegram)"
    )

    # A chat the bot is not in has no portal to join.
    outside = fake_telegram.add_group("Elsewhere", bot_status=None)
    try:
        await user.join(alias_for(outside.id))
        raise AssertionError("joined the alias of a chat the bot is not in")
    except MatrixError as error:
        assert error.errcode == "M_NOT_FOUND"


async def test_the_alias_opens_only_public_chats_or_chats_an_admin_bridged(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Nobody in a private group asked for a portal: joining its alias does not open one (the
    log says why, and how to bridge it). After an admin's /bridge the alias leads there."""
    running = await telegram_bridge()
    owner = fake_telegram.add_user("Petra")
    group = fake_telegram.add_supergroup("Private circle", owner=owner)
    user = await make_matrix_user("curious")
    with caplog.at_level(logging.INFO, logger="portals.core"):
        try:
            await user.join(alias_for(group.id))
            raise AssertionError("joined the alias of a private chat nobody bridged")
        except MatrixError as error:
            assert error.errcode == "M_NOT_FOUND"
    assert any("is not public" in r.getMessage() for r in caplog.records)
    assert running.bridge.portals is not None
    assert running.bridge.portals.index.find(portal_key(group.id)) is None, "no portal made"

    await bridge_from_telegram(fake_telegram, group, owner)
    room_id = await user.join(alias_for(group.id))
    fake_telegram.inject_text(group, owner, "welcome")
    await user.wait_for_event(room_id, text_event("welcome"))


async def test_no_public_portals_when_turned_off(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    await telegram_bridge(overrides={"bridge.public_portals": False})
    owner = fake_telegram.add_user("Owen")
    group = fake_telegram.add_group("Private", owner=owner)
    user = await make_matrix_user("joiner")
    try:
        await user.join(alias_for(group.id))
        raise AssertionError("joined a portal alias with public portals off")
    except MatrixError as error:
        assert error.errcode == "M_NOT_FOUND"
    fake_telegram.inject_text(group, owner, "/bridge")
    answer = await eventually(lambda: fake_telegram.sent_to(group))
    assert f"bridge {group.id}" in (answer[0].text or "")


async def test_group_upgraded_to_supergroup_keeps_its_portal(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    await telegram_bridge()
    owner = fake_telegram.add_user("Gus")
    group = fake_telegram.add_group("Growing", owner=owner)
    await bridge_from_telegram(fake_telegram, group, owner)
    user = await make_matrix_user("member")
    room_id = await user.join(alias_for(group.id))
    fake_telegram.inject_text(group, owner, "before the upgrade")
    await user.wait_for_event(room_id, text_event("before the upgrade"))

    supergroup = fake_telegram.inject_migration(group, by=owner)
    fake_telegram.inject_text(supergroup, owner, "after the upgrade")
    await user.wait_for_event(room_id, text_event("after the upgrade"))
    assert await user.resolve_alias(alias_for(supergroup.id)) == room_id

    await user.send_message(room_id, "to the supergroup")
    arrived = await eventually(
        lambda: [
            s for s in fake_telegram.sent_to(supergroup) if "to the supergroup" in (s.text or "")
        ]
    )
    assert arrived
