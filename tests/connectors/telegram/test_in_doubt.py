"""A part whose send began but was never recorded (the bridge died, or Telegram's answer was
lost) is looked for in the chat before it is sent again: found, it is recorded, not repeated."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from bridge.db.models import Message, OutgoingIntent
from bridge.db.stores import MessageStore
from tests.connectors.telegram.conftest import StartTelegramBridge
from tests.fakes.telegram import FakeTelegram, Sent
from tests.support.bridge_harness import RunningBridge
from tests.support.fixtures import MakeMatrixUser
from tests.support.waiting import eventually

DOMAIN = "synapse.test"


def sent_texts(fake: FakeTelegram, group: Any) -> list[Sent]:
    return [s for s in fake.sent_to(group) if s.method.lower() == "sendmessage"]


async def nothing_in_doubt(running: RunningBridge) -> bool:
    """Every part noted as leaving was recorded (notes of recorded parts may stay until they
    are pruned: they no longer count)."""
    store = MessageStore(running.bridge.db)
    for intent in await rows(running, OutgoingIntent):
        if await store.in_doubt(intent.mxid):
            return False
    return True


async def rows(running: RunningBridge, model: Any) -> list[Any]:
    async with running.bridge.db.session() as session:
        return list(await session.scalars(select(model)))


async def test_a_part_that_reached_telegram_is_found_not_sent_again(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    running = await telegram_bridge()
    alice = fake_telegram.add_user("Alice")
    group = fake_telegram.add_supergroup("Doubts", members=[alice], username="doubts")
    user = await make_matrix_user("writer", displayname="W")
    room_id = await user.join(f"#telegram_{group.id}:{DOMAIN}")
    fake_telegram.inject_text(group, alice, "known before")
    await user.wait_for_event(room_id, lambda e: e["content"].get("body") == "known before")

    # The bridge "dies" after Telegram took the message and before it was recorded; meanwhile
    # others write in the chat, so the look-up has to pass their messages.
    original = MessageStore.add
    failed: list[tuple[Any, ...]] = []

    async def add_once_failing(self: MessageStore, *args: Any, **kwargs: Any) -> bool:
        if kwargs.get("sender_mxid") == user.user_id and not failed:
            failed.append(args)
            fake_telegram.inject_text(group, alice, "meanwhile 1")
            fake_telegram.inject_text(group, alice, "meanwhile 2")
            raise OSError("the database went away")
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(MessageStore, "add", add_once_failing)
    event_id = await user.send_message(room_id, "only once please")
    await eventually(lambda: failed, what="the failed recording")
    mapped: list[Message] = []
    for _ in range(300):
        mapped = [row for row in await rows(running, Message) if row.mxid == event_id]
        if mapped:
            break
        await asyncio.sleep(0.05)
    sent = sent_texts(fake_telegram, group)
    assert [s.text for s in sent] == ["W: only once please"]
    assert [row.remote_id for row in mapped] == [str(sent[0].message_id)]
    assert await nothing_in_doubt(running)
    # The look-up's button is gone again; only the look-up touched the message.
    assert "reply_markup" not in sent[0].message
    assert len(sent[0].edits) == 2
    await user.send_message(room_id, "and the next one")
    await eventually(lambda: len(sent_texts(fake_telegram, group)) == 2)


async def test_a_part_telegram_never_got_is_sent_again_once(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    running = await telegram_bridge(request_timeout=2)
    alice = fake_telegram.add_user("Alice")
    group = fake_telegram.add_supergroup("Lost answers", members=[alice], username="lost")
    user = await make_matrix_user("writer", displayname="W")
    room_id = await user.join(f"#telegram_{group.id}:{DOMAIN}")
    fake_telegram.inject_text(group, alice, "known before")
    await user.wait_for_event(room_id, lambda e: e["content"].get("body") == "known before")

    # Telegram never answers the first try (and, in the fake, never took it).
    fake_telegram.faults.hang("sendMessage", times=1)
    await user.send_message(room_id, "after a timeout")
    arrived = await eventually(lambda: sent_texts(fake_telegram, group), timeout=20)
    assert [s.text for s in arrived] == ["W: after a timeout"]
    await eventually(lambda: len(fake_telegram.calls_to("sendMessage")) >= 2)
    # The chat's messages go in order: once the next one is in Telegram, a second send of the
    # first (if the bridge were to make one) would be there before it.
    await user.send_message(room_id, "the next one")
    await eventually(lambda: len(sent_texts(fake_telegram, group)) >= 2, what="the next one")
    assert [s.text for s in sent_texts(fake_telegram, group)] == [
        "W: after a timeout",
        "W: the next one",
    ]
    assert fake_telegram.calls_to("editMessageReplyMarkup"), "it looked before sending again"
    assert await nothing_in_doubt(running)
