"""Pytest fixtures for tests against a real Synapse (loaded by tests/conftest.py).

Session-scoped fixtures are synchronous: Synapse is a subprocess and start-up waits block, so no
session-scoped event loop is needed. Async fixtures are function-scoped.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest
import pytest_asyncio

from tests.support.matrix_client import MatrixTestClient
from tests.support.synapse import SynapseServer


class MakeMatrixUser(Protocol):
    def __call__(
        self, prefix: str = "user", *, admin: bool = False, displayname: str | None = None
    ) -> Awaitable[MatrixTestClient]: ...


@pytest.fixture(scope="session")
def synapse_appservice_files() -> list[Path]:
    """Appservice registration files for the session homeserver; conftests override this."""
    return []


@pytest.fixture(scope="session")
def synapse(
    tmp_path_factory: pytest.TempPathFactory, synapse_appservice_files: list[Path]
) -> Iterator[SynapseServer]:
    """One Synapse (server_name "synapse.test", room version 12) for the whole session."""
    server = SynapseServer(
        tmp_path_factory.mktemp("synapse"), app_service_config_files=synapse_appservice_files
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def make_synapse(tmp_path: Path) -> Iterator[Callable[..., SynapseServer]]:
    """Factory for extra, started servers (``make_synapse(default_room_version="11")``),
    each in its own dir under tmp_path, all stopped at teardown."""
    servers: list[SynapseServer] = []

    def make(**options: Any) -> SynapseServer:
        server = SynapseServer(tmp_path / f"synapse-{len(servers)}", **options)
        servers.append(server)
        server.start()
        return server

    yield make
    for server in servers:
        server.stop()


@pytest_asyncio.fixture
async def make_matrix_user(synapse: SynapseServer) -> AsyncIterator[MakeMatrixUser]:
    """Factory registering fresh users (``prefix`` + random suffix) on the session server;
    their clients are closed at teardown."""
    clients: list[MatrixTestClient] = []

    async def make(
        prefix: str = "user", *, admin: bool = False, displayname: str | None = None
    ) -> MatrixTestClient:
        localpart = f"{prefix}-{uuid.uuid4().hex[:10]}"
        client = await MatrixTestClient.register(
            synapse, localpart, admin=admin, displayname=displayname
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@pytest_asyncio.fixture
async def matrix_user(make_matrix_user: MakeMatrixUser) -> MatrixTestClient:
    """A fresh registered user on the session server."""
    return await make_matrix_user()
