"""Stopping drains the queues before disconnecting: a send under way when the bridge is told to
stop completes and is recorded, instead of coming back in doubt after the next start."""

from __future__ import annotations

from sqlalchemy import select

from bridge.db.models import Message
from bridge.db.stores import MessageStore
from tests.connectors.telegram.conftest import PLAIN, StartTelegramBridge, open_portal, sent_texts
from tests.fakes.telegram import FakeTelegram
from tests.support.fixtures import MakeMatrixUser
from tests.support.waiting import eventually


async def test_a_send_under_way_at_stop_completes_and_is_recorded(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
) -> None:
    running = await telegram_bridge(overrides=PLAIN)
    user = await make_matrix_user("writer")
    group, _, room_id = await open_portal(fake_telegram, user, "Stopping")
    fake_telegram.faults.delay("sendMessage", 2.0, chat_id=group.id)
    event_id = await user.send_message(room_id, "in flight at stop")
    await eventually(
        lambda: [c for c in fake_telegram.calls_to("sendMessage") if c.fault == "delay"],
        what="the send under way",
    )

    await running.stop()

    assert sent_texts(fake_telegram, group) == ["in flight at stop"]
    async with running.bridge.db.engine.connect() as connection:
        mapped = (
            await connection.execute(select(Message.remote_id).where(Message.mxid == event_id))
        ).all()
    assert [row.remote_id for row in mapped] == [str(fake_telegram.sent_to(group)[-1].message_id)]
    assert await MessageStore(running.bridge.db).in_doubt(event_id) == {}
