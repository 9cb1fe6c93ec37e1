"""Webhook mode end to end (the real Synapse, the fake Bot API posting as Telegram's WebhookActor
does, over one connection): an update whose post comes before the one it refers to (its own
failed, and Telegram tried it again behind the other queues) waits for it at Telegram and is
bridged after it, also after a restart; one that refers to something older than what the bridge
knows is taken at once; and a wait has an end."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, cast

import pytest
from telegram import Update as TelegramUpdate

import connectors.telegram.early as early_module
from bridge.network.interface import BridgeContext
from connectors.telegram.early import EarlyUpdates
from tests.connectors.telegram.conftest import StartTelegramBridge, last_update_id, open_portal
from tests.connectors.telegram.test_business import RIGHTS, business_owner
from tests.connectors.telegram.test_messages import body_is
from tests.connectors.telegram.test_reactions import reaction_by
from tests.connectors.telegram.test_webhook import (  # noqa: F401
    WEBHOOK,
    ghost,
    routed,
    wait_for_text,
)
from tests.fakes.telegram import FakeChat, FakeTelegram, FakeUser
from tests.support.fixtures import MakeMatrixUser
from tests.support.matrix_client import MatrixTestClient

Update = dict[str, Any]


def carrying(text: str) -> Callable[[Update], bool]:
    """Updates whose message (of any kind) has this text."""

    def match(update: Update) -> bool:
        return any(
            isinstance(value, dict) and value.get("text") == text for value in update.values()
        )

    return match


def statuses(fake: FakeTelegram, update_id: int) -> list[int | None]:
    """How the posts of one update were answered (None: no answer), in order."""
    return [d.status for d in fake.webhook.deliveries if d.update_id == update_id]


async def reacting_group(
    fake: FakeTelegram, user: MatrixTestClient, title: str
) -> tuple[FakeChat, FakeUser, str, dict[str, Any]]:
    """A portal whose bot is an admin (only admins hear of reactions), with a first message
    bridged; that message is returned last."""
    group, member, room_id = await open_portal(fake, user, title)
    fake.set_bot_member(group, "administrator")
    first = fake.inject_text(group, member, "hello")
    await wait_for_text(user, room_id, "hello")
    return group, member, room_id, first


def from_another_bot(fake: FakeTelegram, group: FakeChat) -> dict[str, Any]:
    """A message of another bot in the group, which the bridge's bot never sees."""
    robot = fake.add_user("Helper", is_bot=True)
    fake.set_member(group, robot)
    return fake.inject_text(group, robot, "from another bot")


async def assert_reaction_follows(
    fake: FakeTelegram,
    user: MatrixTestClient,
    room_id: str,
    member: FakeUser,
    group: FakeChat,
    first: dict[str, Any],
) -> None:
    """``react to me`` loses its first post, and a 👍 on it comes before it; a 👌 on the first
    message is behind the 👍 in the chat's reactions queue: once the 👌 and the message are in
    Matrix, the 👍 had its turn. The 👍 is on the message, after it."""
    fake.webhook.fail(carrying("react to me"))
    message = fake.inject_text(group, member, "react to me")
    fake.inject_reaction(group, member, message["message_id"], ["👍"])
    held = last_update_id(fake)
    fake.inject_reaction(group, member, first["message_id"], ["👌"])
    await user.wait_for_event(room_id, reaction_by(ghost(member), "👌"), timeout=30)
    await wait_for_text(user, room_id, "react to me")

    events = await user.room_messages(room_id)
    order = [event["event_id"] for event in events]
    bridged = next(e for e in events if e.get("content", {}).get("body") == "react to me")
    thumbs = [e for e in events if reaction_by(ghost(member), "👍")(e)]
    on = [e["content"]["m.relates_to"]["event_id"] for e in thumbs]
    assert on == [bridged["event_id"]], "the 👍 was left out, or is on something else"
    assert order.index(bridged["event_id"]) < order.index(thumbs[0]["event_id"])
    assert statuses(fake, held)[0] == 503, "held at Telegram, not stored before its message"
    assert statuses(fake, held)[-1] == 200


