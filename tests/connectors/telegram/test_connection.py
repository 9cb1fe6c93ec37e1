"""The connection to the Bot API: token and privacy checks, Telegram out of reach at start-up
waited for (a refused token is not), what polling asks for, offsets that move only past stored
updates, and a clean stop that confirms them."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from yarl import URL

from bridge.errors import StartupError
from bridge.prometheus_metrics import PrometheusMetrics
from portals.core import BridgeCore
from tests.bridge.test_management_room import notice_containing, open_dm
from tests.connectors.telegram.conftest import (
    PLAIN,
    StartTelegramBridge,
    confirmed,
    fail_storing,
    last_update_id,
    open_portal,
    sent_texts,
)
from tests.connectors.telegram.test_health import check, detail, ready_until
from tests.fakes.telegram import FakeTelegram
from tests.support.fixtures import MakeMatrixUser
from tests.support.ports import free_port
from tests.support.tcp_proxy import TcpProxy
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


@pytest_asyncio.fixture
async def telegram_later(fake_telegram: FakeTelegram) -> AsyncIterator[TcpProxy]:
    """The way to the fake Bot API, closed (connections refused, as for a Telegram out of
    reach) until the test starts it."""
    address = URL(fake_telegram.url)
    assert address.host is not None and address.port is not None
    proxy = TcpProxy(address.host, address.port)
    yield proxy
    await proxy.stop()


def via(proxy: TcpProxy) -> str:
    return f"http://127.0.0.1:{proxy.port}"


async def test_telegram_out_of_reach_at_start_up_is_waited_for(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
    telegram_later: TcpProxy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    running = await telegram_bridge(overrides=PLAIN)
    user = await make_matrix_user("waiting")
    group, member, room_id = await open_portal(fake_telegram, user, "Later")
    await running.stop()

    # Started while Telegram cannot be reached: the start completes (the homeserver's half,
    # its ping included, works), and /ready names Telegram as what is down.
    # Metrics on: the waits are read from them below.
    metrics = {"metrics.enabled": True, "metrics.listen_port": free_port()}
    running = await telegram_bridge(overrides={**PLAIN, **metrics}, api_url=via(telegram_later))
    state = await ready_until(running, lambda s: s[0] == 503, "503")
    telegram = check(state, "telegram")
    assert telegram == {"ok": False}, telegram  # /ready names it; the reason is the admins'
    assert "cannot be reached" in detail(running, "telegram")
    assert check(state, "homeserver")["ok"] is True
    assert any("Cannot reach the Telegram Bot API" in r.getMessage() for r in caplog.records)

    # Matrix messages are taken and wait in order; a command that needs Telegram says so.
    for text in ("first", "second", "third"):
        await user.send_message(room_id, text)
    dm = await open_dm(user, running.bot)
    sent = await user.send_message(dm, "login")
    answer = await user.wait_for_event(dm, notice_containing("cannot be done now"), after=sent)
    assert "not connected to Telegram yet" in answer["content"]["body"]
    # What Telegram holds meanwhile waits there.
    fake_telegram.inject_text(group, member, "from Telegram meanwhile")
    # The chat's first message was tried and is waited with (not refused).
    assert isinstance(running.bridge.metrics, PrometheusMetrics)
    registry = running.bridge.metrics.registry
    waits = {"direction": "matrix_to_remote", "reason": "network_unavailable"}
    await eventually(
        lambda: registry.get_sample_value("bridge_delivery_retries_total", waits),
        what="a wait for Telegram",
    )
    failed = [
        sample
        for metric in registry.collect()
        for sample in metric.samples
        if sample.name == "bridge_messages_failed_total" and sample.value
    ]
    assert not failed, failed

    await telegram_later.start()
    await eventually(
        lambda: sent_texts(fake_telegram, group) == ["first", "second", "third"],
        timeout=90,
        what="the waiting messages, in order",
    )
    await user.wait_for_event(
        room_id, lambda e: e["content"].get("body") == "from Telegram meanwhile"
    )
    state = await ready_until(running, lambda s: s[0] == 200, "200 once Telegram answers")
    assert check(state, "telegram")["ok"] is True


async def test_a_server_error_at_start_up_is_passing_trouble(
    telegram_bridge: StartTelegramBridge, fake_telegram: FakeTelegram
) -> None:
    fake_telegram.faults.server_error("getMe", 502, times=2)
    running = await telegram_bridge()
    await ready_until(
        running,
        lambda s: s[0] == 200 and detail(running, "telegram") == "connected, polling for updates",
        "connected after the 502s",
        timeout=30,
    )
    assert len(fake_telegram.calls_to("getMe")) == 3


async def test_a_token_refused_once_telegram_answers_is_shown_as_refused(
    telegram_bridge: StartTelegramBridge,
    telegram_later: TcpProxy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Out of reach at start-up, the token cannot be checked; once Telegram answers it refuses:
    # the bridge runs already, so the refusal is logged as critical and /ready shows it.
    wrong = "6000000001:AAF-this-is-not-the-token-of-the-bot_99"
    running = await telegram_bridge(bot_token=wrong, api_url=via(telegram_later))
    await ready_until(running, lambda s: s[0] == 503, "503")
    await telegram_later.start()
    state = await ready_until(
        running, lambda _s: detail(running, "telegram").startswith("refused"), "the refusal"
    )
    assert state[0] == 503 and check(state, "telegram") == {"ok": False}
    assert "Telegram refused telegram.bot_token" in detail(running, "telegram")
    critical = [r for r in caplog.records if r.levelno == logging.CRITICAL]
    assert len(critical) == 1 and "Telegram refused telegram.bot_token" in critical[0].getMessage()
    assert wrong not in caplog.text


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
