"""Linking a Telegram account to a Matrix user with a single-use deep link, through a real
Synapse and the fake Bot API: a valid, a reused, an unknown and an expired token; logout; the
link and an unused token kept over a restart; a linked chat admin bridging their chat."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from bridge.db.models import LoginToken, utcnow
from bridge.login_tokens import token_hash
from tests.bridge.test_management_room import notice_containing, open_dm
from tests.connectors.telegram.conftest import StartTelegramBridge
from tests.fakes.telegram import FakeTelegram, FakeUser, Sent
from tests.support.bridge_harness import RunningBridge
from tests.support.fixtures import MakeMatrixUser
from tests.support.matrix_client import MatrixTestClient
from tests.support.session_log import register_secret
from tests.support.waiting import eventually

LINK = re.compile(r"https://t\.me/(\w+)\?start=([A-Za-z0-9_-]+)")


async def ask_for_link(user: MatrixTestClient, room_id: str) -> str:
    """The token of the deep link ``login`` answers with."""
    sent = await user.send_message(room_id, "login")
    answer = await user.wait_for_event(room_id, notice_containing("t.me/"), after=sent)
    match = LINK.search(answer["content"]["body"])
    assert match is not None, answer
    assert match.group(2) in answer["content"]["formatted_body"]
    # It links whoever presents it: the run's log must not hold it.
    register_secret(match.group(2))
    return match.group(2)


def press_start(fake: FakeTelegram, user: FakeUser, token: str) -> None:
    """The Telegram user opens the deep link and presses Start."""
    fake.inject_start(user, token)


async def question(fake: FakeTelegram, user: FakeUser, after: int) -> Sent:
    """The bot's question to ``user`` (the message with buttons), among its messages to them
    after the first ``after``."""
    found: Sent = await eventually(
        lambda: next(
            (s for s in fake.sent_to(user.id)[after:] if "reply_markup" in s.message), None
        ),
        what=f"the bot's question to {user.first_name}",
    )
    return found


async def link_telegram(fake: FakeTelegram, user: FakeUser, token: str, press: str = "Link") -> str:
    """The Telegram user opens the deep link, presses Start and answers the bot's question
    with ``press``; what the question turned into."""
    before = len(fake.sent_to(user.id))
    press_start(fake, user, token)
    asked = await question(fake, user, before)
    fake.press_button(user, asked.message, press)
    await eventually(lambda: "reply_markup" not in asked.message, what="the outcome")
    return asked.text or ""


async def bot_answer(fake: FakeTelegram, user: FakeUser, count: int) -> str:
    """The bot's ``count``-th message in its private chat with ``user``."""
    sent = await eventually(
        lambda: len(fake.sent_to(user.id)) >= count and fake.sent_to(user.id),
        what=f"answer {count} to {user.first_name}",
    )
    return sent[count - 1].text or ""


async def ping(user: MatrixTestClient, room_id: str) -> str:
    sent = await user.send_message(room_id, "ping")
    answer = await user.wait_for_event(room_id, notice_containing("Pong"), after=sent)
    return str(answer["content"]["body"])


async def group_room(user: MatrixTestClient, bot: str, bystander: MatrixTestClient) -> str:
    """A room of three (no management room), the bot joined."""
    room_id = await user.create_room(invite=[bot, bystander.user_id])
    await user.wait_for_membership(room_id, bot, "join")
    return room_id


async def expire(running: RunningBridge, token: str) -> None:
    async with running.bridge.db.session() as session:
        await session.execute(
            update(LoginToken)
            .where(LoginToken.token_hash == token_hash(token))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )


