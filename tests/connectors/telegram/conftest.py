"""Fixtures for Telegram connector tests: the fake Bot API and a bridge connected to it."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import pytest_asyncio

from connectors.telegram.connector import TelegramConnector
from portals.core import BridgeCore
from tests.conftest import StartBridge
from tests.fakes.telegram import FakeChat, FakeTelegram, FakeUser
from tests.support.bridge_harness import RunningBridge
from tests.support.failures import StoreFailures, fail_next_calls
from tests.support.matrix_client import MatrixTestClient
from tests.support.waiting import eventually

StartTelegramBridge = Callable[..., Awaitable[RunningBridge]]

DOMAIN = "synapse.test"
# Relay Matrix messages as their bare text, so what Telegram got is exactly what was sent.
PLAIN = {
    "bridge.relay.message_formats": {
        "m.text": "{message}",
        "m.notice": "{message}",
        "m.emote": "{message}",
    }
}

_ID_BASES = itertools.count(0, 1000)


@pytest_asyncio.fixture
async def fake_telegram(request: pytest.FixtureRequest) -> AsyncIterator[FakeTelegram]:
    """A fake Bot API whose bot reads all group messages (privacy mode off); the test fails on
    any schema violation in what the bridge sent or the fake answered. Parametrized
    indirectly, the parameter is the path it is served under ("/botapi")."""
    # Ids differ from test to test: the session's homeserver keeps earlier tests' aliases.
    path: str = getattr(request, "param", "")
    fake = FakeTelegram(can_read_all_group_messages=True, id_base=next(_ID_BASES), path=path)
    async with fake:
        yield fake
    fake.assert_no_violations()


@pytest_asyncio.fixture
async def telegram_bridge(
    start_bridge: StartBridge, fake_telegram: FakeTelegram
) -> StartTelegramBridge:
    async def start(
        overrides: dict[str, Any] | None = None,
        database: str | None = None,
        queue_size: int = 256,
        idle_after: float = 60.0,
        health_interval: float = 15.0,
        **telegram: Any,
    ) -> RunningBridge:
        section = {
            "bot_token": fake_telegram.token,
            "api_url": fake_telegram.url,
            "poll_timeout": 1,
            "chat_resync_interval": 0,
            **telegram,
        }
        return await start_bridge(
            connector=TelegramConnector(),
            database=database,
            overrides={"telegram": section, **(overrides or {})},
            queue_size=queue_size,
            idle_after=idle_after,
            health_interval=health_interval,
        )

    return start


def last_update_id(fake: FakeTelegram) -> int:
    update_id: int = fake.updates.created[-1]["update_id"]
    return update_id


def fail_storing(monkeypatch: pytest.MonkeyPatch, times: int) -> StoreFailures:
    """The next ``times`` attempts to store remote events fail as a full disk would; ``left``
    counts down to 0 as they are made."""
    return fail_next_calls(monkeypatch, BridgeCore, ["submit_all"], times)


def confirmed(fake: FakeTelegram, update_id: int) -> bool:
    """Whether the bridge told Telegram it has this update (by polling past it)."""
    return update_id in fake.updates.confirmed


async def bridge_from_telegram(fake: FakeTelegram, chat: FakeChat, admin: FakeUser) -> None:
    """An admin of ``chat`` sends /bridge and the bot answers: the portal's room exists (and
    its alias may be joined, also for a chat that is not public)."""
    fake.inject_text(chat, admin, "/bridge")
    await eventually(
        lambda: any("bridged to Matrix" in (s.text or "") for s in fake.sent_to(chat)),
        what="the answer to /bridge",
    )


async def open_portal(
    fake: FakeTelegram, user: MatrixTestClient, title: str
) -> tuple[FakeChat, FakeUser, str]:
    """A supergroup with one Telegram member, bridged by ``user`` joining its alias."""
    member = fake.add_user(f"{title} member")
    group = fake.add_supergroup(title, members=[member], username=f"g{abs(hash(title)) % 10**8}")
    room_id = await user.join(f"#telegram_{group.id}:{DOMAIN}")
    return group, member, room_id


def sent_texts(fake: FakeTelegram, group: FakeChat) -> list[str]:
    """Texts of the messages Telegram accepted in ``group``, in order."""
    return [s.text or "" for s in fake.sent_to(group) if s.method == "sendMessage"]
