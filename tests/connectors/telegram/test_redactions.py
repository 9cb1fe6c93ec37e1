"""Redactions from Matrix delete the Telegram message, every part of it, through a real Synapse
and the fake Bot API; past Telegram's 48 hours the sender is told it stays there."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from bridge.db.models import Message
from tests.connectors.telegram.conftest import PLAIN, StartTelegramBridge
from tests.connectors.telegram.test_messages import portal_with_reader, send_split, sent_texts
from tests.fakes.telegram import FakeTelegram
from tests.support.bridge_harness import RunningBridge
from tests.support.fixtures import MakeMatrixUser
from tests.support.waiting import eventually


async def test_a_redaction_deletes_every_part_and_the_mapping(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    running, _alice, group, user, room_id = await portal_with_reader(
        telegram_bridge, fake_telegram, make_matrix_user, PLAIN
    )
    long_one, parts = await send_split(running, fake_telegram, group, user, room_id, 800, 2)
    await user.redact(room_id, long_one)
    await eventually(lambda: all(part.deleted for part in parts), what="both parts deleted")
    # The map forgets it: a second redaction (or a reply to it) finds nothing to do.
    await user.send_message(room_id, "later")
    await eventually(lambda: len(sent_texts(fake_telegram, group)) == 3, what="the next message")
    for _ in range(100):
        if not await _mapped(running, long_one):
            break
        await asyncio.sleep(0.05)
    assert not await _mapped(running, long_one)
    assert len(fake_telegram.calls_to("deleteMessage")) == 2


async def _mapped(running: RunningBridge, event_id: str) -> bool:
    async with running.bridge.db.session() as session:
        rows = list(await session.scalars(select(Message).where(Message.mxid == event_id)))
    return bool(rows)


async def test_past_48_hours_the_sender_is_told_the_message_stays(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    _running, _alice, group, user, room_id = await portal_with_reader(
        telegram_bridge, fake_telegram, make_matrix_user
    )
    old = await user.send_message(room_id, "from long ago")
    (sent,) = await eventually(lambda: sent_texts(fake_telegram, group))
    fake_telegram.advance_time(49 * 3600)
    redaction = await user.redact(room_id, old)
    notice = await user.wait_for_event(
        room_id, lambda e: "removed here only" in e["content"].get("body", ""), after=redaction
    )
    assert "48 hours" in notice["content"]["body"]
    assert not sent.deleted
