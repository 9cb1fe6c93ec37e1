"""Webhook mode end to end, with the real Synapse and the fake Bot API posting to the bridge's
listener (through a stand-in for the admin's reverse proxy, as the fake's README says):
updates reach Matrix exactly once and in order, also across a restart and when Telegram posts
one again; a request without the right secret is refused and leaves nothing behind; a failed
store is answered 5xx and the update comes again; switching back to polling deletes the
webhook."""

from __future__ import annotations

import asyncio
import copy
import logging
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

import connectors.telegram.connector as connector_module
from bridge.db.models import RemoteInbox
from bridge.errors import StartupError
from bridge.redaction import REDACTED
from connectors.telegram.polling import ALLOWED_UPDATES
from connectors.telegram.webhook import WebhookBacklog
from tests.connectors.telegram.conftest import (
    StartTelegramBridge,
    confirmed,
    fail_storing,
    last_update_id,
    open_portal,
)
from tests.connectors.telegram.test_health import check, detail, ready, ready_until
from tests.connectors.telegram.test_reactions import reaction_by
from tests.fakes.telegram import FakeTelegram, FakeUser
from tests.support.bridge_harness import AppserviceSetup, RunningBridge
from tests.support.fixtures import MakeMatrixUser
from tests.support.matrix_client import MatrixTestClient
from tests.support.waiting import eventually

DOMAIN = "synapse.test"
PATH = "/telegram/webhook-7f3a"
URL = f"https://bridge.example.test{PATH}"
SECRET = "webhook-secret_for-the-bridge-tests-0123456789"
HEADER = "X-Telegram-Bot-Api-Secret-Token"
WEBHOOK = {"mode": "webhook", "webhook": {"url": URL, "secret_token": SECRET}}


@pytest.fixture
def routed(fake_telegram: FakeTelegram, appservice_setup: AppserviceSetup) -> str:
    """The fake posts to the bridge's listener, as a reverse proxy forwarding URL's path would;
    the listener's address is returned."""
    listener = f"http://127.0.0.1:{appservice_setup.port}"
    fake_telegram.webhook.route_to = listener
    fake_telegram.webhook.retry_delay = 0.1
    return listener


async def texts_in(user: MatrixTestClient, room_id: str, sender: str) -> list[str]:
    """Bodies of the messages ``sender`` wrote in the room, oldest first."""
    events = await user.room_messages(room_id, limit=200)
    return [
        e["content"].get("body", "")
        for e in events
        if e.get("type") == "m.room.message" and e.get("sender") == sender
    ]


async def wait_for_text(user: MatrixTestClient, room_id: str, text: str) -> None:
    await user.wait_for_event(
        room_id, lambda e: e.get("content", {}).get("body") == text, timeout=30
    )


def ghost(user: FakeUser) -> str:
    return f"@telegram_{user.id}:{DOMAIN}"


async def stored_keys(running: RunningBridge) -> set[str]:
    async with running.bridge.db.engine.connect() as connection:
        rows = (await connection.execute(select(RemoteInbox.dedup_key))).all()
    return {row.dedup_key for row in rows}


async def post(listener: str, body: dict[str, Any], headers: dict[str, str]) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{listener}{PATH}", json=body, headers=headers) as response,
    ):
        return response.status


async def test_updates_reach_matrix_through_the_webhook(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
    routed: str,
) -> None:
    await telegram_bridge(**WEBHOOK)
    [call] = fake_telegram.calls_to("setWebhook")
    assert call.params["url"] == URL and call.params["secret_token"] == SECRET
    assert call.params["allowed_updates"] == list(ALLOWED_UPDATES)
    assert call.params["max_connections"] == 1, "one update at a time, in Telegram's order"
    assert call.params.get("drop_pending_updates") in (None, False)
    user = await make_matrix_user("hooked")
    group, member, room_id = await open_portal(fake_telegram, user, "Hooked")

    for text in ("first", "second", "third"):
        fake_telegram.inject_text(group, member, text)
    await wait_for_text(user, room_id, "third")

    assert await texts_in(user, room_id, ghost(member)) == ["first", "second", "third"]
    assert not fake_telegram.calls_to("getUpdates"), "no polling in webhook mode"
    assert fake_telegram.webhook.deliveries
    assert all(d.url == f"{routed}{PATH}" for d in fake_telegram.webhook.deliveries)
    await eventually(lambda: confirmed(fake_telegram, last_update_id(fake_telegram)))


async def test_a_reaction_posted_beside_its_message_comes_after_it(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
    routed: str,
) -> None:
    """Telegram posts a chat's messages and its reactions from two queues (the fake does as
    the official server's WebhookActor): over several connections the reaction may arrive
    before the message it is on, which the bridge has then not bridged yet."""
    await telegram_bridge(**WEBHOOK)
    user = await make_matrix_user("reacting")
    group, member, room_id = await open_portal(fake_telegram, user, "Reacting")
    fake_telegram.set_bot_member(group, "administrator")  # only admins hear of reactions
    fake_telegram.inject_text(group, member, "hello")
    await wait_for_text(user, room_id, "hello")

    # The connection that carries the message is slower than the reaction's.
    fake_telegram.webhook.latency = lambda update: 0.5 if "message" in update else 0.0
    message = fake_telegram.inject_text(group, member, "react to me")
    fake_telegram.inject_reaction(group, member, message["message_id"], ["👍"])

    reaction = await user.wait_for_event(room_id, reaction_by(ghost(member), "👍"), timeout=20)
    bridged = await user.wait_for_event(
        room_id, lambda e: e.get("content", {}).get("body") == "react to me"
    )
    assert reaction["content"]["m.relates_to"]["event_id"] == bridged["event_id"]


