"""An update the bridge cannot read (real Synapse, fake Bot API): a reading that fails for a
reason of the update's own (a bug, stood for here by a reader that raises) is tried a few
times and skipped, its sender told in Telegram, and the bot's updates keep coming; Telegram
out of reach while reading is waited out, and the update arrives."""

from __future__ import annotations

from typing import Any

import pytest
from telegram import Update
from telegram.error import NetworkError

from bridge.network.events import RemoteEvent
from connectors.telegram.unreadable import ATTEMPTS, NOT_READ
from connectors.telegram.updates import UpdateTranslator
from tests.connectors.telegram.conftest import StartTelegramBridge
from tests.connectors.telegram.test_messages import body_is, portal_with_reader
from tests.fakes.telegram import FakeTelegram
from tests.support.fixtures import MakeMatrixUser


def failing_on(
    monkeypatch: pytest.MonkeyPatch, text: str, error: Exception, times: int
) -> list[int]:
    """Reading an update whose message is ``text`` raises ``error``, ``times`` times; the
    list counts the failures."""
    original = UpdateTranslator.events
    failures: list[int] = []

    async def events(self: UpdateTranslator, update: Update) -> list[RemoteEvent]:
        message = update.effective_message
        if message is not None and message.text == text and len(failures) < times:
            failures.append(update.update_id)
            raise error
        return await original(self, update)

    monkeypatch.setattr(UpdateTranslator, "events", events)
    return failures


def bodies(events: list[dict[str, Any]]) -> list[str]:
    return [event.get("content", {}).get("body", "") for event in events]


async def test_an_update_that_cannot_be_read_is_skipped_and_its_sender_told(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    failures = failing_on(monkeypatch, "unreadable", ValueError("read wrongly"), times=100)
    _, alice, group, user, room_id = await portal_with_reader(
        telegram_bridge, fake_telegram, make_matrix_user
    )
    fake_telegram.inject_text(group, alice, "unreadable")
    fake_telegram.inject_text(group, alice, "after it")
    after = await user.wait_for_event(room_id, body_is("after it"), timeout=30)
    assert len(failures) == ATTEMPTS
    assert [s.text for s in fake_telegram.sent_to(group)] == [NOT_READ]
    before = bodies(await user.room_messages(room_id))
    assert "unreadable" not in before[: before.index(after["content"]["body"])]


async def test_telegram_away_while_reading_an_update_is_waited_out(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    away = NetworkError("Telegram cannot be reached")
    failures = failing_on(monkeypatch, "while away", away, times=ATTEMPTS + 1)
    _, alice, group, user, room_id = await portal_with_reader(
        telegram_bridge, fake_telegram, make_matrix_user
    )
    fake_telegram.inject_text(group, alice, "while away")
    await user.wait_for_event(room_id, body_is("while away"), timeout=40)
    assert len(failures) == ATTEMPTS + 1
    assert fake_telegram.sent_to(group) == []
