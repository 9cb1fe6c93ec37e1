"""The ghosts met lately are kept compactly: what the bridge needs of their rows, not the rows
with SQLAlchemy's state (about 1.5 KiB each), which thousands of new senders add up."""

from __future__ import annotations

import gc
import logging
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import ClientSession, web

from bridge import ghosts as ghosts_module
from bridge.db.database import Database
from bridge.db.stores import GhostStore
from bridge.ghosts import GhostManager
from bridge.matrix import intents
from bridge.matrix.client import MatrixClient
from bridge.network.events import RemoteUser
from bridge.network.ids import RemoteUserID
from tests.bridge.test_registration import config_for
from tests.fakes.fake_network import FakeConnector


@pytest_asyncio.fixture
async def accepting_homeserver() -> AsyncIterator[str]:
    """Answers every request 200 {}: registering ghosts and setting their names succeed (the
    test is about what the bridge keeps, not about the homeserver)."""

    async def accept(_request: web.Request) -> web.Response:
        return web.json_response({})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", accept)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def kept_for_new_ghosts(
    db: Database, homeserver: str, tmp_path: Path, first: int, count: int
) -> int:
    """Bytes the bridge still holds after meeting ``count`` new people (past a warm-up with as
    many others), numbered from ``first``."""
    config = config_for(tmp_path, homeserver__address=homeserver).typed(["telegram"])
    async with ClientSession() as session:
        matrix = MatrixClient(config, session)
        ghosts = GhostManager(config, matrix, GhostStore(db, "telegram"), FakeConnector())

        async def meet(first: int) -> None:
            for number in range(first, first + count):
                user = RemoteUser(RemoteUserID(str(number)), f"Person {number}")
                ghost = await ghosts.ensure(user)
                assert ghost.mxid.startswith(f"@telegram_{number}:")

        # Warm: connections, statements, the intents kept, and the bounded caches of the
        # libraries on the way (URL parsing, say) full.
        await meet(first)
        gc.collect()
        # The test run keeps every log record (the session log): not the bridge's memory.
        logging.disable(logging.CRITICAL)
        tracemalloc.start()
        try:
            await meet(first + count)
            gc.collect()
            return tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
            logging.disable(logging.NOTSET)


async def test_a_ghost_met_lately_costs_a_few_hundred_bytes(
    db: Database, accepting_homeserver: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(intents, "MAX_INTENTS", 4, raising=False)  # their cost is apart
    count = 300
    monkeypatch.setattr(ghosts_module, "MAX_CACHED", 1)
    without = await kept_for_new_ghosts(db, accepting_homeserver, tmp_path, 0, count)
    monkeypatch.setattr(ghosts_module, "MAX_CACHED", 10 * count)
    cached = await kept_for_new_ghosts(db, accepting_homeserver, tmp_path, 2 * count, count)
    per_ghost = (cached - without) / count
    assert per_ghost < 600, f"{per_ghost:.0f} bytes per ghost kept"