async def test_a_request_without_the_right_secret_is_refused_and_stores_nothing(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
    routed: str,
) -> None:
    running = await telegram_bridge(**WEBHOOK)
    user = await make_matrix_user("guarded")
    group, member, room_id = await open_portal(fake_telegram, user, "Guarded")
    fake_telegram.inject_text(group, member, "genuine")
    await wait_for_text(user, room_id, "genuine")

    # A forged update for the same chat, new id and text: only the secret tells it apart.
    forged = copy.deepcopy(fake_telegram.updates.created[-1])
    forged["update_id"] = fake_telegram.updates.next_update_id + 1000
    forged["message"]["message_id"] += 1000
    forged["message"]["text"] = "forged"
    key = f"telegram:update:{forged['update_id']}:0"
    assert await post(routed, forged, {}) == 401
    assert await post(routed, forged, {HEADER: "not-the-secret"}) == 401
    assert await post(routed, forged, {HEADER: SECRET[:-1]}) == 401
    assert key not in await stored_keys(running)

    fake_telegram.inject_text(group, member, "after")
    await wait_for_text(user, room_id, "after")
    assert await texts_in(user, room_id, ghost(member)) == ["genuine", "after"]
    assert key not in await stored_keys(running)

    # With the secret: a body that is no JSON may be a transfer gone wrong (Telegram is asked
    # to send it again); JSON that is no update cannot improve, and is dropped.
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{routed}{PATH}", data=b"{not json", headers={HEADER: SECRET}) as response,
    ):
        assert response.status == 400
    assert await post(routed, {"no": "update"}, {HEADER: SECRET}) == 200

    # The forged body with the secret is taken: it was refused for the secret alone.
    assert await post(routed, forged, {HEADER: SECRET}) == 200
    assert key in await stored_keys(running)
    await wait_for_text(user, room_id, "forged")


async def test_exactly_once_and_in_order_across_a_restart(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
    routed: str,
    db_url: str,
) -> None:
    running = await telegram_bridge(database=db_url, **WEBHOOK)
    user = await make_matrix_user("restarted")
    group, member, room_id = await open_portal(fake_telegram, user, "Restarted")
    fake_telegram.inject_text(group, member, "before 1")
    fake_telegram.inject_text(group, member, "before 2")
    await wait_for_text(user, room_id, "before 2")

    await running.stop()
    fake_telegram.inject_text(group, member, "while down 1")
    fake_telegram.inject_text(group, member, "while down 2")
    await eventually(
        lambda: any(d.error == "Connection refused" for d in fake_telegram.webhook.deliveries),
        what="Telegram finding the bridge down",
    )
    # Telegram posts again an update the bridge had stored (its answer lost, say).
    stored_before = fake_telegram.updates.created[-3]
    assert stored_before["message"]["text"] == "before 2"
    fake_telegram.updates.push_raw(stored_before)

    restarting = asyncio.ensure_future(telegram_bridge(database=db_url, **WEBHOOK))
    await eventually(lambda: len(fake_telegram.calls_to("getMe")) == 2, what="the restart")
    fake_telegram.inject_text(group, member, "during the start")
    await restarting
    fake_telegram.inject_text(group, member, "after")
    await wait_for_text(user, room_id, "after")

    expected = ["before 1", "before 2", "while down 1", "while down 2", "during the start"]
    assert await texts_in(user, room_id, ghost(member)) == [*expected, "after"]
    assert len(fake_telegram.calls_to("setWebhook")) == 2
    assert not fake_telegram.updates.pending
    accepted = [d.update_id for d in fake_telegram.webhook.deliveries if d.accepted]
    assert accepted.count(stored_before["update_id"]) == 2, "posted twice, shown once"


async def test_a_failing_store_is_answered_5xx_and_the_update_comes_again(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
    monkeypatch: pytest.MonkeyPatch,
    routed: str,
) -> None:
    running = await telegram_bridge(**WEBHOOK)
    user = await make_matrix_user("stubborn")
    group, member, room_id = await open_portal(fake_telegram, user, "Stubborn")
    fail_storing(monkeypatch, times=2)
    fake_telegram.inject_text(group, member, "kept safe")
    update_id = last_update_id(fake_telegram)
    fake_telegram.inject_text(group, member, "behind it")
    await wait_for_text(user, room_id, "behind it")

    statuses = [d.status for d in fake_telegram.webhook.deliveries if d.update_id == update_id]
    assert statuses == [503, 503, 200]
    assert await texts_in(user, room_id, ghost(member)) == ["kept safe", "behind it"]
    assert f"telegram:update:{update_id}:0" in await stored_keys(running)