async def test_a_reaction_whose_message_failed_waits_for_it(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
    routed: str,  # noqa: F811
) -> None:
    await telegram_bridge(**WEBHOOK)
    user = await make_matrix_user("awaiting")
    group, member, room_id, first = await reacting_group(fake_telegram, user, "Awaiting")
    await assert_reaction_follows(fake_telegram, user, room_id, member, group, first)


async def test_after_a_restart_the_bridge_knows_the_chat_from_its_message_map(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
    routed: str,  # noqa: F811
    db_url: str,
) -> None:
    """After a restart nothing of the chat has come yet: what it bridged tells how new a
    message is."""
    running = await telegram_bridge(database=db_url, **WEBHOOK)
    user = await make_matrix_user("restarting")
    group, member, room_id, first = await reacting_group(fake_telegram, user, "Restarting")
    await running.stop()
    await telegram_bridge(database=db_url, **WEBHOOK)
    await assert_reaction_follows(fake_telegram, user, room_id, member, group, first)


async def test_a_reaction_to_an_older_message_the_bridge_never_saw_is_not_held(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
    routed: str,  # noqa: F811
) -> None:
    """Bots never see other bots' messages in groups: a reaction to one older than a message
    the bridge has is to nothing on its way, and is taken (and left out) at once."""
    await telegram_bridge(**WEBHOOK)
    user = await make_matrix_user("unseen")
    group, member, room_id, first = await reacting_group(fake_telegram, user, "Unseen")
    unseen = from_another_bot(fake_telegram, group)
    fake_telegram.inject_text(group, member, "seen")
    await wait_for_text(user, room_id, "seen")

    fake_telegram.inject_reaction(group, member, unseen["message_id"], ["👍"])
    reaction = last_update_id(fake_telegram)
    fake_telegram.inject_reaction(group, member, first["message_id"], ["👌"])
    await user.wait_for_event(room_id, reaction_by(ghost(member), "👌"))

    assert statuses(fake_telegram, reaction) == [200]
    events = await user.room_messages(room_id)
    assert not [e for e in events if reaction_by(ghost(member), "👍")(e)]


