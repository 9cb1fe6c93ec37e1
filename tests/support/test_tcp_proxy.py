"""The proxy that plays a PostgreSQL restart (where the tests may not restart the real one)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from sqlalchemy import make_url

from tests.support.databases import postgres_database
from tests.support.tcp_proxy import TcpProxy


async def test_the_proxy_plays_a_restart_as_postgresql_clients_see_it() -> None:
    async with postgres_database() as url:
        target = make_url(url)
        proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432)
        await proxy.start()
        dsn = f"postgresql://postgres@127.0.0.1:{proxy.port}/{target.database}"
        try:
            connection = await asyncpg.connect(dsn)
            assert await connection.fetchval("SELECT 1") == 1
            outage = asyncio.create_task(proxy.outage(0.5, starting_up=1.0))
            await asyncio.sleep(0.2)
            with pytest.raises((asyncpg.InterfaceError, ConnectionError, OSError)):
                await connection.fetchval("SELECT 1")
            with pytest.raises(OSError):
                await asyncpg.connect(dsn, timeout=2)
            await asyncio.sleep(0.5)
            with pytest.raises(asyncpg.CannotConnectNowError, match="starting up"):
                await asyncpg.connect(dsn, timeout=2)
            await outage
            fresh = await asyncpg.connect(dsn)
            assert await fresh.fetchval("SELECT 2") == 2
            await fresh.close()
        finally:
            await proxy.stop()
