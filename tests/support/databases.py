"""Fresh databases for tests: an SQLite file, or a new PostgreSQL database dropped afterwards.

PostgreSQL is found at $TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/postgres).
When no server answers, PostgreSQL tests skip with that reason; CI sets BRIDGE_REQUIRE_POSTGRES=1,
which turns the skip into a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from bridge.redaction import without_url_passwords
from tests.support.session_log import register_secret

ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
# A password in it (CI may set one) must never reach a log line.
register_secret(make_url(ADMIN_URL).password or "")


async def _admin_connection(admin_url: str) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(admin_url, timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        reason = f"no PostgreSQL server answers at {without_url_passwords(admin_url)}: {error}"
        if os.environ.get("BRIDGE_REQUIRE_POSTGRES"):
            pytest.fail(reason)
        pytest.skip(reason)


@asynccontextmanager
async def postgres_database(admin_url: str = ADMIN_URL) -> AsyncIterator[str]:
    """Create an empty database on the server of ``admin_url``; yield its SQLAlchemy URL; drop it
    afterwards."""
    name = f"bridge_test_{uuid.uuid4().hex[:12]}"
    admin = await _admin_connection(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = admin_url.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}".replace("postgresql://", "postgresql+asyncpg://", 1)
    finally:
        admin = await _admin_connection(admin_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def sqlite_url(directory: Path) -> str:
    return f"sqlite+aiosqlite:///{directory / f'bridge-{uuid.uuid4().hex[:8]}.db'}"


@asynccontextmanager
async def database_url(
    kind: str, directory: Path, admin_url: str = ADMIN_URL
) -> AsyncIterator[str]:
    if kind == "postgresql":
        async with postgres_database(admin_url) as url:
            yield url
    else:
        yield sqlite_url(directory)
