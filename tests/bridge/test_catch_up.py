"""A Matrix message the homeserver delivers late (Synapse can strand a transaction) does not
get overtaken: the next message finds it in the room's timeline and relays it first."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from bridge.matrix import gaps
from bridge.matrix.gaps import RETRY_SILENCE
from portals.core import BridgeCore
from portals.to_matrix_ids import SOURCE_KEY, bridge_name, mark
from tests.bridge.test_listener_integration import Homeserverish
from tests.conftest import StartBridge
from tests.fakes.fake_network import FakeConnector
from tests.support.as_proxy import reset
from tests.support.bridge_harness import AppserviceSetup
from tests.support.fixtures import MakeMatrixUser
from tests.support.waiting import eventually


async def test_a_late_event_is_relayed_before_the_one_after_it(
    start_bridge: StartBridge,
    make_matrix_user: MakeMatrixUser,
    appservice_setup: AppserviceSetup,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connector = FakeConnector()
    await start_bridge(connector=connector)
    user = await make_matrix_user("writer", displayname="W")
    room_id = await connector.create_portal("late", "Late", [user.user_id])
    await user.join(await user.wait_for_invite())

    # The homeserver's transaction carrying "first" goes missing for now, as when Synapse
    # strands a transaction: the next one comes with the next id, so there is a gap.
    withheld: list[dict[str, Any]] = []
    original = BridgeCore.handle_transaction

    async def withholding(
        self: BridgeCore, txn_id: str, events: list[dict[str, Any]], ephemeral: Any
    ) -> None:
        if any(event.get("content", {}).get("body") == "first" for event in events):
            withheld.extend(events)
            return
        await original(self, txn_id, events, ephemeral)

    monkeypatch.setattr(BridgeCore, "handle_transaction", withholding)
    await user.send_message(room_id, "first")
    for _ in range(100):
        if withheld:
            break
        await asyncio.sleep(0.05)
    assert withheld, "the homeserver delivered the first message"
    await user.send_message(room_id, "second")
    for _ in range(200):
        if len(connector.network.sent) >= 2:
            break
        await asyncio.sleep(0.05)
    assert [m.body for _, m in connector.network.sent] == ["W: first", "W: second"]

    # The late delivery comes at last: it is not relayed again.
    monkeypatch.setattr(BridgeCore, "handle_transaction", original)
    homeserver = Homeserverish(appservice_setup)
    status, _ = await homeserver.request(
        "PUT",
        "/_matrix/app/v1/transactions/late-delivery",
        json.dumps({"events": withheld}).encode(),
    )
    assert status == 200
    # The room's events go in order: once the next message is relayed, the late delivery
    # before it was handled.
    await user.send_message(room_id, "third")
    await eventually(lambda: len(connector.network.sent) >= 3, what="the third relayed")
    assert [m.body for _, m in connector.network.sent] == ["W: first", "W: second", "W: third"]


async def test_marked_events_found_by_the_catch_up_are_told_apart(
    start_bridge: StartBridge,
    make_matrix_user: MakeMatrixUser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # After an upgrade the catch-up's walk through the room brings back double-puppeted
    # messages sent before it, marked the older way (no bridge's name): taken for this
    # bridge's own, as then, they are not relayed a second time. Another bridge's named marker
    # is a user's message like any other and is relayed, in its place.
    connector = FakeConnector()
    running = await start_bridge(connector=connector)
    user = await make_matrix_user("puppeted", displayname="P")
    room_id = await connector.create_portal("marked-late", "Marked late", [user.user_id])
    await user.join(await user.wait_for_invite())

    withheld: list[dict[str, Any]] = []
    original = BridgeCore.handle_transaction

    async def withholding(
        self: BridgeCore, txn_id: str, events: list[dict[str, Any]], ephemeral: Any
    ) -> None:
        marked = [e for e in events if SOURCE_KEY in e.get("content", {})]
        if marked:
            withheld.extend(marked)
            return
        await original(self, txn_id, events, ephemeral)

    monkeypatch.setattr(BridgeCore, "handle_transaction", withholding)
    domain = running.config.homeserver.domain
    other = mark({}, bridge_name("signal", domain), "bridge-01")
    for body, marker in [("older release's", {SOURCE_KEY: "bridge-00"}), ("another's", other)]:
        await user.send_event(
            room_id, "m.room.message", {"msgtype": "m.text", "body": body, **marker}
        )
    await eventually(lambda: len(withheld) == 2, what="both marked messages withheld")
    await user.send_message(room_id, "after them")
    await eventually(lambda: len(connector.network.sent) >= 2, what="the one after relayed")
    # The room's events go in order: had the older marker been relayed, it would be first.
    assert [m.body for _, m in connector.network.sent] == ["P: another's", "P: after them"]


async def test_a_stranded_last_event_is_found_by_the_sweep(
    start_bridge: StartBridge,
    make_matrix_user: MakeMatrixUser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bridge import app

    monkeypatch.setattr(app, "SWEEP_INTERVAL", 0.5)
    connector = FakeConnector()
    await start_bridge(connector=connector)
    user = await make_matrix_user("writer", displayname="W")
    room_id = await connector.create_portal("stranded", "Stranded", [user.user_id])
    await user.join(await user.wait_for_invite())
    await user.send_message(room_id, "delivered")
    for _ in range(200):
        if connector.network.sent:
            break
        await asyncio.sleep(0.05)

    # The homeserver strands the transaction with the room's last message, and no later
    # message of the room reveals it; a later transaction (of another room) shows the gap.
    original = BridgeCore.handle_transaction
    stranded: list[str] = []

    async def stranding(
        self: BridgeCore, txn_id: str, events: list[dict[str, Any]], ephemeral: Any
    ) -> None:
        if any(e.get("content", {}).get("body") == "never delivered" for e in events):
            stranded.append(txn_id)
            return
        await original(self, txn_id, events, ephemeral)

    monkeypatch.setattr(BridgeCore, "handle_transaction", stranding)
    await user.send_message(room_id, "never delivered")
    for _ in range(100):
        if stranded:
            break
        await asyncio.sleep(0.05)
    # A homeserver strands a transaction only while it recovers from a failed delivery, which
    # it retries after a backoff (2 s at the least): the next delivery comes after a silence.
    # Any later transaction then shows the gap: here the echo of a remote message in another
    # portal.
    await asyncio.sleep(RETRY_SILENCE + 0.1)
    await connector.create_portal("elsewhere", "Elsewhere")
    await connector.remote_message("elsewhere", "1", "7", "Else", "a later transaction")
    await eventually(lambda: len(connector.network.sent) >= 2, what="the stranded one relayed")
    # Relayed once: a message after it comes next (the room's events go in order).
    await user.send_message(room_id, "after")
    await eventually(lambda: len(connector.network.sent) >= 3, what="the one after relayed")
    assert [m.body for _, m in connector.network.sent] == [
        "W: delivered",
        "W: never delivered",
        "W: after",
    ]


async def _break_off(setup: AppserviceSetup, txn_id: str, body: bytes) -> None:
    """A transaction's request that breaks off half-way through its body (reset)."""
    _reader, writer = await asyncio.open_connection("127.0.0.1", setup.port)
    head = (
        f"PUT /_matrix/app/v1/transactions/{txn_id} HTTP/1.1\r\nHost: bridge\r\n"
        f"Authorization: Bearer {setup.hs_token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    writer.write(head.encode() + body[: len(body) // 2])
    await writer.drain()
    await asyncio.sleep(0.2)
    reset(writer)


async def test_a_transaction_that_broke_off_is_not_overtaken_by_the_next(
    start_bridge: StartBridge,
    make_matrix_user: MakeMatrixUser,
    appservice_setup: AppserviceSetup,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When a delivery fails, PostgreSQL-backed Synapse may send the transaction it made just
    before it noted the failure at once, and the failed one 2 s later (bridge/matrix/gaps.py):
    the ids skip in a steady flow, as beside another appservice. The bridge saw the failed
    request break off, so the skip is a gap."""
    monkeypatch.setattr(gaps, "RECOVERY", 0.5)  # the steady state soon after the start
    monkeypatch.setattr(gaps, "RETRY_SILENCE", 600.0)  # and no silence counts either
    connector = FakeConnector()
    await start_bridge(connector=connector)
    user = await make_matrix_user("writer", displayname="W")
    room_id = await connector.create_portal("broken", "Broken", [user.user_id])
    await user.join(await user.wait_for_invite())
    await user.send_message(room_id, "before")
    await eventually(lambda: len(connector.network.sent) == 1, what="before")

    # Synapse's delivery of "first" fails on the way: the bridge sees its request break off.
    withheld: list[tuple[str, list[dict[str, Any]]]] = []
    original = BridgeCore.handle_transaction

    async def failing(
        self: BridgeCore, txn_id: str, events: list[dict[str, Any]], ephemeral: Any
    ) -> None:
        if any(event.get("content", {}).get("body") == "first" for event in events):
            withheld.append((txn_id, events))
            return
        await original(self, txn_id, events, ephemeral)

    monkeypatch.setattr(BridgeCore, "handle_transaction", failing)
    await user.send_message(room_id, "first")
    await eventually(lambda: withheld, what="the homeserver sending first")
    txn_id, events = withheld[0]
    await _break_off(appservice_setup, txn_id, json.dumps({"events": events}).encode())
    await user.send_message(room_id, "second")  # the next transaction, at once

    await eventually(
        lambda: "W: second" in [m.body for _, m in connector.network.sent], what="second"
    )
    assert [m.body for _, m in connector.network.sent] == ["W: before", "W: first", "W: second"]
