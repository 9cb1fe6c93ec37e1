"""/_matrix/mau/ready and the status command against the real Synapse and the fake Bot API:
down while the homeserver or Telegram cannot be reached, up again after; a dead poller is
started again and reported. /ready names each check and whether it is up, never why (anyone may
ask); why is what the checks tell the status command."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from tests.bridge.test_management_room import notice_containing, open_dm
from tests.connectors.telegram.conftest import StartTelegramBridge
from tests.fakes.telegram import FakeTelegram
from tests.support.bridge_harness import RunningBridge
from tests.support.fixtures import MakeMatrixUser
from tests.support.hs_proxy import HomeserverProxy
from tests.support.synapse import SynapseServer

# Seconds between the bridge's homeserver checks, short for the tests.
INTERVAL = 0.3

Ready = tuple[int, dict[str, Any]]


async def ready(running: RunningBridge) -> Ready:
    url = f"http://127.0.0.1:{running.config.appservice.port}/_matrix/mau/ready"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.json()


async def ready_until(
    running: RunningBridge, wanted: Callable[[Ready], bool], what: str, timeout: float = 20
) -> Ready:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        state = await ready(running)
        if wanted(state):
            return state
        if loop.time() > deadline:
            raise AssertionError(f"/ready never showed {what}; last: {state}")
        await asyncio.sleep(0.1)


def check(state: Ready, name: str) -> dict[str, Any]:
    checks: dict[str, dict[str, Any]] = state[1]["checks"]
    return checks[name]


def detail(running: RunningBridge, name: str) -> str:
    """Why a check is up or down, as the status command tells admins."""
    return {check.name: check.detail for check in running.bridge.health()}[name]


@pytest_asyncio.fixture
async def proxy(synapse: SynapseServer) -> AsyncIterator[HomeserverProxy]:
    proxy = HomeserverProxy(synapse.url)
    await proxy.start()
    yield proxy
    await proxy.stop()


async def test_ready_names_every_check_when_all_is_well(
    telegram_bridge: StartTelegramBridge,
) -> None:
    running = await telegram_bridge(chat_resync_interval=600)
    status, body = await ready_until(
        running,
        lambda _s: detail(running, "telegram") == "connected, polling for updates",
        "the first poll",
    )
    assert status == 200 and body["ok"] is True
    assert set(body["checks"]) == {
        "bridge",
        "homeserver",
        "telegram",
        "task:telegram-polling",
        "task:telegram-resync",
        "task:homeserver-check",
        "task:inbox-marks",
        "task:prune",
        "task:sweep",
        "task:rescan",
    }
    assert all(entry == {"ok": True} for entry in body["checks"].values()), body


async def test_ready_fails_while_the_homeserver_is_unreachable_and_recovers(
    telegram_bridge: StartTelegramBridge, proxy: HomeserverProxy
) -> None:
    running = await telegram_bridge(
        overrides={"homeserver.address": proxy.url}, health_interval=INTERVAL
    )
    assert (await ready(running))[0] == 200
    await proxy.set_mode("refuse")
    state = await ready_until(running, lambda s: s[0] == 503, "503")
    assert check(state, "homeserver") == {"ok": False}, "down, and not why"
    assert detail(running, "homeserver").startswith("unreachable")
    assert check(state, "telegram")["ok"] is True, "only the homeserver is named"
    await proxy.set_mode("pass")
    state = await ready_until(running, lambda s: s[0] == 200, "200 again")
    assert check(state, "homeserver") == {"ok": True}
    assert detail(running, "homeserver") == "reachable"


async def test_ready_fails_while_the_bot_api_fails_and_recovers(
    telegram_bridge: StartTelegramBridge, fake_telegram: FakeTelegram
) -> None:
    running = await telegram_bridge()
    assert (await ready(running))[0] == 200
    fake_telegram.faults.server_error("getUpdates", 502, times=1000)
    state = await ready_until(running, lambda s: s[0] == 503, "503")
    why = detail(running, "telegram")
    assert why == "polling fails (Bad Gateway)", why
    # Anyone may ask /ready: it names the check that is down, never the error's text.
    assert check(state, "telegram") == {"ok": False}, state
    assert all(set(entry) == {"ok"} for entry in state[1]["checks"].values()), state
    assert "Bad Gateway" not in str(state[1]), state
    assert check(state, "homeserver")["ok"] is True, "only Telegram is named"
    fake_telegram.faults.clear()
    state = await ready_until(running, lambda s: s[0] == 200, "200 again")
    assert check(state, "telegram") == {"ok": True}
    assert detail(running, "telegram") == "connected, polling for updates"


async def test_a_poller_that_dies_is_logged_started_again_and_reported(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    caplog: pytest.LogCaptureFixture,
) -> None:
    running = await telegram_bridge()
    # An answer python-telegram-bot cannot read: not a Telegram error, so the poll loop dies.
    fake_telegram.faults.malformed("getUpdates", [{"not_an_update": True}])
    state = await ready_until(
        running,
        lambda _s: "restarted" in detail(running, "task:telegram-polling"),
        "the poller restarted",
    )
    assert state[0] == 200
    assert detail(running, "task:telegram-polling").startswith(
        "running; restarted once, last after: KeyError: 'update_id'"
    )
    failed = [
        r for r in caplog.records if r.getMessage() == "Background task telegram-polling failed"
    ]
    assert len(failed) == 1 and failed[0].levelno == logging.ERROR
    # It polls again: updates still arrive.
    owner = fake_telegram.add_user("Owner")
    group = fake_telegram.add_group("After", owner=owner)
    fake_telegram.inject_text(group, owner, "still polling")
    update_id = fake_telegram.updates.created[-1]["update_id"]
    await ready_until(
        running, lambda _s: update_id in fake_telegram.updates.confirmed, "the update taken"
    )


async def test_status_tells_admins_the_same_in_words(
    telegram_bridge: StartTelegramBridge,
    make_matrix_user: MakeMatrixUser,
    fake_telegram: FakeTelegram,
) -> None:
    admin = await make_matrix_user("boss")
    plain = await make_matrix_user("plain")
    permissions = {"*": "relay", "synapse.test": "user", admin.user_id: "admin"}
    running = await telegram_bridge(overrides={"bridge.permissions": permissions})
    room_id = await open_dm(admin, running.bot)

    await ready_until(running, lambda _s: "polling" in detail(running, "telegram"), "a poll")
    sent = await admin.send_message(room_id, "status")
    answer = await admin.wait_for_event(room_id, notice_containing("The bridge is"), after=sent)
    lines = answer["content"]["body"].splitlines()
    assert lines[0] == "The bridge is ready."
    for line in (
        "OK - Homeserver: reachable",
        "OK - Telegram: connected, polling for updates",
        "OK - background task telegram-polling: running",
        "OK - background task inbox-marks: running",
    ):
        assert line in lines, lines
    assert lines[-1].startswith("Queues: ") and "events in memory" in lines[-1]

    fake_telegram.faults.server_error("getUpdates", 502, times=1000)
    await ready_until(running, lambda s: s[0] == 503, "503")
    sent = await admin.send_message(room_id, "status")
    answer = await admin.wait_for_event(room_id, notice_containing("The bridge is"), after=sent)
    lines = answer["content"]["body"].splitlines()
    assert lines[0] == "The bridge is NOT ready."
    assert any(line.startswith("DOWN - Telegram: polling fails") for line in lines), lines
    fake_telegram.faults.clear()

    # Only for admins.
    plain_room = await open_dm(plain, running.bot)
    sent = await plain.send_message(plain_room, "status")
    refusal = await plain.wait_for_event(plain_room, notice_containing(""), after=sent)
    assert "The bridge is" not in refusal["content"]["body"]
