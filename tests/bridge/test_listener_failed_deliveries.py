"""The listener tells the core of every transaction it did not store, and of one the homeserver
gave up on (another came while it was still in hand): the homeserver sends such a one again,
perhaps after newer ones (bridge/matrix/gaps.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from bridge.health import HealthCheck
from bridge.matrix.listener import AppserviceListener
from tests.support.as_proxy import reset
from tests.support.ports import free_port

TOKEN = "hs-token-for-the-listener-tests"


class Sink:
    """The core's side, recording what the listener tells it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.hold: dict[str, asyncio.Event] = {}  # transaction id: released when set
        self.fail: set[str] = set()

    async def handle_transaction(
        self, txn_id: str, events: list[dict[str, Any]], ephemeral: list[dict[str, Any]]
    ) -> None:
        self.calls.append(("handle", txn_id))
        if txn_id in self.hold:
            await self.hold[txn_id].wait()
        if txn_id in self.fail:
            raise RuntimeError("the database is away")
        self.calls.append(("stored", txn_id))

    def delivery_failed(self, txn_id: str) -> None:
        self.calls.append(("failed", txn_id))

    async def query_user(self, user_id: str) -> bool:
        return False

    async def query_alias(self, alias: str) -> bool:
        return False

    def pinged(self, transaction_id: str | None) -> None:
        pass

    def health(self) -> list[HealthCheck]:
        return []


@pytest_asyncio.fixture
async def listening() -> AsyncIterator[tuple[Sink, str, int]]:
    sink = Sink()
    port = free_port()
    listener = AppserviceListener(TOKEN, sink, "127.0.0.1", port, 1 << 20)
    await listener.start()
    try:
        yield sink, f"http://127.0.0.1:{port}", port
    finally:
        await listener.stop()


async def put(base: str, txn_id: str, body: bytes) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.put(
            f"{base}/_matrix/app/v1/transactions/{txn_id}",
            data=body,
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        ) as response,
    ):
        return response.status


EMPTY = json.dumps({"events": []}).encode()


async def test_a_stored_transaction_is_no_failure(listening: tuple[Sink, str, int]) -> None:
    sink, base, _ = listening
    assert await put(base, "7", EMPTY) == 200
    assert sink.calls == [("handle", "7"), ("stored", "7")]


@pytest.mark.parametrize(
    ("body", "fail", "status"),
    [(b"{not json", False, 400), (b'{"events": 3}', False, 400), (EMPTY, True, 503)],
    ids=["not-json", "not-a-list", "not-stored"],
)
async def test_a_refused_or_unstored_transaction_is_a_failure(
    listening: tuple[Sink, str, int], body: bytes, fail: bool, status: int
) -> None:
    sink, base, _ = listening
    if fail:
        sink.fail.add("8")
    assert await put(base, "8", body) == status
    assert sink.calls[-1] == ("failed", "8")


async def test_a_request_that_breaks_off_is_a_failure(listening: tuple[Sink, str, int]) -> None:
    sink, _, port = listening
    _reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"PUT /_matrix/app/v1/transactions/9 HTTP/1.1\r\nHost: bridge\r\n"
        + f"Authorization: Bearer {TOKEN}\r\n".encode()
        + b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
        + b'{"events": ['
    )
    await writer.drain()
    await asyncio.sleep(0.1)
    reset(writer)
    for _ in range(100):
        if sink.calls:
            break
        await asyncio.sleep(0.02)
    assert sink.calls == [("failed", "9")]


async def test_the_next_transaction_while_one_is_in_hand_means_it_was_given_up(
    listening: tuple[Sink, str, int],
) -> None:
    """The homeserver sends an appservice one transaction at a time: the next one arriving
    means it stopped waiting for the answer (a timeout, a broken connection on the way)."""
    sink, base, _ = listening
    sink.hold["10"] = asyncio.Event()
    slow = asyncio.ensure_future(put(base, "10", EMPTY))
    for _ in range(100):
        if sink.calls:
            break
        await asyncio.sleep(0.02)
    # The same transaction again (a retry overlapping the first attempt) is no sign.
    again = asyncio.ensure_future(put(base, "10", EMPTY))
    await asyncio.sleep(0.2)
    assert ("failed", "10") not in sink.calls
    assert await put(base, "11", EMPTY) == 200
    assert sink.calls[-3:] == [("failed", "10"), ("handle", "11"), ("stored", "11")]
    sink.hold["10"].set()
    assert await slow == 200 and await again == 200
