"""The connection to the Bot API: token and privacy checks, what polling asks for, offsets that
move only past stored updates, and a clean stop that confirms them."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bridge.errors import StartupError
from portals.core import BridgeCore
from tests.connectors.telegram.conftest import (
    StartTelegramBridge,
    confirmed,
    fail_storing,
    last_update_id,
)
from tests.fakes.telegram import FakeTelegram
from tests.support.fixtures import MakeMatrixUser
from tests.support.waiting import eventually

DOMAIN = "synapse.test"


async def test_a_bad_token_is_one_clear_line(
    telegram_bridge: StartTelegramBridge, fake_telegram: FakeTelegram
) -> None:
    wrong = "6000000001:AAF-this-is-not-the-token-of-the-bot_99"
    with pytest.raises(StartupError) as failure:
        await telegram_bridge(bot_token=wrong)
    message = str(failure.value)
    assert "telegram.bot_token" in message and "@BotFather" in message
    assert wrong not in message and "\n" not in message


async def test_an_unreachable_bot_api_is_one_clear_line(
    telegram_bridge: StartTelegramBridge,
) -> None:
    with pytest.raises(StartupError) as failure:
        await telegram_bridge(api_url="http://127.0.0.1:9")
    assert "telegram.api_url" in str(failure.value)


async def test_privacy_mode_warning(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake_telegram.can_read_all_group_messages = False
    with caplog.at_level(logging.WARNING, logger="connectors.telegram"):
        await telegram_bridge()
    warnings = [r.getMessage() for r in caplog.records if "privacy mode" in r.getMessage()]
    assert len(warnings) == 1
    assert "@BotFather" in warnings[0] and "Group Privacy" in warnings[0]


async def test_no_privacy_warning_when_the_bot_reads_everything(
    telegram_bridge: StartTelegramBridge, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="connectors.telegram"):
        await telegram_bridge()
    assert not [r for r in caplog.records if "privacy mode" in r.getMessage()]


async def test_polling_asks_for_the_updates_a_bridge_needs(
    telegram_bridge: StartTelegramBridge, fake_telegram: FakeTelegram
) -> None:
    await telegram_bridge()
    poll = await eventually(lambda: fake_telegram.updates.polls, what="a getUpdates call")
    assert set(poll[0].allowed_updates or []) >= {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "message_reaction",
        "chat_member",
        "my_chat_member",
    }
    assert fake_telegram.calls_to("deleteWebhook"), "polling needs the webhook off"


async def test_offset_moves_only_past_stored_updates(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    running = await telegram_bridge()
    owner = fake_telegram.add_user("Owner")
    group = fake_telegram.add_supergroup("Durable", owner=owner, username="durable")
    user = await make_matrix_user("reader")
    room_id = await user.join(f"#telegram_{group.id}:{DOMAIN}")

    # The database refuses to store the next remote event: the update must not be confirmed,
    # and must arrive once storing works again.
    core = running.bridge.core
    assert core is not None
    failures = fail_storing(monkeypatch, times=3)
    fake_telegram.inject_text(group, owner, "kept safe")
    update_id = last_update_id(fake_telegram)
    await eventually(lambda: failures.left == 0, what="three failed attempts")
    assert not confirmed(fake_telegram, update_id)
    await user.wait_for_event(
        room_id, lambda e: e["content"].get("body") == "kept safe", timeout=30
    )
    await eventually(lambda: confirmed(fake_telegram, update_id), what="the confirmation")


async def test_a_batch_of_updates_is_stored_together_with_a_command_run_once_in_its_place(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    running = await telegram_bridge()
    owner = fake_telegram.add_user("Owner")
    group = fake_telegram.add_supergroup("Batched", owner=owner, username="batched")
    user = await make_matrix_user("reader")
    room_id = await user.join(f"#telegram_{group.id}:{DOMAIN}")
    assert running.bridge.core is not None

    # What reaches the store, call by call; the first call after the command fails once.
    original = BridgeCore.submit_all
    calls: list[list[str]] = []
    failures = {"left": 1}

    async def recording_submit(self: BridgeCore, events: Any) -> list[bool]:
        calls.append([key for _event, key in events])
        if len(calls) == 2 and failures["left"]:
            failures["left"] -= 1
            raise OSError("disk full")
        return await original(self, events)

    monkeypatch.setattr(BridgeCore, "submit_all", recording_submit)
    # One getUpdates answer: the poller is woken once these are all in.
    fake_telegram.inject_text(group, owner, "one")
    fake_telegram.inject_text(group, owner, "two")
    fake_telegram.inject_text(fake_telegram.private_chat(owner), owner, "/start")
    start_id = last_update_id(fake_telegram)
    fake_telegram.inject_text(group, owner, "three")
    last_id = last_update_id(fake_telegram)

    texts: dict[str, str] = {}  # event id -> text, in the order seen

    def relayed(event: dict[str, Any]) -> bool:
        body = event.get("content", {}).get("body")
        if event.get("type") == "m.room.message" and body in ("one", "two", "three"):
            texts.setdefault(event["event_id"], body)
        return bool(body == "three")

    await user.wait_for_event(room_id, relayed, timeout=30)
    assert list(texts.values()) == ["one", "two", "three"]
    # The two messages before the command went to the store in one call; the one after it
    # failed once and came again, without the command, which had run and was confirmed.
    assert calls[0] == [f"update:{start_id - 2}:0", f"update:{start_id - 1}:0"]
    assert calls[1] == calls[2] == [f"update:{last_id}:0"]
    assert len(fake_telegram.sent_to(owner)) == 1, "the command answered once"
    await eventually(lambda: confirmed(fake_telegram, last_id), what="the confirmation")


async def test_stop_confirms_the_offset(
    telegram_bridge: StartTelegramBridge, fake_telegram: FakeTelegram
) -> None:
    running = await telegram_bridge()
    owner = fake_telegram.add_user("Owner")
    group = fake_telegram.add_group("Stopping", owner=owner)
    fake_telegram.inject_text(group, owner, "last words")
    update_id = last_update_id(fake_telegram)
    await eventually(
        lambda: any(update_id in poll.returned for poll in fake_telegram.updates.polls),
        what="the update fetched",
    )
    await running.stop()
    assert confirmed(fake_telegram, update_id)
    last_poll = fake_telegram.updates.polls[-1]
    assert last_poll.offset == update_id + 1 and last_poll.timeout == 0


async def test_the_bot_token_never_reaches_the_log(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from bridge.logging_setup import SecretFilter

    running = await telegram_bridge()
    secret_filter = SecretFilter(running.connector.secrets())
    caplog.handler.addFilter(secret_filter)
    with caplog.at_level(logging.DEBUG):
        owner = fake_telegram.add_user("Owner")
        group = fake_telegram.add_group("Logs", owner=owner)
        fake_telegram.inject_text(group, owner, "something to log")
        update_id = last_update_id(fake_telegram)
        await eventually(lambda: confirmed(fake_telegram, update_id))
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "getUpdates" in text, "the HTTP client logged its requests"
    assert fake_telegram.token not in text