async def test_a_reaction_waits_for_its_message_no_longer_than_the_limit(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
    routed: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Another bot's message newer than all the bridge knows looks like one on its way; it
    never comes, and after the limit the reaction is taken as it is, and left out."""
    monkeypatch.setattr(early_module, "HOLD_LIMIT", 2.0)
    await telegram_bridge(**WEBHOOK)
    user = await make_matrix_user("limited")
    group, member, room_id, first = await reacting_group(fake_telegram, user, "Limited")
    unseen = from_another_bot(fake_telegram, group)

    with caplog.at_level(logging.INFO, logger="connectors.telegram.early"):
        fake_telegram.inject_reaction(group, member, unseen["message_id"], ["👍"])
        reaction = last_update_id(fake_telegram)
        fake_telegram.inject_reaction(group, member, first["message_id"], ["👌"])
        await user.wait_for_event(room_id, reaction_by(ghost(member), "👌"), timeout=30)

    tries = [d for d in fake_telegram.webhook.deliveries if d.update_id == reaction]
    assert [d.status for d in tries][-1] == 200 and {d.status for d in tries[:-1]} == {503}
    assert tries[-1].time - tries[0].time >= 2.0, "held for the limit"
    events = await user.room_messages(room_id)
    assert not [e for e in events if reaction_by(ghost(member), "👍")(e)]
    assert any("which has not come; taken as it is" in r.getMessage() for r in caplog.records)


async def test_a_business_message_waits_for_its_connection(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
    routed: str,  # noqa: F811
) -> None:
    """A business connection's update has a queue of the owner's, its chats' messages one of
    each chat: the connection's post fails, and the first message comes first."""
    running = await telegram_bridge(**WEBHOOK)
    user = await make_matrix_user("shopkeeper", displayname="Shopkeeper")
    owner, _dm = await business_owner(fake_telegram, user, running.bot)
    carol = fake_telegram.add_user("Carol")

    fake_telegram.webhook.fail(lambda update: "business_connection" in update)
    connection = fake_telegram.inject_business_connection(owner, rights=RIGHTS)
    fake_telegram.inject_business_message(connection, carol, "open on Sunday?")
    fake_telegram.inject_business_message(connection, carol, "and on Monday?")
    room_id = await user.wait_for_invite(timeout=30)
    await user.join(room_id)
    await user.wait_for_event(room_id, body_is("and on Monday?"), timeout=30)
    events = await user.room_messages(room_id)
    bodies = [e["content"].get("body") for e in events if e.get("type") == "m.room.message"]
    assert bodies == ["open on Sunday?", "and on Monday?"]


# The decisions alone, table-driven (the bridge's answers stand in for its message map).

CHAT = -1001234


class Mapped:
    """What the bridge answers: the chat's mapped message ids (None: no portal room)."""

    def __init__(self, ids: list[str] | None) -> None:
        self.ids = ids

    async def recent_messages(self, portals: Any, count: int) -> list[str] | None:
        return self.ids

    async def direct_receivers(self, chat: Any) -> list[str]:
        return []


def a_message(message_id: int) -> TelegramUpdate:
    return TelegramUpdate.de_json(
        {
            "update_id": 1,
            "message": {
                "message_id": message_id,
                "date": 0,
                "chat": {"id": CHAT, "type": "supergroup", "title": "T"},
                "text": "x",
            },
        },
        None,
    )


def a_reaction(message_id: int, update_id: int = 2) -> TelegramUpdate:
    return TelegramUpdate.de_json(
        {
            "update_id": update_id,
            "message_reaction": {
                "chat": {"id": CHAT, "type": "supergroup", "title": "T"},
                "message_id": message_id,
                "user": {"id": 5, "is_bot": False, "first_name": "U"},
                "date": 0,
                "old_reaction": [],
                "new_reaction": [{"type": "emoji", "emoji": "👍"}],
            },
        },
        None,
    )


def a_business_message(connection: str) -> TelegramUpdate:
    return TelegramUpdate.de_json(
        {
            "update_id": 3,
            "business_message": {
                "message_id": 1,
                "date": 0,
                "chat": {"id": 5, "type": "private", "first_name": "U"},
                "business_connection_id": connection,
                "text": "x",
            },
        },
        None,
    )


def gate(mapped: list[str] | None, taken: int | None = None) -> EarlyUpdates:
    early = EarlyUpdates(cast(BridgeContext, Mapped(mapped)), lambda c: c == "known")
    if taken is not None:
        early.taken(a_message(taken))
    return early


@pytest.mark.parametrize(
    ("mapped", "taken", "reaction_to", "held"),
    [
        (["12"], 10, 9, False),  # older than what came: from before, or never for the bot
        (["12"], 10, 10, False),
        (["12"], 10, 12, False),  # mapped: the bot's own send, say
        (["12"], 10, 13, True),
        ([], 10, 11, True),
        (["12", "7"], None, 12, False),  # after a restart: what the map holds
        (["12", "7"], None, 13, True),
        ([], None, 13, False),  # nothing known to tell
        (None, None, 13, False),  # no portal room
        (None, 10, 13, False),
    ],
)
async def test_which_reactions_wait(
    mapped: list[str] | None, taken: int | None, reaction_to: int, held: bool
) -> None:
    assert (await gate(mapped, taken).retry_after(a_reaction(reaction_to)) is not None) is held


async def test_a_business_message_waits_only_for_a_connection_not_known() -> None:
    early = gate(None)
    assert await early.retry_after(a_business_message("known")) is None
    assert await early.retry_after(a_business_message("new")) == 1


async def test_waits_grow_and_end_at_the_limit() -> None:
    now = [0.0]
    early = EarlyUpdates(cast(BridgeContext, Mapped([])), lambda _c: True, clock=lambda: now[0])
    early.taken(a_message(10))
    waits = []
    for _ in range(7):
        waits.append(await early.retry_after(a_reaction(11)))
        now[0] += 1
    assert waits == [1, 2, 4, 8, 16, 30, 30]
    now[0] = early_module.HOLD_LIMIT
    assert await early.retry_after(a_reaction(11)) is None
    assert await early.retry_after(a_reaction(11, update_id=9)) is None, "given up for all"
    assert await early.retry_after(a_reaction(12)) == 1, "another message: a wait of its own"
