"""The fault suite's PostgreSQL server: a cluster of its own (see postgres.py), made only when a
test on PostgreSQL runs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.faults.postgres import FaultPostgres, fault_postgres
from tests.support.databases import postgres_database, sqlite_url


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[FaultPostgres]:
    with fault_postgres() as server:
        yield server


@pytest_asyncio.fixture
async def db_url(
    db_kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[str]:
    """The suite-wide fixture's, with PostgreSQL databases on the fault suite's server."""
    if db_kind != "postgresql":
        yield sqlite_url(tmp_path)
        return
    server: FaultPostgres = request.getfixturevalue("postgres_server")
    async with postgres_database(server.admin_url) as url:
        yield url


@pytest.fixture
def postgres_restart(db_kind: str, request: pytest.FixtureRequest) -> list[str] | None:
    """The command that restarts the test's PostgreSQL server for real; None: on SQLite, or the
    restart is played through a proxy."""
    if db_kind != "postgresql":
        return None
    server: FaultPostgres = request.getfixturevalue("postgres_server")
    return server.restart