async def test_switching_back_to_polling_deletes_the_webhook(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
    routed: str,
) -> None:
    running = await telegram_bridge(**WEBHOOK)
    user = await make_matrix_user("switched")
    group, member, room_id = await open_portal(fake_telegram, user, "Switched")
    fake_telegram.inject_text(group, member, "by webhook")
    await wait_for_text(user, room_id, "by webhook")
    await running.stop()
    fake_telegram.inject_text(group, member, "waiting at Telegram")

    await telegram_bridge(mode="polling")
    async with fake_telegram.make_bot() as bot:
        info = await bot.get_webhook_info()
    assert info.url == ""
    [delete] = fake_telegram.calls_to("deleteWebhook")
    assert delete.params.get("drop_pending_updates") in (None, False)
    fake_telegram.inject_text(group, member, "by polling")
    await wait_for_text(user, room_id, "by polling")
    assert await texts_in(user, room_id, ghost(member)) == [
        "by webhook",
        "waiting at Telegram",
        "by polling",
    ]
    assert fake_telegram.calls_to("getUpdates")


async def test_a_look_up_waits_until_telegram_holds_no_update(fake_telegram: FakeTelegram) -> None:
    # Nothing reaches the webhook's host here: the update stays pending at Telegram.
    alice = fake_telegram.add_user("Alice")
    async with fake_telegram.make_bot() as bot:
        backlog = WebhookBacklog(bot)
        assert await bot.set_webhook(URL, secret_token=SECRET)
        fake_telegram.inject_text(fake_telegram.private_chat(alice), alice, "held")
        assert not await backlog.wait_caught_up(0.3)
        assert await bot.delete_webhook(drop_pending_updates=True)
        assert await backlog.wait_caught_up(0.3)
        backlog.stopped()
        assert not await backlog.wait_caught_up(0.3)


async def test_the_secret_never_reaches_the_log(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    routed: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG):
        await telegram_bridge(**WEBHOOK)
    # python-telegram-bot logs setWebhook's parameters at DEBUG, the secret among them: the
    # filter on the bridge's log handlers (made from what the connector names) takes it out.
    shown = "\n".join(record.getMessage() for record in caplog.records)
    set_webhook = [line for line in shown.splitlines() if "setWebhook" in line and "{" in line]
    assert set_webhook and all(REDACTED in line for line in set_webhook), set_webhook
    assert SECRET not in shown and fake_telegram.token not in shown


async def test_a_webhook_telegram_refuses_is_one_clear_line(
    telegram_bridge: StartTelegramBridge, fake_telegram: FakeTelegram
) -> None:
    # Allowed by the config with a Local Bot API server (api_url is the fake's), refused here
    # as the official server refuses it.
    refused = {"url": "https://bridge.example.test:8080/hook", "secret_token": SECRET}
    with pytest.raises(StartupError) as failure:
        await telegram_bridge(mode="webhook", webhook=refused)
    message = str(failure.value)
    assert "telegram.webhook.url" in message and "ports 80, 88, 443 or 8443" in message
    assert SECRET not in message and "\n" not in message


async def test_a_webhook_telegram_cannot_set_now_is_set_later(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
    routed: str,
) -> None:
    # A 5xx is passing trouble, not a refusal: the bridge starts and sets the webhook later.
    fake_telegram.faults.server_error("setWebhook", 502, times=2)
    running = await telegram_bridge(**WEBHOOK)
    state = await ready(running)
    assert state[0] == 503 and check(state, "telegram") == {"ok": False}
    assert "cannot be reached" in detail(running, "telegram")
    user = await make_matrix_user("hooked-later")
    await ready_until(running, lambda s: s[0] == 200, "200 once the webhook is set", timeout=30)
    assert [call.status for call in fake_telegram.calls_to("setWebhook")] == [502, 502, 200]
    group, member, room_id = await open_portal(fake_telegram, user, "Hooked later")
    fake_telegram.inject_text(group, member, "through the webhook set late")
    await wait_for_text(user, room_id, "through the webhook set late")


async def test_ready_asks_telegram_now_and_then_in_webhook_mode(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    routed: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Nothing is asked of Telegram in webhook mode while updates come: /ready asks it."""
    monkeypatch.setattr(connector_module, "WEBHOOK_CHECK_INTERVAL", 0.3)
    running = await telegram_bridge(**WEBHOOK)
    state = await ready_until(running, lambda s: s[0] == 200, "200")
    assert check(state, "telegram")["ok"] is True
    fake_telegram.faults.server_error("getWebhookInfo", 502, times=1000)
    state = await ready_until(running, lambda s: s[0] == 503, "503")
    # The listener faces the internet in webhook mode: /ready says Telegram is down, not why.
    assert check(state, "telegram") == {"ok": False}, state
    assert "unreachable" in detail(running, "telegram")
    assert check(state, "homeserver")["ok"] is True, "only Telegram is named"
    fake_telegram.faults.clear()
    state = await ready_until(running, lambda s: s[0] == 200, "200 again")
    assert check(state, "telegram")["ok"] is True
