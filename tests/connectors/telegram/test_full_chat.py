"""A chat whose queue is full never holds up another, in either direction: intake (the poller,
the homeserver's transactions) stores everything at once, the busy chat keeps only a window of
its events in memory and reads the rest back from the store, in order, when it catches up.
Real Synapse, fake Bot API, real PTB client."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select

from bridge.db.models import MatrixInbox, RemoteInbox
from portals.from_matrix import FromMatrix
from portals.portal import Portal
from portals.state import PortalState
from portals.to_matrix import ToMatrix
from tests.connectors.telegram.conftest import PLAIN, StartTelegramBridge, open_portal, sent_texts
from tests.fakes.telegram import FakeTelegram
from tests.support.bridge_harness import RunningBridge
from tests.support.fixtures import MakeMatrixUser
from tests.support.waiting import eventually

QUEUE_SIZE = 4


async def stored(running: RunningBridge, model: Any) -> int:
    async with running.bridge.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def portal_of(running: RunningBridge, room_id: str) -> Portal:
    manager = running.bridge.portals
    assert manager is not None
    portal_id = manager.index.by_room(room_id)
    assert portal_id is not None
    portal = manager.portal(portal_id)
    assert portal is not None
    return portal


def ghost_bodies(events: list[dict[str, Any]]) -> list[str]:
    return [
        e["content"].get("body", "")
        for e in events
        if e.get("type") == "m.room.message" and e.get("sender", "").startswith("@telegram_")
    ]


async def test_a_stalled_chat_does_not_hold_up_telegram_intake_or_another_chat(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    running = await telegram_bridge(queue_size=QUEUE_SIZE)
    user = await make_matrix_user("reader", displayname="Reader")
    busy, busy_member, busy_room = await open_portal(fake_telegram, user, "Busy")
    free, free_member, free_room = await open_portal(fake_telegram, user, "Free")

    # The homeserver side of the busy chat stalls: its worker holds one event and waits.
    release = asyncio.Event()
    handle_event = ToMatrix.handle

    async def stalled(
        self: ToMatrix, portal: PortalState, event: Any, *args: Any, **kwargs: Any
    ) -> bool:
        if portal.room_id == busy_room:
            await release.wait()
        return await handle_event(self, portal, event, *args, **kwargs)

    monkeypatch.setattr(ToMatrix, "handle", stalled)
    try:
        count = 200
        texts = [f"b{index:03d}" for index in range(count)]
        for text in texts:
            fake_telegram.inject_text(busy, busy_member, text)
        busy_updates = [u["update_id"] for u in fake_telegram.updates.created[-count:]]
        fake_telegram.inject_text(free, free_member, "the free chat moves")

        # Intake took everything at once and confirmed it to Telegram...
        await eventually(
            lambda: set(busy_updates) <= set(fake_telegram.updates.confirmed),
            what="every update of the busy chat confirmed",
        )
        # ... the free chat's message arrives while the busy chat is stalled ...
        await user.wait_for_event(
            free_room, lambda e: e.get("content", {}).get("body") == "the free chat moves"
        )
        # ... and the busy chat keeps only its window in memory; the rest waits in the store.
        lane = portal_of(running, busy_room).lane
        assert len(lane) <= QUEUE_SIZE
        assert lane.spilled
        assert await stored(running, RemoteInbox) >= count
    finally:
        release.set()

    # One more after them: once it is in the room, any repeat of theirs would be there too.
    fake_telegram.inject_text(busy, busy_member, "the last")
    await user.wait_for_event(
        busy_room, lambda e: e.get("content", {}).get("body") == "the last", timeout=90
    )
    events = await user.room_messages(busy_room, limit=count + 100)
    assert ghost_bodies(events) == [*texts, "the last"], "all of them, in order, each once"


async def test_a_stalled_chat_does_not_hold_up_the_homeserver_or_another_room(
    telegram_bridge: StartTelegramBridge,
    fake_telegram: FakeTelegram,
    make_matrix_user: MakeMatrixUser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    running = await telegram_bridge(
        queue_size=QUEUE_SIZE,
        overrides=PLAIN,
    )
    user = await make_matrix_user("writer", displayname="Writer")
    busy, _, busy_room = await open_portal(fake_telegram, user, "Busy out")
    free, _, free_room = await open_portal(fake_telegram, user, "Free out")

    release = asyncio.Event()
    handle_event = FromMatrix.handle

    async def stalled(
        self: FromMatrix, portal: PortalState, event: dict[str, Any], *args: Any, **kwargs: Any
    ) -> bool:
        if portal.room_id == busy_room and event.get("type") == "m.room.message":
            await release.wait()
        return await handle_event(self, portal, event, *args, **kwargs)

    monkeypatch.setattr(FromMatrix, "handle", stalled)
    try:
        texts = [f"m{index:02d}" for index in range(5 * QUEUE_SIZE)]
        for text in texts:
            await user.send_message(busy_room, text)
        before = await stored(running, MatrixInbox)
        await user.send_message(free_room, "the free room moves")
        # Synapse delivered (and the bridge answered) what came after the busy room's events,
        # and the free room's message reached Telegram while the busy room is stalled.
        await eventually(
            lambda: "the free room moves" in sent_texts(fake_telegram, free),
            what="the free room's message in Telegram",
            timeout=30,
        )
        assert await stored(running, MatrixInbox) > before
        lane = portal_of(running, busy_room).lane
        assert len(lane) <= QUEUE_SIZE
        assert lane.spilled
        assert sent_texts(fake_telegram, busy) == []
    finally:
        release.set()

    # One more after them: once it is in Telegram, any repeat of theirs would be there too.
    await user.send_message(busy_room, "the last")
    await eventually(
        lambda: "the last" in sent_texts(fake_telegram, busy),
        what="the busy room's messages in Telegram",
        timeout=60,
    )
    assert sent_texts(fake_telegram, busy) == [*texts, "the last"], "in order, each once"
