"""The appservice listener as the homeserver (and anyone else) reaches it: tokens, bad bodies,
repeated transactions (also across a restart), order and isolation of events."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.bridge.test_management_room import notice_containing, open_dm
from tests.conftest import StartBridge
from tests.fakes.fake_network import FakeConnector
from tests.support.bridge_harness import AppserviceSetup
from tests.support.fixtures import MakeMatrixUser
from tests.support.matrix_client import MatrixTestClient

_txn_counter = itertools.count()


class Homeserverish:
    """Sends requests to the bridge the way a homeserver would (or would not)."""

    def __init__(self, setup: AppserviceSetup) -> None:
        self.base = f"http://127.0.0.1:{setup.port}"
        self.hs_token = setup.hs_token

    async def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        token: str | None = "default",
    ) -> tuple[int, dict[str, Any]]:
        headers = {"Content-Type": "application/json"}
        if token == "default":
            token = self.hs_token
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        async with (
            aiohttp.ClientSession() as session,
            session.request(method, self.base + path, data=body, headers=headers) as response,
        ):
            return response.status, await response.json(content_type=None)

    async def transaction(self, txn_id: str, events: list[dict[str, Any]]) -> int:
        import json

        status, _ = await self.request(
            "PUT", f"/_matrix/app/v1/transactions/{txn_id}", json.dumps({"events": events}).encode()
        )
        return status


def message_event(
    room_id: str, sender: str, body: str, event_id: str | None = None
) -> dict[str, Any]:
    return {
        "type": "m.room.message",
        "room_id": room_id,
        "sender": sender,
        "event_id": event_id or f"$test-{uuid.uuid4().hex}",
        "origin_server_ts": int(time.time() * 1000),
        "content": {"msgtype": "m.text", "body": body},
    }


@pytest.fixture
def homeserverish(appservice_setup: AppserviceSetup) -> Homeserverish:
    return Homeserverish(appservice_setup)


async def test_tokens_are_checked_on_every_endpoint(
    start_bridge: StartBridge, homeserverish: Homeserverish
) -> None:
    await start_bridge()
    endpoints = [
        ("PUT", "/_matrix/app/v1/transactions/t1", b'{"events": []}'),
        ("GET", "/_matrix/app/v1/users/%40telegram_1%3Asynapse.test", None),
        ("GET", "/_matrix/app/v1/rooms/%23telegram_1%3Asynapse.test", None),
        ("POST", "/_matrix/app/v1/ping", b"{}"),
    ]
    for method, path, body in endpoints:
        status, error = await homeserverish.request(method, path, body, token=None)
        assert (status, error["errcode"]) == (401, "M_UNAUTHORIZED"), path
        status, error = await homeserverish.request(method, path, body, token="wrong-token")
        assert (status, error["errcode"]) == (403, "M_FORBIDDEN"), path
    # The right token passes.
    status, _ = await homeserverish.request("POST", "/_matrix/app/v1/ping", b"{}")
    assert status == 200
    # Health endpoints need no token.
    status, live = await homeserverish.request("GET", "/_matrix/mau/live", token=None)
    assert (status, live) == (200, {"ok": True})
    status, ready = await homeserverish.request("GET", "/_matrix/mau/ready", token=None)
    assert (status, ready["ok"], ready["checks"]["homeserver"]["ok"]) == (200, True, True)


@pytest.mark.parametrize(
    ("body", "status", "errcode"),
    [
        (b"this is not json", 400, "M_NOT_JSON"),
        (b"\xff\xfe\x00", 400, "M_NOT_JSON"),
        (b"", 400, "M_NOT_JSON"),
        (b"[1, 2]", 400, "M_BAD_JSON"),
        (b'{"events": "nope"}', 400, "M_BAD_JSON"),
        (b'{"events": [], "ephemeral": 5}', 400, "M_BAD_JSON"),
    ],
)
async def test_malformed_transactions_get_a_matrix_error(
    start_bridge: StartBridge,
    homeserverish: Homeserverish,
    body: bytes,
    status: int,
    errcode: str,
) -> None:
    await start_bridge()
    got_status, error = await homeserverish.request(
        "PUT", f"/_matrix/app/v1/transactions/bad-{next(_txn_counter)}", body
    )
    assert (got_status, error["errcode"]) == (status, errcode)
    assert error["error"]
    # The bridge keeps running.
    ping_status, _ = await homeserverish.request("POST", "/_matrix/app/v1/ping", b"{}")
    assert ping_status == 200


async def test_oversized_transaction_gets_413(
    start_bridge: StartBridge, homeserverish: Homeserverish
) -> None:
    running = await start_bridge()
    huge = (
        b'{"events": [], "padding": "'
        + b"x" * (running.config.appservice.max_body_size + 1)
        + b'"}'
    )
    status, error = await homeserverish.request("PUT", "/_matrix/app/v1/transactions/huge", huge)
    assert (status, error["errcode"]) == (413, "M_TOO_LARGE")


async def count_pongs(user: MatrixTestClient, room_id: str) -> int:
    events = await user.room_messages(room_id, limit=200)
    return sum("Pong" in e.get("content", {}).get("body", "") for e in events)


async def settle(user: MatrixTestClient, room_id: str, homeserverish: Homeserverish) -> None:
    """Run one more command through the bridge and wait for its answer: everything before it
    in the room's order has been handled by then."""
    marker = f"marker-{uuid.uuid4().hex[:6]}"
    event = message_event(room_id, user.user_id, f"frobnicate-{marker}")
    assert await homeserverish.transaction(f"settle-{marker}", [event]) == 200
    await user.wait_for_event(room_id, notice_containing(f"frobnicate-{marker}"))