async def test_linking_with_valid_reused_unknown_and_expired_tokens(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    running = await telegram_bridge()
    user = await make_matrix_user("linker")
    dm = await open_dm(user, running.bot)
    alice = fake_telegram.add_user("Alice", username="alice_tg")
    mallory = fake_telegram.add_user("Mallory")

    assert "no linked Telegram account" in await ping(user, dm)
    token = await ask_for_link(user, dm)
    assert 8 <= len(token) <= 64
    linked = await link_telegram(fake_telegram, alice, token)
    assert f"linked to the Matrix user {user.user_id}" in linked
    # Both sides are told.
    await user.wait_for_event(dm, notice_containing(f"Alice ({alice.id}) is now linked"))
    assert f"Your linked Telegram account: Alice ({alice.id})" in await ping(user, dm)
    # The /start message carrying it was logged (at DEBUG), the token taken out.
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert token not in logged

    # The same link again, by anyone: refused with the reason, nothing changes.
    press_start(fake_telegram, mallory, token)
    assert "used already" in await bot_answer(fake_telegram, mallory, 1)
    press_start(fake_telegram, mallory, "not-a-token-at-all")  # a valid start parameter
    assert "not known" in await bot_answer(fake_telegram, mallory, 2)
    late = await ask_for_link(user, dm)
    await expire(running, late)
    press_start(fake_telegram, mallory, late)
    assert "expired" in await bot_answer(fake_telegram, mallory, 3)
    assert f"Alice ({alice.id})" in await ping(user, dm)
    # /start without a token says what the bot is, and the link.
    fake_telegram.inject_start(alice)
    assert f"linked to the Matrix user {user.user_id}" in await bot_answer(fake_telegram, alice, 2)

    # login elsewhere than the management room gives no link (anyone there could take it).
    other = await group_room(user, running.bot, await make_matrix_user("bystander"))
    sent = await user.send_message(other, "!tg login")
    await user.wait_for_event(other, notice_containing("management room"), after=sent)
    assert not any("t.me/" in str(e["content"].get("body")) for e in user.seen_events(other))

    sent = await user.send_message(dm, "logout")
    await user.wait_for_event(dm, notice_containing(f"account {alice.id} is no longer"), after=sent)
    assert "no linked Telegram account" in await ping(user, dm)


async def test_a_link_needs_the_consent_of_the_account_that_opened_it(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    """Mallory sends her login link to Alice, an admin of a chat: pressing Start links nobody.
    Alice is asked, sees Mallory's Matrix id and declines; Mallory is told. Mallory's own
    Telegram account cannot take the link over, by Start or by a forged button press."""
    running = await telegram_bridge()
    mallory = await make_matrix_user("mallory")
    dm = await open_dm(mallory, running.bot)
    alice = fake_telegram.add_user("Alice")
    mallory_tg = fake_telegram.add_user("Mallory")

    token = await ask_for_link(mallory, dm)
    press_start(fake_telegram, alice, token)
    asked = await question(fake_telegram, alice, 0)
    assert f"Matrix user {mallory.user_id}?" in (asked.text or "")
    # The link is Alice's now: Mallory's account gets nothing out of it.
    press_start(fake_telegram, mallory_tg, token)
    assert "opened by another account" in await bot_answer(fake_telegram, mallory_tg, 1)
    fake_telegram.inject_start(mallory_tg)  # a chat of her own with the bot, with a message
    own = await eventually(lambda: fake_telegram.sent_to(mallory_tg)[1:], what="the /start answer")
    forged = fake_telegram.press_button(mallory_tg, own[0].message, data=f"login:yes:{token}")
    answer = await eventually(
        lambda: fake_telegram.callbacks.queries[forged["callback_query"]["id"]].answer,
        what="the forged press answered",
    )
    assert answer["show_alert"] is True and "opened by another account" in answer["text"]
    assert "no linked Telegram account" in await ping(mallory, dm)

    fake_telegram.press_button(alice, asked.message, "Do not link")
    await eventually(lambda: "reply_markup" not in asked.message, what="the outcome")
    assert f"Not linked: your Telegram account stays apart from {mallory.user_id}" in (
        asked.text or ""
    )
    await mallory.wait_for_event(dm, notice_containing(f"Alice ({alice.id}) opened your login"))
    assert "no linked Telegram account" in await ping(mallory, dm)
    # Spent: pressing Start on it again is refused.
    press_start(fake_telegram, alice, token)
    assert "used already" in await bot_answer(fake_telegram, alice, 2)


async def test_links_and_tokens_survive_a_restart(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    running = await telegram_bridge()
    first, second = await make_matrix_user("keeper"), await make_matrix_user("waiter")
    first_dm, second_dm = await open_dm(first, running.bot), await open_dm(second, running.bot)
    alice, bob = fake_telegram.add_user("Alice"), fake_telegram.add_user("Bob")
    await link_telegram(fake_telegram, alice, await ask_for_link(first, first_dm))
    await first.wait_for_event(first_dm, notice_containing("is now linked"))
    waiting = await ask_for_link(second, second_dm)

    await running.stop()
    running = await telegram_bridge()
    assert f"Alice ({alice.id})" in await ping(first, first_dm)
    assert f"Matrix user {second.user_id}" in await link_telegram(fake_telegram, bob, waiting)
    # Linking Alice to the second user moves her: one Matrix user per Telegram account.
    await link_telegram(fake_telegram, alice, await ask_for_link(second, second_dm))
    await first.wait_for_event(first_dm, notice_containing(f"linked to {second.user_id} instead"))
    assert "no linked Telegram account" in await ping(first, first_dm)
    assert f"Alice ({alice.id})" in await ping(second, second_dm)


async def test_a_linked_admin_of_a_chat_may_bridge_it(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    running = await telegram_bridge(overrides={"bridge.public_portals": False})
    owner = fake_telegram.add_user("Owner")
    member = fake_telegram.add_user("Member")
    group = fake_telegram.add_supergroup("Theirs", owner=owner, members=[member])
    users: dict[str, Any] = {}
    bystander = await make_matrix_user("bystander")
    for name, account in (("owner", owner), ("member", member)):
        user = await make_matrix_user(f"{name}-of-theirs")
        dm = await open_dm(user, running.bot)
        await link_telegram(fake_telegram, account, await ask_for_link(user, dm))
        await user.wait_for_event(dm, notice_containing("is now linked"))
        users[name] = (user, await group_room(user, running.bot, bystander))

    # The member's account is no admin there: refused; the owner's is: bridged.
    member_user, member_room = users["member"]
    sent = await member_user.send_message(member_room, f"!tg bridge {group.id}")
    await member_user.wait_for_event(
        member_room, notice_containing("is an administrator of the chat"), after=sent
    )
    owner_user, owner_room = users["owner"]
    sent = await owner_user.send_message(owner_room, f"!tg bridge {group.id}")
    await owner_user.wait_for_event(owner_room, notice_containing("Bridged this room"), after=sent)
    assert running.bridge.portals is not None
    assert await running.bridge.portals.by_room(owner_room) is not None
    assert await running.bridge.portals.by_room(member_room) is None


async def test_bridging_from_matrix_needs_the_power_to_change_the_room(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    """Administering the chat is not enough: the Matrix user must also be allowed to change
    the room's settings (its state). A bridge admin may unbridge any room."""
    host = await make_matrix_user("room-host")
    linked = await make_matrix_user("chat-owner")
    operator = await make_matrix_user("operator")
    running = await telegram_bridge(
        overrides={
            "bridge.public_portals": False,
            "bridge.permissions": {"synapse.test": "user", operator.user_id: "admin"},
        }
    )
    owner = fake_telegram.add_user("Owner")
    group = fake_telegram.add_supergroup("Owned", owner=owner)
    dm = await open_dm(linked, running.bot)
    await link_telegram(fake_telegram, owner, await ask_for_link(linked, dm))
    await linked.wait_for_event(dm, notice_containing("is now linked"))
    # The host's room: the others join with the default level, 0.
    room_id = await group_room(host, running.bot, linked)
    await linked.join(room_id)
    await host.invite(room_id, operator.user_id)
    await operator.join(room_id)

    sent = await linked.send_message(room_id, f"!tg bridge {group.id}")
    refusal = await linked.wait_for_event(room_id, notice_containing("You may not"), after=sent)
    assert "bridge this room: that needs power level 50" in refusal["content"]["body"]
    assert "you have 0" in refusal["content"]["body"]

    levels = await host.get_state(room_id, "m.room.power_levels")
    await host.send_state(
        room_id, "m.room.power_levels", {**levels, "users": {**levels["users"], linked.user_id: 50}}
    )
    sent = await linked.send_message(room_id, f"!tg bridge {group.id}")
    await linked.wait_for_event(room_id, notice_containing("Bridged this room"), after=sent)

    await host.send_state(room_id, "m.room.power_levels", levels)  # the linked user's 50 gone
    sent = await linked.send_message(room_id, "!tg unbridge")
    refusal = await linked.wait_for_event(room_id, notice_containing("You may not"), after=sent)
    assert "unbridge this room: that needs power level 50" in refusal["content"]["body"]
    assert running.bridge.portals is not None
    assert await running.bridge.portals.by_room(room_id) is not None

    # The bridge's admin, with no power in the room, may.
    sent = await operator.send_message(room_id, "!tg unbridge")
    await operator.wait_for_event(room_id, notice_containing("no longer bridged"), after=sent)