async def test_repeated_transaction_is_handled_once_also_after_restart(
    start_bridge: StartBridge,
    make_matrix_user: MakeMatrixUser,
    homeserverish: Homeserverish,
    tmp_path: Path,
) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'restart.db'}"
    running = await start_bridge(database=database)
    user = await make_matrix_user("txn")
    room_id = await open_dm(user, running.bot)
    ping = message_event(room_id, user.user_id, "ping")

    assert await homeserverish.transaction("txn-A", [ping]) == 200
    await user.wait_for_event(room_id, notice_containing("Pong"))
    assert await homeserverish.transaction("txn-A", [ping]) == 200
    await settle(user, room_id, homeserverish)
    assert await count_pongs(user, room_id) == 1

    await running.stop()
    await start_bridge(database=database)
    assert await homeserverish.transaction("txn-A", [ping]) == 200
    await settle(user, room_id, homeserverish)
    assert await count_pongs(user, room_id) == 1

    # Synapse on SQLite reuses transaction ids after its own restart: a reused id that carries
    # a new event is a new transaction.
    new_ping = message_event(room_id, user.user_id, "ping")
    assert await homeserverish.transaction("txn-A", [new_ping]) == 200
    await settle(user, room_id, homeserverish)
    assert await count_pongs(user, room_id) == 2


async def test_events_keep_order_and_a_failing_event_does_not_drop_the_others(
    start_bridge: StartBridge, make_matrix_user: MakeMatrixUser, homeserverish: Homeserverish
) -> None:
    connector = FakeConnector()
    await start_bridge(connector=connector)
    user = await make_matrix_user("order")
    room_id = await connector.create_portal("ordered", "Ordered", [user.user_id])
    await user.join(await user.wait_for_invite())
    connector.network.crash_on_body = "message 3"

    bodies = [f"message {index}" for index in range(30)]
    events = [message_event(room_id, user.user_id, body) for body in bodies]
    # Unknown event types, events without ids and non-objects ride along and are skipped.
    events.insert(
        5,
        {
            "type": "org.example.unknown",
            "room_id": room_id,
            "sender": user.user_id,
            "event_id": f"$u-{uuid.uuid4().hex}",
            "content": {},
        },
    )
    events.insert(9, {"type": "m.room.message", "content": {"body": "no ids"}})
    assert await homeserverish.transaction(f"order-{uuid.uuid4().hex}", events) == 200

    expected = [body for body in bodies if body != "message 3"]
    for _ in range(150):
        if len(connector.network.sent) >= len(expected):
            break
        await asyncio.sleep(0.1)
    relayed = [message.body.split(": ", 1)[1] for _, message in connector.network.sent]
    assert relayed == expected
    notice = await user.wait_for_event(room_id, notice_containing("not bridged"))
    assert "internal error" in notice["content"]["body"]
